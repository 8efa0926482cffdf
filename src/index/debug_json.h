// The /debug/index document: readiness, containerd state and every image, blob and tag this
// node would serve. Served on the registry and the metrics address alike.
#pragma once

#include <string>

#include "index/index.h"
#include "index/syncer.h"

namespace spegel::index {

// Loop thread only (reads the Index and the Syncer).
std::string DebugIndexJson(const Index& index, const Syncer& syncer);

}  // namespace spegel::index
