#include "cluster/announcer.h"

namespace spegel::cluster {

void Announcer::OnKeysChanged(const std::vector<index::ImageKeyChange>& changes) {
  // Whether each touched key was announced before this batch, to report only the net change.
  std::unordered_map<std::string_view, bool> touched;
  for (const auto& change : changes) {
    if (change.image == nullptr || !allow_(*change.image)) continue;
    for (const std::string_view key : change.removed) {
      auto it = refs_.find(key);
      if (it == refs_.end()) continue;  // Listed by no allowed image: nothing to take back.
      touched.emplace(key, true);
      if (--it->second == 0) refs_.erase(it);
    }
    for (const std::string_view key : change.added) {
      auto [it, inserted] = refs_.try_emplace(std::string(key), 0);
      touched.emplace(key, !inserted);
      ++it->second;
    }
  }
  std::vector<std::string> add;
  std::vector<std::string> remove;
  for (const auto& [key, was_announced] : touched) {
    const bool announced = refs_.find(key) != refs_.end();
    if (announced && !was_announced) add.emplace_back(key);
    if (!announced && was_announced) remove.emplace_back(key);
  }
  if (!add.empty() || !remove.empty()) sink_(add, remove);
}

}  // namespace spegel::cluster
