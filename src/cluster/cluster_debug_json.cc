#include "cluster/cluster_debug_json.h"

#include "base/json_escape.h"

namespace spegel::cluster {
namespace {

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

std::vector<MemberView> MemberViews(const Membership& membership, uint64_t now_ms) {
  std::vector<MemberView> out;
  out.reserve(membership.Live().size());
  for (const Member* m : membership.Live()) {
    MemberView v;
    v.node_id = m->info.node_id;
    v.incarnation = m->info.incarnation;
    if (!m->info.addresses.empty()) v.address = m->info.addresses.front();
    v.registry_port = m->info.registry_port;
    v.sources = SourcesText(m->sources);
    v.age_ms = now_ms > m->seen_since_ms ? now_ms - m->seen_since_ms : 0;
    v.expires_in_ms = m->expires_at_ms > now_ms ? m->expires_at_ms - now_ms : 0;
    v.avoided = membership.IsAvoided(*m);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> OwnedClaimViews(const ClaimTable& claims,
                                                                 size_t max, uint64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string& key : claims.Keys(max)) {
    std::string description = claims.Describe(key, now_ms);
    out.emplace_back(std::move(key), std::move(description));
  }
  return out;
}

std::string BuildMembersJson(const MemberInfo& self, uint16_t router_port,
                             const Membership& membership, uint64_t renames, uint64_t now_ms) {
  std::string out = "{\"self\":{\"node_id\":";
  AppendJsonString(&out, self.node_id);
  out.append(",\"incarnation\":" + std::to_string(self.incarnation));
  out.append(",\"registry_port\":" + std::to_string(self.registry_port));
  out.append(",\"router_port\":" + std::to_string(router_port));
  out.append(",\"node_id_collisions\":" + std::to_string(membership.collisions()));
  out.append(",\"node_id_renames\":" + std::to_string(renames));
  out.append(",\"foreign_refused\":" + std::to_string(membership.foreign_refused()));
  out.append(",\"unlisted_refused\":" + std::to_string(membership.unlisted_refused()));
  out.append(",\"member_events\":{\"joined\":" + std::to_string(membership.joins()) +
             ",\"expired\":" + std::to_string(membership.expirations()) +
             ",\"goodbye\":" + std::to_string(membership.goodbyes()) +
             ",\"replaced\":" + std::to_string(membership.replacements()) + "}");
  out.append("},\"members\":[");
  bool first = true;
  for (const Member* m : membership.Live()) {
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
               std::to_string(m->expires_at_ms > now_ms ? m->expires_at_ms - now_ms : 0));
    out.append(std::string(",\"avoided\":") + (membership.IsAvoided(*m) ? "true" : "false") + "}");
  }
  out.append("]}\n");
  return out;
}

RoutingJsonBuilder::RoutingJsonBuilder(std::string_view node_id, size_t members,
                                       const RoutingCounters& counters) {
  const RouterStats& s = counters.router;
  const ProviderLookupsStats& l = counters.locator;
  const ClaimClientStats& a = counters.claims_asked;
  out_ = "{\"node_id\":";
  AppendJsonString(&out_, node_id);
  out_.append(",\"members\":" + std::to_string(members));
  out_.append(",\"stats\":{\"local_keys\":" + std::to_string(s.local_keys) +
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
              ",\"locator_coalesced\":" + std::to_string(l.coalesced) + ",\"locator_cache_hits\":" +
              std::to_string(l.cache_hits) + ",\"claim_requests\":" + std::to_string(a.requests) +
              ",\"claim_messages\":" + std::to_string(a.messages) +
              ",\"claim_failovers\":" + std::to_string(a.failovers) +
              ",\"stranger_drops\":" + std::to_string(s.stranger_drops) +
              ",\"untrusted_tag_providers\":" + std::to_string(s.untrusted_tag_providers) +
              ",\"disowned_keys\":" + std::to_string(s.disowned_keys) +
              ",\"memory_bytes\":" + std::to_string(s.memory_bytes) + "}");
  const ClaimStats& c = counters.claims_owned;
  out_.append(",\"claims\":{\"have\":" + std::to_string(c.have) +
              ",\"follow\":" + std::to_string(c.follow) + ",\"fetch\":" + std::to_string(c.fetch) +
              ",\"decline\":" + std::to_string(c.decline) + ",\"revoked\":" +
              std::to_string(c.revoked) + ",\"strangers\":" + std::to_string(c.strangers) +
              ",\"complaints\":" + std::to_string(c.complaints) + ",\"banned\":" +
              std::to_string(c.banned) + ",\"keys\":" + std::to_string(c.keys) + "}");
  if (counters.pool) {
    const http::ConnectionPoolStats& p = *counters.pool;
    out_.append(",\"peer_connections\":{\"idle\":" + std::to_string(p.idle) + ",\"reused\":" +
                std::to_string(p.reused) + ",\"returned\":" + std::to_string(p.returned) +
                ",\"retried\":" + std::to_string(p.retried) +
                ",\"closed_by_peer\":" + std::to_string(p.closed_by_peer) + ",\"unsolicited\":" +
                std::to_string(p.unsolicited) + ",\"expired\":" + std::to_string(p.expired) +
                ",\"evicted\":" + std::to_string(p.evicted) + "}");
  }
}

void RoutingJsonBuilder::AddError(std::string_view error) {
  out_.append(",\"error\":");
  AppendJsonString(&out_, error);
}

void RoutingJsonBuilder::AddKey(std::string_view key, const std::vector<std::string>& owners,
                                const std::vector<Provider>& local_entries,
                                std::string_view claim) {
  out_.append(",\"key\":");
  AppendJsonString(&out_, key);
  out_.append(",\"owners\":[");
  for (size_t i = 0; i < owners.size(); ++i) {
    if (i) out_.push_back(',');
    AppendJsonString(&out_, owners[i]);
  }
  out_.append("],\"local_entries\":");
  AppendProviders(&out_, local_entries);
  out_.append(",\"claim\":");
  AppendJsonString(&out_, claim);
}

void RoutingJsonBuilder::AddProviders(const std::vector<Provider>& providers) {
  out_.append(",\"providers\":");
  AppendProviders(&out_, providers);
}

std::string RoutingJsonBuilder::Finish() && {
  out_.append("}\n");
  return std::move(out_);
}

}  // namespace spegel::cluster
