#include "membership/mdns_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "base/log.h"
#include "base/numbers.h"

namespace spegel::cluster {
namespace {

constexpr uint32_t kLegacyMaxTtlS = 10;
constexpr size_t kMaxMemberAddresses = 8;

uint32_t Fnv1a32(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

std::string HostLabel(const std::string& node_id) {
  bool plain = node_id.size() <= 56;
  std::string sanitized;
  for (char c : node_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-';
    sanitized.push_back(ok ? c : '-');
    plain = plain && ok;
  }
  if (plain) return "spegel-" + sanitized;
  char hash[9];
  snprintf(hash, sizeof(hash), "%08x", Fnv1a32(node_id));
  return "spegel-" + sanitized.substr(0, 47) + "-" + hash;  // 7 + 47 + 1 + 8 = 63
}

// TXT numbers: at most 20 digits (a 64-bit incarnation) and 5 for a port.
bool ParseU64(std::string_view s, uint64_t* out) { return s.size() <= 20 && ParseDecimal(s, out); }

bool ParseTxtPort(std::string_view s, uint16_t* out) { return s.size() <= 5 && ParsePort(s, out); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return dns::NameEquals(a, b); }

// Fills an A or AAAA record from an IP literal; false if it is neither.
bool AddressRecord(const std::string& host, const std::string& ip, uint32_t ttl,
                   dns::ResourceRecord* rr) {
  rr->name = host;
  rr->ttl = ttl;
  rr->cache_flush = true;
  if (inet_pton(AF_INET, ip.c_str(), rr->ip.data()) == 1) {
    rr->type = dns::kTypeA;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), rr->ip.data()) == 1) {
    rr->type = dns::kTypeAaaa;
    return true;
  }
  return false;
}

// An address a peer can be reached at: not unspecified, multicast, or IPv6 link-local (which
// needs a scope we cannot carry in a MemberInfo).
std::string UsableAddress(const dns::ResourceRecord& rr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (rr.type == dns::kTypeA) {
    if (rr.ip[0] == 0 || rr.ip[0] >= 224) return "";
    inet_ntop(AF_INET, rr.ip.data(), text, sizeof(text));
  } else {
    if (rr.ip[0] == 0xff || (rr.ip[0] == 0xfe && (rr.ip[1] & 0xc0) == 0x80)) return "";
    static const std::array<uint8_t, 16> kZero{};
    if (rr.ip == kZero) return "";
    inet_ntop(AF_INET6, rr.ip.data(), text, sizeof(text));
  }
  return text;
}

}  // namespace

MdnsProtocol::MdnsProtocol(MemberInfo self, uint16_t mdns_port, uint32_t ttl_s)
    : self_(std::move(self)), mdns_port_(mdns_port), ttl_s_(ttl_s) {
  instance_ = dns::EscapeLabel(self_.node_id) + "." + std::string(kMdnsServiceName);
  host_ = HostLabel(self_.node_id) + ".local";
}

std::string MdnsProtocol::Response(const std::vector<std::string>& addresses, uint32_t ttl_s,
                                   const dns::Message* legacy_query) const {
  const bool legacy = legacy_query != nullptr;
  const uint32_t ttl = legacy ? std::min(ttl_s, kLegacyMaxTtlS) : ttl_s;
  dns::Message m;
  m.flags = dns::kFlagResponse | dns::kFlagAuthoritative;
  if (legacy) {
    m.id = legacy_query->id;
    m.questions = legacy_query->questions;
  }
  dns::ResourceRecord ptr;
  ptr.name = std::string(kMdnsServiceName);
  ptr.type = dns::kTypePtr;
  ptr.ttl = ttl;
  ptr.target = instance_;
  m.answers.push_back(ptr);
  dns::ResourceRecord srv;
  srv.name = instance_;
  srv.type = dns::kTypeSrv;
  srv.cache_flush = !legacy;
  srv.ttl = ttl;
  srv.port = self_.registry_port;
  srv.target = host_;
  m.answers.push_back(srv);
  dns::ResourceRecord txt;
  txt.name = instance_;
  txt.type = dns::kTypeTxt;
  txt.cache_flush = !legacy;
  txt.ttl = ttl;
  txt.txt = {"v=1", "id=" + self_.node_id, "inc=" + std::to_string(self_.incarnation),
             "registry=" + std::to_string(self_.registry_port),
             "router=" + std::to_string(self_.router_port)};
  m.answers.push_back(txt);
  for (const std::string& ip : addresses) {
    dns::ResourceRecord a;
    if (!AddressRecord(host_, ip, ttl, &a)) continue;
    a.cache_flush = !legacy;
    m.answers.push_back(a);
  }
  dns::ResourceRecord services;
  services.name = std::string(kDnsSdServicesName);
  services.type = dns::kTypePtr;
  services.ttl = ttl;
  services.target = std::string(kMdnsServiceName);
  m.answers.push_back(services);
  Result<std::string> wire = dns::BuildMessage(m);
  // Our own names are valid by construction (node ids are checked by the caller's flags); a
  // failure here would be a bug, and sending nothing is the safe answer.
  if (!wire.ok()) {
    LOG_ERROR("mdns: cannot build our response").Str("error", wire.status().ToString());
    return "";
  }
  return std::move(wire).value();
}

std::string MdnsProtocol::Announcement(const std::vector<std::string>& addresses,
                                       uint32_t ttl_s) const {
  return Response(addresses, ttl_s, nullptr);
}

std::string MdnsProtocol::Query() const {
  dns::Message m;
  m.questions.push_back({std::string(kMdnsServiceName), dns::kTypePtr, dns::kClassIn, false});
  Result<std::string> wire = dns::BuildMessage(m);
  return wire.ok() ? std::move(wire).value() : "";
}

MdnsProtocol::Outcome MdnsProtocol::Handle(std::string_view datagram, std::string_view source_ip,
                                           uint16_t source_port,
                                           const std::vector<std::string>& addresses) const {
  Outcome out;
  Result<dns::Message> parsed = dns::ParseMessage(datagram);
  if (!parsed.ok()) {
    out.error = parsed.status();
    return out;
  }
  const dns::Message& m = *parsed;
  if ((m.flags & 0x7800) != 0) return out;  // opcode other than QUERY: not mDNS

  if (!m.is_response()) {
    // Each question we answer asks for a multicast (QM) or a unicast (QU, RFC 6762 §5.4) reply.
    bool wanted_qm = false;
    bool wanted_qu = false;
    for (const dns::Question& q : m.questions) {
      bool wanted = false;
      if (q.qclass != dns::kClassIn && q.qclass != 255 /* ANY */) continue;
      const bool any = q.type == dns::kTypeAny;
      if ((any || q.type == dns::kTypePtr) && dns::NameEquals(q.name, kMdnsServiceName)) {
        // Known-answer suppression (RFC 6762 §7.1): the querier already holds our PTR with at
        // least half its TTL left.
        bool known = false;
        for (const dns::ResourceRecord& rr : m.answers) {
          known = known ||
                  (rr.type == dns::kTypePtr && dns::NameEquals(rr.name, kMdnsServiceName) &&
                   dns::NameEquals(rr.target, instance_) && rr.ttl >= ttl_s_ / 2);
        }
        wanted = wanted || !known;
      } else if ((any || q.type == dns::kTypePtr) && dns::NameEquals(q.name, kDnsSdServicesName)) {
        wanted = true;
      } else if ((any || q.type == dns::kTypeSrv || q.type == dns::kTypeTxt) &&
                 dns::NameEquals(q.name, instance_)) {
        wanted = true;
      } else if ((any || q.type == dns::kTypeA || q.type == dns::kTypeAaaa) &&
                 dns::NameEquals(q.name, host_)) {
        wanted = true;
      }
      (q.unicast_response ? wanted_qu : wanted_qm) |= wanted;
    }
    if (!wanted_qm && !wanted_qu) return out;
    if (source_port != mdns_port_) {
      // A legacy resolver (not on 5353): a unicast reply it can read, and the multicast one.
      out.multicast_answer = true;
      out.unicast_reply = Response(addresses, ttl_s_, &m);
      return out;
    }
    // QU questions get one unicast answer to the querier's address and port; QM ones the
    // multicast answer.
    out.multicast_answer = wanted_qm;
    if (wanted_qu) out.unicast_reply = Response(addresses, ttl_s_, nullptr);
    return out;
  }

  // A response: every SRV record of a _spegel._tcp instance is one announcement.
  std::vector<const dns::ResourceRecord*> records;
  for (const auto& rr : m.answers) records.push_back(&rr);
  for (const auto& rr : m.additionals) records.push_back(&rr);
  std::vector<std::string_view> seen;
  for (const dns::ResourceRecord* srv : records) {
    if (srv->type != dns::kTypeSrv || srv->rclass != dns::kClassIn) continue;
    if (!dns::NameHasSuffix(srv->name, kMdnsServiceName) ||
        dns::NameEquals(srv->name, kMdnsServiceName))
      continue;
    bool dup = false;
    for (std::string_view s : seen) dup = dup || dns::NameEquals(s, srv->name);
    if (dup) continue;
    seen.push_back(srv->name);

    const dns::ResourceRecord* txt = nullptr;
    for (const dns::ResourceRecord* rr : records) {
      if (rr->type == dns::kTypeTxt && dns::NameEquals(rr->name, srv->name)) {
        txt = rr;
        break;
      }
    }
    auto reject = [&](std::string why) {
      out.rejected.push_back(srv->name.substr(0, 300) + ": " + std::move(why));
    };
    if (txt == nullptr) {
      reject("no TXT record");
      continue;
    }
    // First occurrence of each key wins (RFC 6763 §6.4); keys compare case-insensitively.
    std::string_view v, id, inc, registry, router;
    bool has_v = false, has_id = false, has_inc = false, has_registry = false, has_router = false;
    for (const std::string& entry : txt->txt) {
      const size_t eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      std::string_view key(entry.data(), eq);
      std::string_view value(entry.data() + eq + 1, entry.size() - eq - 1);
      auto take = [&](std::string_view name, bool* has, std::string_view* slot) {
        if (!*has && EqualsIgnoreCase(key, name)) {
          *has = true;
          *slot = value;
        }
      };
      take("v", &has_v, &v);
      take("id", &has_id, &id);
      take("inc", &has_inc, &inc);
      take("registry", &has_registry, &registry);
      take("router", &has_router, &router);
    }
    MemberInfo info;
    if (!has_v || v != "1") {
      reject("TXT v is not 1");
      continue;
    }
    if (!has_id || !IsValidNodeId(id)) {
      reject("TXT id missing or invalid");
      continue;
    }
    info.node_id = std::string(id);  // Ours too: Membership tells self from a collision.
    if (!has_inc || !ParseU64(inc, &info.incarnation)) {
      reject("TXT inc missing or invalid");
      continue;
    }
    if (!has_registry || !ParseTxtPort(registry, &info.registry_port)) {
      reject("TXT registry port missing or invalid");
      continue;
    }
    if (!has_router || !ParseTxtPort(router, &info.router_port)) {
      reject("TXT router port missing or invalid");
      continue;
    }
    std::vector<std::string> v4, v6;
    for (const dns::ResourceRecord* rr : records) {
      if ((rr->type != dns::kTypeA && rr->type != dns::kTypeAaaa) ||
          !dns::NameEquals(rr->name, srv->target)) {
        continue;
      }
      std::string ip = UsableAddress(*rr);
      if (ip.empty()) continue;
      auto& list = rr->type == dns::kTypeA ? v4 : v6;
      if (std::find(list.begin(), list.end(), ip) == list.end()) list.push_back(std::move(ip));
    }
    for (auto* list : {&v4, &v6}) {
      for (std::string& ip : *list) {
        if (info.addresses.size() < kMaxMemberAddresses) info.addresses.push_back(std::move(ip));
      }
    }
    if (info.addresses.empty() && !source_ip.empty()) info.addresses.emplace_back(source_ip);
    if (info.addresses.empty()) {
      reject("no address");
      continue;
    }
    out.members.emplace_back(std::move(info), std::min(srv->ttl, kMdnsMaxTtlS));
  }
  return out;
}

}  // namespace spegel::cluster
