#include "cluster/cluster_node.h"

#include <algorithm>

#include "base/clock.h"
#include "base/local_addresses.h"
#include "base/log.h"
#include "cluster/cluster_debug_json.h"
#include "cluster/router_wire.h"

namespace spegel::cluster {
namespace {

// How long Stop() gives the withdraw messages before closing the router client.
constexpr uint64_t kWithdrawGraceMs = 300;

}  // namespace

ClusterNode::ClusterNode(Loop* loop, ClusterOptions options)
    : loop_(loop),
      options_(std::move(options)),
      scheduler_(loop),
      claims_(ClaimOptions{},
              [this](std::string_view node_id) { return membership_->IsSelfOrMember(node_id); }) {
  self_.node_id = options_.node_id;
  self_.incarnation = options_.incarnation;
  self_.registry_port = options_.registry_port;
  MembershipOptions membership_options;
  membership_options.self_incarnation = self_.incarnation;
  membership_options.admit_unlisted_hellos = options_.http_bootstrap_address.has_value();
  membership_options.is_local_address = [](std::string_view address) {
    return IsLocalAddress(address);
  };
  membership_ = std::make_unique<Membership>(&scheduler_, self_.node_id, membership_options);
  PeerClientOptions transport_options;
  transport_options.pool = options_.pool;
  transport_ = std::make_unique<HttpRouterTransport>(loop_, &self_, options_.auth,
                                                     transport_options);
  RouterOptions router_options;
  router_options.replicas = options_.replicas;
  router_options.announce_ttl_ms = options_.announce_ttl_ms;
  router_ = std::make_unique<Router>(&scheduler_, membership_.get(), transport_.get(),
                                     Provider{self_.node_id, "", self_.registry_port},
                                     router_options);
  ProviderLookupsOptions lookups_options;
  lookups_options.cache_ttl_ms = options_.lookup_cache_ms;
  lookups_ = std::make_unique<ProviderLookups>(
      &scheduler_,
      [this](const std::string& key, std::function<void(std::vector<Provider>)> done) {
        router_->Lookup(key, options_.resolve_timeout_ms, std::move(done));
      },
      lookups_options);
  // A newer incarnation of a member from a new address moves it only if its bound address no
  // longer answers under its id (Membership's binding).
  membership_->SetProber(
      [this, alive = liveness_.token()](const MemberInfo& bound, std::function<void(bool)> done) {
        if (!alive.alive() || bound.addresses.empty() || bound.router_port == 0) {
          loop_->Post([done = std::move(done)] { done(false); });
          return;
        }
        transport_->Hello(bound.addresses.front(), bound.router_port,
                          [id = bound.node_id, done = std::move(done)](Result<MemberInfo> answer) {
                            done(answer.ok() && answer->node_id == id);
                          });
      });
  membership_->SetCollisionListener([this](const MemberInfo& other) { OnCollision(other); });
  membership_->SetListener(
      [this](const std::vector<std::string>& joined, const std::vector<std::string>& left) {
        for (const auto& id : left) {
          lookups_->Invalidate(id);
          claims_.DropNode(id);
        }
        router_->OnMembershipChanged(joined, left);
      });
  service_ = std::make_unique<RouterService>(router_.get(), membership_.get(), &self_,
                                             options_.auth, options_.member_ttl_ms, &claims_,
                                             &scheduler_);
  service_->SetOnUnlistedHello([this] {
    // A new pod says hello before our last DNS answer named it: ask again, at most every 2 s.
    const uint64_t now = loop_->NowMs();
    if (dns_ == nullptr || stopping_ ||
        (last_early_resolve_ms_ != 0 && now - last_early_resolve_ms_ < kEarlyResolveIntervalMs)) {
      return;
    }
    last_early_resolve_ms_ = now;
    dns_->ResolveSoon();
  });
  ClaimClientOptions claim_options;
  claim_options.claim_timeout_ms = options_.claim_timeout_ms;
  claim_options.owner_attempts = options_.claim_owner_attempts;
  claim_client_ = std::make_unique<ClaimClient>(
      &scheduler_, membership_.get(), transport_.get(), self_.node_id,
      [this](std::string_view key) { return router_->OwnersOf(key); },
      ClaimClient::LocalOwner{
          [this](const std::string& key, bool can_serve, const std::vector<std::string>& avoid) {
            return service_->AnswerClaim(key, Provider{self_.node_id, "", self_.registry_port},
                                         can_serve, avoid);
          },
          [this](const ProgressReport& report) {
            return claims_.Report(report, Provider{self_.node_id, "", self_.registry_port},
                                  scheduler_.NowMs());
          }},
      claim_options);
  claim_sweep_ = std::make_unique<Timer>(loop_);
  claim_sweep_->Unref();
  claim_sweep_->Start(1000, 1000, [this] { claims_.Sweep(scheduler_.NowMs()); });
  server_ = std::make_unique<http::Server>(loop_, service_.get(), RouterServerOptions());
  BootstrapOptions bootstrap;
  bootstrap.member_ttl_ms = options_.member_ttl_ms;
  bootstrapper_ = std::make_unique<Bootstrapper>(loop_, membership_.get(), transport_.get(),
                                                 bootstrap);
}

ClusterNode::~ClusterNode() {
  liveness_.Revoke();
  // Order: sources and the router go before the membership and transport they point to.
  bootstrap_client_.reset();
  bootstrapper_.reset();
  claim_client_.reset();
  lookups_.reset();
  router_.reset();
  transport_.reset();
  service_.reset();
}

Status ClusterNode::StartMdns() {
  MdnsOptions mdns;
  mdns.interfaces = options_.mdns_interfaces;
  mdns.port = options_.mdns_port;
  mdns_ = std::make_unique<MdnsAgent>(
      loop_, mdns, self_, [this](const MemberInfo& info, uint32_t ttl_s, const std::string& from) {
        if (ttl_s == 0) {
          membership_->Leave(info.node_id, info.incarnation, from);
          return;
        }
        // The member is reached at the packet's source: a record's A/AAAA addresses are only
        // what the sender claims. An IPv6 link-local source (no zone here) cannot be dialled:
        // then the record's addresses (the source is bound as well).
        MemberInfo member = info;
        if (!(from.starts_with("fe8") || from.starts_with("fe9") || from.starts_with("fea") ||
              from.starts_with("feb"))) {
          member.addresses = {from};
        }
        membership_->Observe(member, MemberSource::kMdns, uint64_t{ttl_s} * 1000, from);
      });
  mdns_->SetAddressListener([this] { OnAddressesChanged(); });
  if (Status s = mdns_->Start(); !s.ok()) {
    mdns_.reset();
    return Status::InvalidArgument("--mdns-interfaces: " + s.message());
  }
  return Status::Ok();
}

void ClusterNode::OnAddressesChanged() {
  if (stopping_) return;
  // The others bound this node to its old address. A newer incarnation from the new one makes
  // them ask the old address (Membership's probe); nothing answers there any more, so they move
  // it. Then every key is announced again from the new address.
  const uint64_t incarnation = std::max(self_.incarnation + 1, UnixNowMs());
  LOG_INFO("this node's addresses changed: announcing it again under a new incarnation")
      .Int("old_incarnation", static_cast<int64_t>(self_.incarnation))
      .Int("incarnation", static_cast<int64_t>(incarnation));
  self_.incarnation = incarnation;
  membership_->SetSelfIncarnation(incarnation);
  if (mdns_ != nullptr) mdns_->SetSelf(self_);
  router_->ReannounceAll();
  bootstrapper_->HelloAgain();
}

void ClusterNode::OnCollision(const MemberInfo& other) {
  if (stopping_ || next_fallback_id_ >= options_.fallback_node_ids.size()) return;
  const std::string old_id = self_.node_id;
  const std::string new_id = options_.fallback_node_ids[next_fallback_id_++];
  LOG_WARN("node id collision resolved: this node's default id was taken, it now goes by another")
      .Str("old_node_id", old_id)
      .Str("new_node_id", new_id)
      .Str("other_address", other.addresses.empty() ? std::string() : other.addresses.front())
      .Str("fix", "give each node its own --node-id (in Kubernetes, spec.nodeName)");
  self_.node_id = new_id;
  membership_->SetSelfId(new_id);
  router_->RenameSelf(new_id);
  claim_client_->SetSelfId(new_id);
  bootstrapper_->HelloAgain();
  ++renames_;
  if (mdns_ != nullptr) {
    // The goodbye for the old name first, then the new name on the same port.
    MdnsAgent* old = mdns_.get();
    retiring_mdns_ = std::move(mdns_);
    old->Stop([this, alive = liveness_.token()] {
      if (!alive.alive()) return;
      retiring_mdns_.reset();
      if (stopping_) return;
      if (Status s = StartMdns(); !s.ok()) {
        LOG_ERROR("mdns: cannot restart under the new node id").Str("error", s.message());
      }
    });
  }
}

Status ClusterNode::Start() {
  auto port = server_->Listen(options_.router_address);
  if (!port.ok()) {
    return Status::Unavailable("--router-addr " + options_.router_address.ToString() + ": " +
                               port.status().message());
  }
  router_port_ = *port;
  self_.router_port = router_port_;
  started_ = true;

  if (!options_.mdns_interfaces.empty()) {
    if (Status s = StartMdns(); !s.ok()) return s;
  }
  if (!options_.dns_domain.empty()) {
    DnsDiscoveryOptions dns;
    dns.domain = options_.dns_domain;
    dns.resolvers = options_.dns_resolvers;
    dns.interval_ms = options_.dns_interval_ms;
    dns_ = std::make_unique<DnsDiscovery>(loop_, dns, [this](Result<std::vector<std::string>> r) {
      OnDnsResult(std::move(r));
    });
    if (Status s = dns_->Start(); !s.ok()) {
      dns_.reset();
      return Status::InvalidArgument("--dns-bootstrap-domain: " + s.message());
    }
  }
  if (!options_.static_peers.empty()) {
    static_timer_ = std::make_unique<Timer>(loop_);
    static_timer_->Start(0, options_.dns_interval_ms, [this] { StaticRound(); });
  }
  if (options_.http_bootstrap_address) {
    bootstrap_handler_ =
        std::make_unique<HttpBootstrapHandler>(&self_.node_id, router_port_, [this] {
          std::vector<BootstrapEntry> entries;
          for (const Member* m : membership_->Live()) {
            if (m->info.addresses.empty()) continue;
            entries.push_back({m->info.node_id, m->info.addresses.front(), m->info.router_port});
          }
          return entries;
        });
    bootstrap_server_ = std::make_unique<http::Server>(loop_, bootstrap_handler_.get());
    if (auto bound = bootstrap_server_->Listen(*options_.http_bootstrap_address); !bound.ok()) {
      return Status::Unavailable("--http-bootstrap-addr " +
                                 options_.http_bootstrap_address->ToString() + ": " +
                                 bound.status().message());
    }
  }
  if (options_.http_bootstrap_url) {
    bootstrap_client_ = std::make_unique<HttpBootstrapClient>(
        loop_, *options_.http_bootstrap_url, options_.dns_interval_ms,
        [this](const std::vector<std::pair<std::string, uint16_t>>& peers) {
          if (!stopping_) bootstrapper_->SetSeeds(MemberSource::kHttp, peers);
        });
    bootstrap_client_->Start();
  }
  LOG_INFO("cluster started")
      .Str("node", self_.node_id)
      .Int("incarnation", static_cast<int64_t>(self_.incarnation))
      .Int("router_port", router_port_)
      .Int("mdns_interfaces", static_cast<int64_t>(options_.mdns_interfaces.size()))
      .Str("dns_domain", options_.dns_domain)
      .Int("static_peers", static_cast<int64_t>(options_.static_peers.size()));
  if (!options_.auth.enabled()) {
    LOG_WARN(
        "no peer secret: any host that can reach the router port and the discovery source (DNS "
        "answer, mDNS segment, static list, bootstrap document) can join the cluster, announce "
        "content and answer tags; set --peer-secret-file (README: Security)")
        .Int("router_port", router_port_);
  }
  return Status::Ok();
}

void ClusterNode::OnDnsResult(Result<std::vector<std::string>> addresses) {
  if (stopping_) return;
  if (!addresses.ok()) {
    // Members already known stay until their TTL: a DNS outage does not empty the cluster.
    LOG_WARN("dns discovery failed; keeping known members")
        .Str("domain", options_.dns_domain)
        .Str("error", addresses.status().message());
    return;
  }
  std::vector<std::pair<std::string, uint16_t>> seeds;
  seeds.reserve(addresses->size());
  for (auto& ip : *addresses) seeds.emplace_back(std::move(ip), router_port_);
  bootstrapper_->SetSeeds(MemberSource::kDns, seeds);
}

void ClusterNode::StaticRound() {
  if (stopping_) return;
  bootstrapper_->SetSeeds(MemberSource::kStatic, options_.static_peers);
}

void ClusterNode::UpdateLocalKeys(const std::vector<std::string>& add,
                                  const std::vector<std::string>& remove) {
  if (stopping_) return;
  router_->UpdateLocalKeys(add, remove);
}

void ClusterNode::FindProviders(const std::string& key,
                                std::function<void(std::vector<Provider>)> done) {
  lookups_->Find(key, std::move(done));
}

void ClusterNode::Claim(const std::string& key, bool can_serve,
                        const std::vector<std::string>& avoid,
                        std::function<void(ClaimAnswer)> done) {
  claim_client_->Claim(key, can_serve, avoid, std::move(done));
}

void ClusterNode::ReportProgress(std::vector<ProgressReport> reports,
                                 std::function<void(const std::string& key)> on_revoked) {
  claim_client_->ReportProgress(std::move(reports), std::move(on_revoked));
}

void ClusterNode::ReportBadProvider(const Provider& provider, std::string_view why) {
  LOG_INFO("avoiding peer for a while").Str("node", provider.node_id).Str("why", why);
  lookups_->Invalidate(provider.node_id);
  membership_->ReportFailure(provider.node_id);
}

// The const views read the loop's clock: what scheduler_.NowMs() reads (it is not const).

std::vector<std::pair<std::string, std::string>> ClusterNode::OwnedClaims(size_t max) const {
  return OwnedClaimViews(claims_, max, loop_->NowMs());
}

std::vector<MemberView> ClusterNode::Members() const {
  return MemberViews(*membership_, loop_->NowMs());
}

std::string ClusterNode::MembersJson() const {
  return BuildMembersJson(self_, router_port_, *membership_, renames_, loop_->NowMs());
}

void ClusterNode::RoutingJson(const std::string& key, uint64_t timeout_ms,
                              std::function<void(std::string)> done) {
  RoutingCounters counters{router_->stats(), lookups_->stats(), claim_client_->stats(),
                           claims_.stats(), std::nullopt};
  if (options_.pool != nullptr) counters.pool = options_.pool->stats();
  RoutingJsonBuilder json(self_.node_id, membership_->size(), counters);
  if (key.empty() || !IsValidRoutingKey(key)) {
    if (!key.empty()) json.AddError("invalid key");
    loop_->Post([alive = liveness_.token(), done = std::move(done),
                 body = std::move(json).Finish()]() mutable {
      if (alive.alive()) done(std::move(body));
    });
    return;
  }
  json.AddKey(key, router_->OwnersOf(key), router_->HandleLookup(key),
              claims_.Describe(key, scheduler_.NowMs()));
  router_->Lookup(key, timeout_ms,
                  [alive = liveness_.token(), done = std::move(done),
                   json = std::move(json)](const std::vector<Provider>& providers) mutable {
                    if (!alive.alive()) return;
                    json.AddProviders(providers);
                    done(std::move(json).Finish());
                  });
}

void ClusterNode::Stop(std::function<void()> done) {
  stopping_ = true;
  claim_client_->Stop();
  static_timer_.reset();
  bootstrap_client_.reset();
  if (!started_) {
    loop_->Post([alive = liveness_.token(), done = std::move(done)] {
      if (alive.alive()) done();
    });
    return;
  }
  router_->Withdraw();
  // Give the withdraw messages a moment, then take the sources down one after the other.
  stop_timer_ = std::make_unique<Timer>(loop_);
  stop_timer_->Start(kWithdrawGraceMs, 0,
                     [this, done = std::move(done)]() mutable { StopStep(std::move(done)); });
}

void ClusterNode::StopStep(std::function<void()> done) {
  if (mdns_) {
    MdnsAgent* agent = mdns_.get();
    agent->Stop([this, done = std::move(done)]() mutable {
      // Destroyed from a later turn, outside the agent's own callback.
      loop_->Post([this, done = std::move(done)]() mutable {
        mdns_.reset();
        StopStep(std::move(done));
      });
    });
    return;
  }
  if (dns_) {
    DnsDiscovery* dns = dns_.get();
    dns->Stop([this, done = std::move(done)]() mutable {
      loop_->Post([this, done = std::move(done)]() mutable {
        dns_.reset();
        StopStep(std::move(done));
      });
    });
    return;
  }
  if (bootstrap_server_) {
    http::Server* server = bootstrap_server_.get();
    server->Shutdown(200, [this, done = std::move(done)]() mutable {
      loop_->Post([this, done = std::move(done)]() mutable {
        bootstrap_server_.reset();
        StopStep(std::move(done));
      });
    });
    return;
  }
  if (server_) {
    http::Server* server = server_.get();
    server->Shutdown(200, [this, done = std::move(done)]() mutable {
      server_.reset();
      bootstrapper_.reset();
      done();
    });
    return;
  }
  done();
}

}  // namespace spegel::cluster
