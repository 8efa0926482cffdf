// What ClusterNode shows as a ClusterView (cluster_view.h): the member list, the claims it owns,
// and the JSON of /debug/members and /debug/routing. Built from the parts handed in; nothing here
// keeps state or calls out.
//
// Threading: the loop thread, like the parts read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/claim_client.h"
#include "cluster/claim_table.h"
#include "cluster/cluster_view.h"
#include "cluster/content_locator.h"
#include "cluster/provider_lookups.h"
#include "cluster/router.h"
#include "http/connection_pool.h"
#include "membership/member.h"
#include "membership/membership.h"

namespace spegel::cluster {

// Every live member of `membership`, as of `now_ms`.
std::vector<MemberView> MemberViews(const Membership& membership, uint64_t now_ms);
// At most `max` claims of `claims`: {key, ClaimTable::Describe}.
std::vector<std::pair<std::string, std::string>> OwnedClaimViews(const ClaimTable& claims,
                                                                 size_t max, uint64_t now_ms);
// /debug/members: this node (`self`, listening for the router API on `router_port`, moved to a
// fallback id `renames` times) and every live member.
std::string BuildMembersJson(const MemberInfo& self, uint16_t router_port,
                             const Membership& membership, uint64_t renames, uint64_t now_ms);

// The counters /debug/routing shows.
struct RoutingCounters {
  RouterStats router;
  ProviderLookupsStats locator;
  ClaimClientStats claims_asked;  // As the asking node.
  ClaimStats claims_owned;        // As the owner of keys.
  // The keep-alive pool router calls use; it is shared with peer fetches. None: no pool.
  std::optional<http::ConnectionPoolStats> pool;
};

// /debug/routing, built in the order its parts become known: the counters, then for a key what
// this node knows of it, then what a live lookup found. Finish() closes the object.
class RoutingJsonBuilder {
 public:
  RoutingJsonBuilder(std::string_view node_id, size_t members, const RoutingCounters& counters);

  // Why no key part follows (a key that is not valid).
  void AddError(std::string_view error);
  // The key's owners (best first), this node's own provider entries for it, and the description
  // of its claim here (ClaimTable::Describe; empty if none).
  void AddKey(std::string_view key, const std::vector<std::string>& owners,
              const std::vector<Provider>& local_entries, std::string_view claim);
  // The providers a lookup found.
  void AddProviders(const std::vector<Provider>& providers);
  // The body of the answer.
  std::string Finish() &&;

 private:
  std::string out_;
};

}  // namespace spegel::cluster
