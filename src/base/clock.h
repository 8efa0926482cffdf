// Wall-clock time, for values that travel between nodes or into logs (incarnations, record
// times). Durations and timers use the loop's monotonic clock instead (loop/loop.h).
//
// Thread-safe.
#pragma once

#include <cstdint>

namespace spegel {

// Milliseconds since the Unix epoch, from the system clock.
uint64_t UnixNowMs();

}  // namespace spegel
