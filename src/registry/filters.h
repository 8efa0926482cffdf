// RegistryFilters: which references this node announces to the cluster and serves.
//
//   --mirrored-registries URL,…   only these registries (empty, `_default` or `*` = all)
//   --registry-filters REGEX,…    a reference matching any of these is filtered out
//                                  (ECMAScript syntax, searched anywhere, e.g. `:latest$`)
// A reference is "registry/repository[:tag]" (e.g. "docker.io/library/nginx:1.25"). An image
// whose name is filtered contributes nothing to the announced keys (neither its tag nor its
// blobs, unless another, allowed image references them), and requests naming it get 404, so
// containerd resolves it upstream.
//
// Immutable after Create(); thread-compatible.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "index/index.h"

namespace spegel::registry {

class RegistryFilters {
 public:
  RegistryFilters() = default;  // allows everything
  // Errors (InvalidArgument) name the flag and the bad value: an invalid URL or regex.
  static Result<RegistryFilters> Create(const std::vector<std::string>& mirrored_registries,
                                        const std::vector<std::string>& regexes);

  // Whether `reference` may be announced and served.
  bool Allows(std::string_view reference) const;
  // Whether requests for `registry` (a host[:port] as in ns=) are mirrored at all.
  bool AllowsRegistry(std::string_view registry) const;
  // Whether an indexed image may be announced: Allows() of its tag key, or of its name when it
  // has no tag (the announce policy).
  bool AllowsImage(const index::ImageWalk& image) const;
  bool empty() const { return registries_.empty() && regexes_.empty(); }

 private:
  std::vector<std::string> registries_;  // authorities; empty = every registry
  std::shared_ptr<const std::vector<std::regex>> regexes_holder_;
  std::vector<std::string> regexes_;  // source text, for logs
};

}  // namespace spegel::registry
