// ClusterView: what the status page and the metrics address's debug routes read of the cluster,
// and nothing more (ClusterNode implements it; metrics depends on this, not on ClusterNode).
//
// Loop thread only, like ClusterNode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace spegel::cluster {

// What the membership did since start (Membership's counters).
struct MembershipEvents {
  uint64_t joins = 0;             // members that joined or restarted
  uint64_t expirations = 0;       // dropped: nothing from their addresses refreshed them
  uint64_t goodbyes = 0;          // dropped: said goodbye
  uint64_t replacements = 0;      // dropped: another id joined at their address
  uint64_t unlisted_refused = 0;  // hellos from an address no discovery source names
};

// One other node as this node knows it.
struct MemberView {
  std::string node_id;
  uint64_t incarnation = 0;
  std::string address;  // the preferred address ("" if none is known yet)
  uint16_t registry_port = 0;
  std::string sources;  // how it was learned: "mdns", "dns", "static", "peer", "http", comma-joined
  uint64_t age_ms = 0;  // since this incarnation was first seen
  uint64_t expires_in_ms = 0;
  bool avoided = false;  // failed a request lately: not asked as owner or provider for now
};

class ClusterView {
 public:
  virtual const std::string& self_id() const = 0;
  // Every other live member, in no particular order.
  virtual std::vector<MemberView> Members() const = 0;
  // Messages seen from another node using this node's id (Membership::ReportCollision).
  virtual uint64_t node_id_collisions() const = 0;
  // Times this node moved to a fallback id because its default id was taken.
  virtual uint64_t node_id_renames() const = 0;
  // Messages refused because they named a member from an address it is not bound to.
  virtual uint64_t foreign_refused() const = 0;
  virtual MembershipEvents membership_events() const = 0;
  // At most `max` claims this node answers as their key's owner: {key, description}.
  virtual std::vector<std::pair<std::string, std::string>> OwnedClaims(size_t max) const = 0;
  // /debug/members: this node and every member, as JSON.
  virtual std::string MembersJson() const = 0;
  // /debug/routing: counters; with a key, its owners, this node's own provider entries and a
  // live lookup (bounded by `timeout_ms`). `done` runs on the loop thread, never inline.
  virtual void RoutingJson(const std::string& key, uint64_t timeout_ms,
                           std::function<void(std::string)> done) = 0;

 protected:
  ~ClusterView() = default;
};

}  // namespace spegel::cluster
