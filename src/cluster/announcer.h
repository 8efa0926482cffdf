// Announcer: keeps the router's local keys equal to the keys of the images the announce policy
// allows, by following the index's key changes (index::IndexListener). Never recomputes the
// whole key set: each change costs what it touched.
//
//   Syncer ─(walks)─▶ Index ─OnKeysChanged─▶ Announcer ─(add, remove)─▶ Router
//
// A key (a blob digest or a tag key) is announced while at least one allowed image lists it, so
// a layer shared by an allowed and a filtered image stays announced. One batch of changes gives
// at most one call of the sink, with the net effect: a key that one image drops and another
// adds in the same batch is neither added nor removed.
//
// Ownership and threading: owned by the daemon; loop thread only (where the index is mutated).
// The policy is fixed for the Announcer's life.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/index.h"

namespace spegel::cluster {

class Announcer : public index::IndexListener {
 public:
  // Whether an image's keys may be announced (e.g. the registry filters).
  using Policy = std::function<bool(const index::ImageWalk&)>;
  // Receives the net change of the announced set; called synchronously from OnKeysChanged.
  using Sink = std::function<void(const std::vector<std::string>& add,
                                  const std::vector<std::string>& remove)>;

  Announcer(Policy allow, Sink sink) : allow_(std::move(allow)), sink_(std::move(sink)) {}

  void OnKeysChanged(const std::vector<index::ImageKeyChange>& changes) override;

  // Keys announced now.
  size_t key_count() const { return refs_.size(); }
  bool announces(std::string_view key) const { return refs_.find(key) != refs_.end(); }

 private:
  // Heterogeneous lookup: find a std::string key by string_view without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  Policy allow_;
  Sink sink_;
  // Key -> allowed images that list it.
  std::unordered_map<std::string, uint32_t, KeyHash, std::equal_to<>> refs_;
};

}  // namespace spegel::cluster
