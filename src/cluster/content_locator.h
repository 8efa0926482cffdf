// ContentLocator: what the cluster offers the layers above it — where a piece of content can be
// found. The registry's peer fetch asks it on a local miss; ClusterNode implements it with router
// lookups.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::cluster {

// A node that announced a key: where to fetch it.
struct Provider {
  std::string node_id;
  std::string address;  // IP literal, from the socket of the announce (never from a body).
  uint16_t registry_port = 0;
  bool operator==(const Provider&) const = default;
};

class ContentLocator {
 public:
  virtual ~ContentLocator() = default;
  // Providers of `key` (a digest string or "registry/repo:tag"), best first, never this node.
  // `done` runs once on the loop thread, never inline, within the locator's own budget.
  virtual void FindProviders(const std::string& key,
                             std::function<void(std::vector<Provider>)> done) = 0;
  // `provider` failed or served wrong bytes: avoid it for a while.
  virtual void ReportBadProvider(const Provider& provider, std::string_view why) = 0;
};

}  // namespace spegel::cluster
