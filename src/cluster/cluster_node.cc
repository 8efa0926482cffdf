#include "cluster/cluster_node.h"

#include "base/json_escape.h"
#include "base/log.h"
#include "cluster/router_wire.h"

namespace spegel::cluster {
namespace {

// How long Stop() gives the withdraw messages before closing the router client.
constexpr uint64_t kWithdrawGraceMs = 300;

std::string SourcesText(uint8_t sources) {
  std::string out;
  for (MemberSource s : {MemberSource::kMdns, MemberSource::kDns, MemberSource::kStatic,
                         MemberSource::kPeer, MemberSource::kHttp}) {
    if (sources & (1u << static_cast<unsigned>(s))) {
      if (!out.empty()) out.push_back(',');
      out.append(MemberSourceName(s));
    }
  }
  return out;
}

void AppendProviders(std::string* out, const std::vector<Provider>& providers) {
  out->push_back('[');
  for (size_t i = 0; i < providers.size(); ++i) {
    if (i) out->push_back(',');
    out->append("{\"node_id\":");
    AppendJsonString(out, providers[i].node_id);
    out->append(",\"address\":");
    AppendJsonString(out, providers[i].address);
    out->append(",\"registry_port\":" + std::to_string(providers[i].registry_port) + "}");
  }
  out->push_back(']');
}

}  // namespace

ClusterNode::ClusterNode(Loop* loop, ClusterOptions options)
    : loop_(loop), options_(std::move(options)), scheduler_(loop) {
  self_.node_id = options_.node_id;
  self_.incarnation = options_.incarnation;
  self_.registry_port = options_.registry_port;
  MembershipOptions membership_options;
  membership_options.self_incarnation = self_.incarnation;
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
          LOG_INFO("member left").Str("node", id);
          lookups_->Invalidate(id);
          claims_.DropNode(id);
        }
        router_->OnMembershipChanged(joined, left);
      });
  service_ = std::make_unique<RouterService>(router_.get(), membership_.get(), &self_,
                                             options_.auth, options_.member_ttl_ms, &claims_,
                                             &scheduler_);
  claim_sweep_ = std::make_unique<Timer>(loop_);
  claim_sweep_->Unref();
  claim_sweep_->Start(1000, 1000, [this] { claims_.Sweep(scheduler_.NowMs()); });
  http::ServerOptions server_options;
  server_options.keep_request_body = true;
  server_options.max_request_body_bytes = kMaxAnnounceBodyBytes;
  server_options.max_connections = 4096;
  server_ = std::make_unique<http::Server>(loop_, service_.get(), server_options);
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
        if (membership_->Observe(info, MemberSource::kMdns, uint64_t{ttl_s} * 1000, from) ==
            Observed::kJoined) {
          LOG_INFO("member joined")
              .Str("node", info.node_id)
              .Str("address", info.addresses.empty() ? "" : info.addresses.front())
              .Str("source", "mdns");
        }
      });
  if (Status s = mdns_->Start(); !s.ok()) {
    mdns_.reset();
    return Status::InvalidArgument("--mdns-interfaces: " + s.message());
  }
  return Status::Ok();
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
        std::make_unique<HttpBootstrapHandler>(self_.node_id, router_port_, [this] {
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

std::string ClusterNode::ClaimOwner(const std::string& key) const {
  const std::vector<std::string> owners = router_->OwnersOf(key);
  for (const std::string& id : owners) {
    if (id == self_.node_id) return id;
    const Member* m = membership_->Find(id);
    if (m != nullptr && !membership_->IsAvoided(*m)) return id;
  }
  return owners.empty() ? std::string() : owners.front();
}

// One claim in flight: the answer or the budget, whichever comes first; the other finds `done`
// gone. The timer holds the state weakly, so nothing keeps it alive but the exchange in flight.
struct ClusterNode::PendingClaim {
  std::string key;
  bool can_serve = false;
  int owners_left = 0;  // Owners still to ask after the one asked now fails.
  std::function<void(ClaimAnswer)> done;
  std::unique_ptr<Timer> budget;

  void Finish(ClaimAnswer answer) {
    budget.reset();
    if (!done) return;
    auto d = std::move(done);
    done = nullptr;
    d(std::move(answer));
  }
};

void ClusterNode::Claim(const std::string& key, bool can_serve,
                        std::function<void(ClaimAnswer)> done) {
  ++claim_requests_;
  auto pending = std::make_shared<PendingClaim>();
  pending->key = key;
  pending->can_serve = can_serve;
  pending->owners_left = static_cast<int>(options_.claim_owner_attempts) - 1;
  pending->done = std::move(done);
  pending->budget = std::make_unique<Timer>(loop_);
  pending->budget->Start(
      options_.claim_timeout_ms, 0, [weak = std::weak_ptr<PendingClaim>(pending)] {
        auto p = weak.lock();
        if (!p || !p->done) return;
        LOG_DEBUG("claim not answered within the budget; no coalescing").Str("key", p->key);
        p->Finish(ClaimAnswer{});
      });
  AskClaimOwner(pending);
}

void ClusterNode::AskClaimOwner(const std::shared_ptr<PendingClaim>& pending) {
  const std::string owner_id = stopping_ ? std::string() : ClaimOwner(pending->key);
  if (owner_id == self_.node_id) {
    const Provider self{self_.node_id, "", self_.registry_port};
    ClaimAnswer answer = service_->AnswerClaim(pending->key, self, pending->can_serve);
    loop_->Post([alive = liveness_.token(), pending, answer = std::move(answer)]() mutable {
      if (alive.alive()) pending->Finish(std::move(answer));
    });
    return;
  }
  const Member* owner = owner_id.empty() ? nullptr : membership_->Find(owner_id);
  if (owner == nullptr) {
    loop_->Post([alive = liveness_.token(), pending] {
      if (alive.alive()) pending->Finish(ClaimAnswer{});
    });
    return;
  }
  ++claim_messages_;
  transport_->Claim(
      *owner, ClaimRequest{pending->key, pending->can_serve}, options_.claim_timeout_ms,
      [this, alive = liveness_.token(), pending, owner_id](Result<ClaimAnswer> r) {
        if (!pending->done) return;
        if (r.ok()) return pending->Finish(std::move(r).value());
        LOG_DEBUG("claim failed at the key's owner")
            .Str("key", pending->key)
            .Str("owner", owner_id)
            .Str("error", r.status().message());
        // The owner is avoided from now on, for claims and progress alike: every node that
        // cannot reach it moves to the same next owner, so their claims still coalesce there.
        if (alive.alive() && pending->owners_left > 0) {
          membership_->ReportFailure(owner_id);
          if (ClaimOwner(pending->key) != owner_id) {
            --pending->owners_left;
            ++claim_failovers_;
            return AskClaimOwner(pending);
          }
        }
        LOG_DEBUG("no claim owner answered; no coalescing for this pull").Str("key", pending->key);
        pending->Finish(ClaimAnswer{});
      });
}

void ClusterNode::ReportProgress(std::vector<ProgressReport> reports,
                                 std::function<void(const std::string& key)> on_revoked) {
  if (stopping_) return;
  const Provider self{self_.node_id, "", self_.registry_port};
  const uint64_t now = scheduler_.NowMs();
  std::unordered_map<std::string, std::vector<ProgressReport>> by_owner;
  std::vector<std::string> revoked_here;
  for (ProgressReport& report : reports) {
    const std::string owner_id = ClaimOwner(report.key);
    if (owner_id.empty()) continue;
    if (owner_id == self_.node_id) {
      if (!claims_.Report(report, self, now)) revoked_here.push_back(report.key);
    } else {
      by_owner[owner_id].push_back(std::move(report));
    }
  }
  auto shared_on_revoked = std::make_shared<std::function<void(const std::string&)>>(
      std::move(on_revoked));
  if (!revoked_here.empty()) {
    loop_->Post([alive = liveness_.token(), shared_on_revoked, revoked_here] {
      if (!alive.alive()) return;
      for (const auto& key : revoked_here) (*shared_on_revoked)(key);
    });
  }
  for (auto& [owner_id, batch] : by_owner) {
    const Member* owner = membership_->Find(owner_id);
    if (owner == nullptr) continue;
    transport_->Progress(*owner, batch, [shared_on_revoked](Result<std::vector<std::string>> r) {
      if (!r.ok()) return;  // Best effort: the next report tries again.
      for (const auto& key : *r) (*shared_on_revoked)(key);
    });
  }
}

void ClusterNode::ReportBadProvider(const Provider& provider, std::string_view why) {
  LOG_INFO("avoiding peer for a while").Str("node", provider.node_id).Str("why", why);
  lookups_->Invalidate(provider.node_id);
  membership_->ReportFailure(provider.node_id);
}

std::vector<std::pair<std::string, std::string>> ClusterNode::OwnedClaims(size_t max) const {
  std::vector<std::pair<std::string, std::string>> out;
  const uint64_t now = loop_->NowMs();  // What scheduler_.NowMs() reads (it is not const).
  for (std::string& key : claims_.Keys(max)) {
    std::string description = claims_.Describe(key, now);
    out.emplace_back(std::move(key), std::move(description));
  }
  return out;
}

std::vector<MemberView> ClusterNode::Members() const {
  const uint64_t now = loop_->NowMs();
  std::vector<MemberView> out;
  out.reserve(membership_->Live().size());
  for (const Member* m : membership_->Live()) {
    MemberView v;
    v.node_id = m->info.node_id;
    v.incarnation = m->info.incarnation;
    if (!m->info.addresses.empty()) v.address = m->info.addresses.front();
    v.registry_port = m->info.registry_port;
    v.sources = SourcesText(m->sources);
    v.age_ms = now > m->seen_since_ms ? now - m->seen_since_ms : 0;
    v.expires_in_ms = m->expires_at_ms > now ? m->expires_at_ms - now : 0;
    v.avoided = membership_->IsAvoided(*m);
    out.push_back(std::move(v));
  }
  return out;
}

std::string ClusterNode::MembersJson() const {
  const uint64_t now = loop_->NowMs();
  std::string out = "{\"self\":{\"node_id\":";
  AppendJsonString(&out, self_.node_id);
  out.append(",\"incarnation\":" + std::to_string(self_.incarnation));
  out.append(",\"registry_port\":" + std::to_string(self_.registry_port));
  out.append(",\"router_port\":" + std::to_string(router_port_));
  out.append(",\"node_id_collisions\":" + std::to_string(membership_->collisions()));
  out.append(",\"node_id_renames\":" + std::to_string(renames_));
  out.append(",\"foreign_refused\":" + std::to_string(membership_->foreign_refused()) +
             "},\"members\":[");
  bool first = true;
  for (const Member* m : membership_->Live()) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"node_id\":");
    AppendJsonString(&out, m->info.node_id);
    out.append(",\"incarnation\":" + std::to_string(m->info.incarnation) + ",\"addresses\":[");
    for (size_t i = 0; i < m->info.addresses.size(); ++i) {
      if (i) out.push_back(',');
      AppendJsonString(&out, m->info.addresses[i]);
    }
    out.append("],\"registry_port\":" + std::to_string(m->info.registry_port));
    out.append(",\"router_port\":" + std::to_string(m->info.router_port));
    out.append(",\"sources\":");
    AppendJsonString(&out, SourcesText(m->sources));
    out.append(",\"expires_in_ms\":" +
               std::to_string(m->expires_at_ms > now ? m->expires_at_ms - now : 0));
    out.append(std::string(",\"avoided\":") + (membership_->IsAvoided(*m) ? "true" : "false") +
               "}");
  }
  out.append("]}\n");
  return out;
}

void ClusterNode::RoutingJson(const std::string& key, uint64_t timeout_ms,
                              std::function<void(std::string)> done) {
  const RouterStats s = router_->stats();
  const ProviderLookupsStats l = lookups_->stats();
  std::string out = "{\"node_id\":";
  AppendJsonString(&out, self_.node_id);
  out.append(",\"members\":" + std::to_string(membership_->size()));
  out.append(",\"stats\":{\"local_keys\":" + std::to_string(s.local_keys) +
             ",\"provider_keys\":" + std::to_string(s.provider_keys) +
             ",\"provider_entries\":" + std::to_string(s.provider_entries) +
             ",\"announce_messages\":" + std::to_string(s.announce_messages) +
             ",\"announce_failures\":" + std::to_string(s.announce_failures) +
             ",\"keys_announced\":" + std::to_string(s.keys_announced) + ",\"keys_withdrawn\":" +
             std::to_string(s.keys_withdrawn) + ",\"lookups\":" + std::to_string(s.lookups) +
             ",\"lookups_found\":" + std::to_string(s.lookups_found) +
             ",\"lookup_messages\":" + std::to_string(s.lookup_messages) +
             ",\"locator_requests\":" + std::to_string(l.requests) +
             ",\"locator_router_rounds\":" + std::to_string(l.router_rounds) +
             ",\"locator_coalesced\":" + std::to_string(l.coalesced) +
             ",\"locator_cache_hits\":" + std::to_string(l.cache_hits) +
             ",\"claim_requests\":" + std::to_string(claim_requests_) +
             ",\"claim_messages\":" + std::to_string(claim_messages_) +
             ",\"claim_failovers\":" + std::to_string(claim_failovers_) +
             ",\"memory_bytes\":" + std::to_string(s.memory_bytes) + "}");
  const ClaimStats c = claims_.stats();
  out.append(",\"claims\":{\"have\":" + std::to_string(c.have) +
             ",\"follow\":" + std::to_string(c.follow) + ",\"fetch\":" + std::to_string(c.fetch) +
             ",\"decline\":" + std::to_string(c.decline) + ",\"revoked\":" +
             std::to_string(c.revoked) + ",\"keys\":" + std::to_string(c.keys) + "}");
  if (options_.pool != nullptr) {
    // The pool is shared with peer fetches: these count every connection to a peer.
    const http::ConnectionPoolStats p = options_.pool->stats();
    out.append(",\"peer_connections\":{\"idle\":" + std::to_string(p.idle) + ",\"reused\":" +
               std::to_string(p.reused) + ",\"returned\":" + std::to_string(p.returned) +
               ",\"retried\":" + std::to_string(p.retried) +
               ",\"closed_by_peer\":" + std::to_string(p.closed_by_peer) + ",\"unsolicited\":" +
               std::to_string(p.unsolicited) + ",\"expired\":" + std::to_string(p.expired) +
               ",\"evicted\":" + std::to_string(p.evicted) + "}");
  }
  if (key.empty()) {
    out.append("}\n");
    loop_->Post(
        [alive = liveness_.token(), done = std::move(done), out = std::move(out)]() mutable {
          if (alive.alive()) done(std::move(out));
        });
    return;
  }
  if (!IsValidRoutingKey(key)) {
    out.append(",\"error\":\"invalid key\"}\n");
    loop_->Post(
        [alive = liveness_.token(), done = std::move(done), out = std::move(out)]() mutable {
          if (alive.alive()) done(std::move(out));
        });
    return;
  }
  out.append(",\"key\":");
  AppendJsonString(&out, key);
  out.append(",\"owners\":[");
  const auto owners = router_->OwnersOf(key);
  for (size_t i = 0; i < owners.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(&out, owners[i]);
  }
  out.append("],\"local_entries\":");
  AppendProviders(&out, router_->HandleLookup(key));
  out.append(",\"claim\":");
  AppendJsonString(&out, claims_.Describe(key, scheduler_.NowMs()));
  router_->Lookup(key, timeout_ms,
                  [alive = liveness_.token(), done = std::move(done),
                   out = std::move(out)](const std::vector<Provider>& providers) mutable {
                    if (!alive.alive()) return;
                    out.append(",\"providers\":");
                    AppendProviders(&out, providers);
                    out.append("}\n");
                    done(std::move(out));
                  });
}

void ClusterNode::Stop(std::function<void()> done) {
  stopping_ = true;
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
