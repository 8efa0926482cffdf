// ClusterNode: this node's part of the cluster. It owns the membership and its three sources
// (mDNS agent, DNS discovery, static peers — each optional; none is needed to be ready: a single
// node is a working cluster), the router (announce / lookup), the router API server on
// --router-addr and its client, and both sides of pull coalescing (its ClaimTable as a key's
// owner, its ClaimClient as the asker). The registry asks it for providers (ContentLocator) and
// claims (PullCoordinator); the Announcer feeds it the changes of the local keys.
//
//   mDNS beacons ───────────────┐
//   DNS answers ──▶ Bootstrapper ├─▶ Membership ──listener──▶ Router ◀──▶ HttpRouterTransport
//   static peers ─▶ (hello)      │                              ▲
//   hellos received ─────────────┘              RouterService (POST announce, GET lookup)
//
// Ownership and threading: owned by the registry daemon's wiring; loop thread only. Start() once;
// Stop() once, then wait for its `done` before destroying.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/peer_auth.h"
#include "cluster/claim_client.h"
#include "cluster/claim_table.h"
#include "cluster/cluster_view.h"
#include "cluster/content_locator.h"
#include "cluster/http_router_transport.h"
#include "cluster/provider_lookups.h"
#include "cluster/pull_coordinator.h"
#include "cluster/router.h"
#include "cluster/router_service.h"
#include "http/connection_pool.h"
#include "http/server.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "membership/bootstrapper.h"
#include "membership/dns_discovery.h"
#include "membership/http_bootstrap.h"
#include "membership/mdns_agent.h"
#include "membership/member.h"
#include "membership/membership.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

struct ClusterOptions {
  std::string node_id;
  // The ids to move to, in turn, when another node is seen using node_id (empty: never rename,
  // as for an explicit --node-id).
  std::vector<std::string> fallback_node_ids;
  uint64_t incarnation = 0;      // ms since the epoch at start
  http::Address router_address;  // where the router API listens
  uint16_t registry_port = 0;    // the port peers fetch content from
  std::vector<std::string> mdns_interfaces;
  uint16_t mdns_port = 5353;
  std::string dns_domain;
  std::vector<std::string> dns_resolvers;
  uint64_t dns_interval_ms = 10'000;
  std::vector<std::pair<std::string, uint16_t>> static_peers;  // ip, router port
  // HTTP bootstrap (http_bootstrap.h): serve GET /id here, and/or GET this URL for seeds (every
  // dns_interval_ms).
  std::optional<http::Address> http_bootstrap_address;
  std::optional<BootstrapUrl> http_bootstrap_url;
  size_t replicas = 3;
  uint64_t resolve_timeout_ms = 20;
  // A claim's budget (--mirror-claim-timeout): longer than a lookup's, because a claim that is not
  // answered in time costs an extra download, and an owner whose loop shares a busy CPU with
  // containerd's hashing can take tens of milliseconds to answer.
  uint64_t claim_timeout_ms = 250;
  size_t claim_owner_attempts = 3;  // Owners a claim may ask in turn, within claim_timeout_ms.
  uint64_t lookup_cache_ms = 2000;  // How long a found provider list answers again (0: never).
  uint64_t announce_ttl_ms = 600'000;
  uint64_t member_ttl_ms = 60'000;
  auth::PeerAuth auth;
  // Keep-alive connections for router calls (announces, lookups, hellos); null = none. Must
  // outlive the node.
  http::ConnectionPool* pool = nullptr;
};

class ClusterNode : public ContentLocator, public PullCoordinator, public ClusterView {
 public:
  ClusterNode(Loop* loop, ClusterOptions options);
  ~ClusterNode() override;

  // Binds the router address and starts every configured source. Errors name what failed (the
  // address, the interface, the resolver).
  Status Start();
  // Withdraws our keys from their owners (best effort, bounded), sends the mDNS goodbye, stops
  // DNS, closes the router server. `done` runs on the loop thread, never inline.
  void Stop(std::function<void()> done);

  // A change of the keys this node provides (digests and tag keys, already filtered): the
  // Announcer's sink. Ignored once stopping (the keys are being withdrawn).
  void UpdateLocalKeys(const std::vector<std::string>& add, const std::vector<std::string>& remove);

  // ContentLocator: router lookups within --mirror-resolve-timeout, one per key in flight, found
  // answers kept for lookup_cache_ms (ProviderLookups); a bad provider is avoided as a failed
  // member and dropped from the kept answers.
  void FindProviders(const std::string& key,
                     std::function<void(std::vector<Provider>)> done) override;
  void ReportBadProvider(const Provider& provider, std::string_view why) override;

  // PullCoordinator: the ClaimClient's (claim_client.h), with this node's ClaimTable answering
  // for the keys it owns, claim_timeout_ms as the budget and claim_owner_attempts owners at most.
  // Once stopping, claims are kDecline and progress is dropped.
  void Claim(const std::string& key, bool can_serve, const std::vector<std::string>& avoid,
             std::function<void(ClaimAnswer)> done) override;
  void ReportProgress(std::vector<ProgressReport> reports,
                      std::function<void(const std::string& key)> on_revoked) override;

  // ClusterView (claims: {key, ClaimTable::Describe}).
  const std::string& self_id() const override { return self_.node_id; }
  uint64_t node_id_renames() const override { return renames_; }
  uint64_t foreign_refused() const override { return membership_->foreign_refused(); }
  MembershipEvents membership_events() const override {
    return {membership_->joins(), membership_->expirations(), membership_->goodbyes(),
            membership_->replacements(), membership_->unlisted_refused()};
  }
  std::vector<MemberView> Members() const override;
  uint64_t node_id_collisions() const override { return membership_->collisions(); }
  std::vector<std::pair<std::string, std::string>> OwnedClaims(size_t max) const override;
  std::string MembersJson() const override;
  void RoutingJson(const std::string& key, uint64_t timeout_ms,
                   std::function<void(std::string)> done) override;

  const MemberInfo& self() const { return self_; }
  uint16_t router_port() const { return router_port_; }
  size_t member_count() const { return membership_->size(); }
  const Router& router() const { return *router_; }

 private:
  void OnDnsResult(Result<std::vector<std::string>> addresses);
  Status StartMdns();
  // mDNS saw this node's interface addresses change.
  void OnAddressesChanged();
  // Another node uses this node's id: a defaulted id moves to the next fallback id (renamed
  // under the new one everywhere: membership, router, mDNS, hellos); an explicit one stays.
  void OnCollision(const MemberInfo& other);
  void StaticRound();
  void StopStep(std::function<void()> done);

  Loop* loop_;
  ClusterOptions options_;
  MemberInfo self_;
  uint16_t router_port_ = 0;
  LoopScheduler scheduler_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<HttpRouterTransport> transport_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ProviderLookups> lookups_;  // FindProviders: shared rounds, kept answers.
  ClaimTable claims_;                         // As the primary owner of keys.
  std::unique_ptr<Timer> claim_sweep_;
  std::unique_ptr<RouterService> service_;
  std::unique_ptr<ClaimClient> claim_client_;  // As the node asking; answers its own via service_.
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Bootstrapper> bootstrapper_;
  std::unique_ptr<MdnsAgent> mdns_;
  std::unique_ptr<MdnsAgent> retiring_mdns_;  // Saying goodbye under the old id after a rename.
  size_t next_fallback_id_ = 0;               // Into options_.fallback_node_ids.
  static constexpr uint64_t kEarlyResolveIntervalMs = 2000;
  uint64_t last_early_resolve_ms_ = 0;  // when a refused hello last asked DNS again
  uint64_t renames_ = 0;
  std::unique_ptr<DnsDiscovery> dns_;
  std::unique_ptr<Timer> static_timer_;
  std::unique_ptr<HttpBootstrapHandler> bootstrap_handler_;
  std::unique_ptr<http::Server> bootstrap_server_;         // --http-bootstrap-addr
  std::unique_ptr<HttpBootstrapClient> bootstrap_client_;  // --http-bootstrap-url
  std::unique_ptr<Timer> stop_timer_;
  bool started_ = false;
  bool stopping_ = false;
  Liveness liveness_;
};

}  // namespace spegel::cluster
