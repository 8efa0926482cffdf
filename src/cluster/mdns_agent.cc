#include "cluster/mdns_agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/log.h"
#include "base/numbers.h"

namespace spegel::cluster {
namespace {

constexpr uint32_t kLegacyMaxTtlS = 10;
constexpr size_t kMaxMemberAddresses = 8;
constexpr int kStartAnnouncements = 3;
constexpr uint64_t kStartAnnounceGapMs = 1000;
constexpr uint64_t kMinMulticastGapMs = 1000;
constexpr int kMaxUnicastRepliesPerSecond = 20;
constexpr uint64_t kRejectLogIntervalMs = 10000;

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

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
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
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
bool AddressRecord(const std::string& host, const std::string& ip, uint32_t ttl, dns::ResourceRecord* rr) {
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

// ----------------------------------------------------------------------------------------------
// MdnsProtocol

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

std::string MdnsProtocol::Announcement(const std::vector<std::string>& addresses, uint32_t ttl_s) const {
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
    bool wanted = false;
    for (const dns::Question& q : m.questions) {
      if (q.qclass != dns::kClassIn && q.qclass != 255 /* ANY */) continue;
      const bool any = q.type == dns::kTypeAny;
      if ((any || q.type == dns::kTypePtr) && dns::NameEquals(q.name, kMdnsServiceName)) {
        // Known-answer suppression (RFC 6762 §7.1): the querier already holds our PTR with at
        // least half its TTL left.
        bool known = false;
        for (const dns::ResourceRecord& rr : m.answers) {
          known = known || (rr.type == dns::kTypePtr && dns::NameEquals(rr.name, kMdnsServiceName) &&
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
    }
    if (!wanted) return out;
    out.multicast_answer = true;
    if (source_port != mdns_port_) out.unicast_reply = Response(addresses, ttl_s_, &m);
    return out;
  }

  // A response: every SRV record of a _spegel._tcp instance is one announcement.
  std::vector<const dns::ResourceRecord*> records;
  for (const auto& rr : m.answers) records.push_back(&rr);
  for (const auto& rr : m.additionals) records.push_back(&rr);
  std::vector<std::string_view> seen;
  for (const dns::ResourceRecord* srv : records) {
    if (srv->type != dns::kTypeSrv || srv->rclass != dns::kClassIn) continue;
    if (!dns::NameHasSuffix(srv->name, kMdnsServiceName) || dns::NameEquals(srv->name, kMdnsServiceName)) continue;
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
    info.node_id = std::string(id);
    if (info.node_id == self_.node_id) continue;  // our own announcement, looped back
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
      if ((rr->type != dns::kTypeA && rr->type != dns::kTypeAaaa) || !dns::NameEquals(rr->name, srv->target)) {
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

// ----------------------------------------------------------------------------------------------
// MdnsAgent

// One UDP socket. The uv handle is the first member so the close callback can free the whole
// struct; `agent` is cleared when the agent goes away before the close callback runs.
struct MdnsAgent::Socket {
  uv_udp_t handle;
  MdnsAgent* agent = nullptr;
  Interface* iface = nullptr;
  bool v6 = false;
  bool closing = false;
  sockaddr_storage group{};
};

MdnsAgent::MdnsAgent(Loop* loop, MdnsOptions options, MemberInfo self, OnMember on_member)
    : loop_(loop),
      options_(std::move(options)),
      protocol_(std::move(self), options_.port, options_.ttl_s),
      on_member_(std::move(on_member)) {}

MdnsAgent::~MdnsAgent() {
  for (Socket* s : sockets_) {
    s->agent = nullptr;
    s->iface = nullptr;
    CloseSocket(s);
  }
  sockets_.clear();
}

Status MdnsAgent::Start() {
  if (options_.interfaces.empty()) return Status::Ok();
  // getifaddrs, not uv_interface_addresses: libuv leaves out interfaces that are not RUNNING
  // yet (no carrier), and joining the group there is fine.
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) {
    return Status::Unavailable(std::string("mdns: cannot list interfaces: ") + strerror(errno));
  }
  Status status;
  for (const std::string& name : options_.interfaces) {
    auto iface = std::make_unique<Interface>();
    iface->name = name;
    iface->index = if_nametoindex(name.c_str());
    if (iface->index == 0) {
      status = Status::InvalidArgument("mdns: interface " + name + " does not exist");
      break;
    }
    std::vector<std::string> v4, v6;
    for (ifaddrs* it = addrs; it != nullptr; it = it->ifa_next) {
      if (it->ifa_addr == nullptr || name != it->ifa_name) continue;
      char text[INET6_ADDRSTRLEN] = {};
      if (it->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr, text, sizeof(text));
        v4.emplace_back(text);
      } else if (it->ifa_addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr, text, sizeof(text));
        v6.emplace_back(text);
      }
    }
    if (v4.empty()) {
      status = Status::FailedPrecondition("mdns: interface " + name + " has no IPv4 address");
      break;
    }
    interfaces_.push_back(std::move(iface));
    status = OpenInterface(interfaces_.back().get(), v4, v6);
    if (!status.ok()) break;
  }
  freeifaddrs(addrs);
  if (!status.ok()) {
    for (Socket* s : sockets_) {
      s->agent = nullptr;
      s->iface = nullptr;
      CloseSocket(s);
    }
    sockets_.clear();
    interfaces_.clear();
    return status;
  }
  announce_timer_ = std::make_unique<Timer>(loop_);
  announce_timer_->Start(0, 0, [this] { Tick(); });
  LOG_INFO("mdns: started").Str("instance", protocol_.instance_name()).Str("host", protocol_.host_name())
      .Int("interfaces", static_cast<int64_t>(interfaces_.size())).Int("port", options_.port);
  return Status::Ok();
}

Status MdnsAgent::OpenInterface(Interface* iface, const std::vector<std::string>& v4,
                                const std::vector<std::string>& v6) {
  iface->addresses = v4;
  Result<Socket*> s4 = OpenSocket(iface, false);
  if (!s4.ok()) return s4.status();
  iface->v4 = *s4;
  if (!v6.empty()) {
    Result<Socket*> s6 = OpenSocket(iface, true);
    if (s6.ok()) {
      iface->v6 = *s6;
      for (const std::string& ip : v6) iface->addresses.push_back(ip);
    } else {
      LOG_WARN("mdns: no IPv6 multicast on interface").Str("interface", iface->name)
          .Str("error", s6.status().ToString());
    }
  }
  iface->reply_timer = std::make_unique<Timer>(loop_);
  return Status::Ok();
}

Result<MdnsAgent::Socket*> MdnsAgent::OpenSocket(Interface* iface, bool v6) {
  const int family = v6 ? AF_INET6 : AF_INET;
  const std::string where = "mdns: interface " + iface->name + (v6 ? " (IPv6): " : ": ");
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(where + "socket: " + strerror(errno));
  auto fail = [&](const char* what) {
    Status s = Status::Unavailable(where + what + ": " + strerror(errno));
    close(fd);
    return s;
  };
  const int one = 1, zero = 0, ttl = 255;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) return fail("SO_REUSEADDR");
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) return fail("SO_REUSEPORT");
  auto socket = std::make_unique<Socket>();
  socket->iface = iface;
  socket->v6 = v6;
  if (!v6) {
    sockaddr_in bind_addr{};
    bind_addr.sin_family = AF_INET;
    bind_addr.sin_port = htons(options_.port);
    bind_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    sockaddr_in group{};
    group.sin_family = AF_INET;
    group.sin_port = htons(options_.port);
    if (inet_pton(AF_INET, options_.group_v4.c_str(), &group.sin_addr) != 1) {
      close(fd);
      return Status::InvalidArgument("mdns: bad IPv4 group " + options_.group_v4);
    }
    memcpy(&socket->group, &group, sizeof(group));
    ip_mreqn mreq{};
    mreq.imr_multiaddr = group.sin_addr;
    mreq.imr_ifindex = static_cast<int>(iface->index);
    // Best effort on old kernels: without it, the socket also hears other interfaces' traffic.
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
    if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) != 0) return fail("bind");
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) return fail("join group");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) != 0) return fail("IP_MULTICAST_IF");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0) return fail("IP_MULTICAST_TTL");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) != 0) return fail("IP_MULTICAST_LOOP");
  } else {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) return fail("IPV6_V6ONLY");
    sockaddr_in6 bind_addr{};
    bind_addr.sin6_family = AF_INET6;
    bind_addr.sin6_port = htons(options_.port);
    bind_addr.sin6_addr = in6addr_any;
    sockaddr_in6 group{};
    group.sin6_family = AF_INET6;
    group.sin6_port = htons(options_.port);
    group.sin6_scope_id = iface->index;
    inet_pton(AF_INET6, "ff02::fb", &group.sin6_addr);
    memcpy(&socket->group, &group, sizeof(group));
    ipv6_mreq mreq{};
    mreq.ipv6mr_multiaddr = group.sin6_addr;
    mreq.ipv6mr_interface = iface->index;
    const unsigned index = iface->index;
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof(zero));
    if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) != 0) return fail("bind");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)) != 0) return fail("join group");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) != 0) return fail("IPV6_MULTICAST_IF");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl)) != 0) return fail("IPV6_MULTICAST_HOPS");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one)) != 0) return fail("IPV6_MULTICAST_LOOP");
  }
  if (int rc = uv_udp_init(loop_->uv(), &socket->handle); rc != 0) {
    close(fd);
    return Status::Internal(where + "uv_udp_init: " + uv_strerror(rc));
  }
  Socket* s = socket.release();
  s->handle.data = s;
  s->agent = this;
  sockets_.push_back(s);  // from here on, closing frees it
  if (int rc = uv_udp_open(&s->handle, fd); rc != 0) {
    close(fd);
    return Status::Internal(where + "uv_udp_open: " + uv_strerror(rc));
  }
  if (int rc = uv_udp_recv_start(&s->handle, &MdnsAgent::OnAlloc, &MdnsAgent::OnRecv); rc != 0) {
    return Status::Internal(where + "uv_udp_recv_start: " + uv_strerror(rc));
  }
  return s;
}

void MdnsAgent::CloseSocket(Socket* socket) {
  if (socket->closing) return;
  socket->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&socket->handle), [](uv_handle_t* h) {
    auto* s = static_cast<Socket*>(h->data);
    MdnsAgent* agent = s->agent;
    if (agent != nullptr) agent->OnSocketClosed(s);
    delete s;
  });
}

void MdnsAgent::OnSocketClosed(Socket* socket) {
  sockets_.erase(std::remove(sockets_.begin(), sockets_.end(), socket), sockets_.end());
  if (!sockets_.empty() || !stop_done_) return;
  std::function<void()> done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();  // may destroy this agent: nothing after
}

void MdnsAgent::Stop(std::function<void()> done) {
  stopped_ = true;
  announce_timer_.reset();
  for (auto& iface : interfaces_) {
    iface->reply_timer.reset();
    Multicast(iface.get(), protocol_.Announcement(iface->addresses, 0));
  }
  if (sockets_.empty()) {
    loop_->Post(std::move(done));
    return;
  }
  stop_done_ = std::move(done);
  for (Socket* s : sockets_) CloseSocket(s);
  LOG_INFO("mdns: stopped, goodbye sent").Str("instance", protocol_.instance_name());
}

void MdnsAgent::Tick() {
  if (stopped_) return;
  if (announcements_sent_ == 0) {
    const std::string query = protocol_.Query();
    for (auto& iface : interfaces_) Multicast(iface.get(), query);
  }
  for (auto& iface : interfaces_) {
    Multicast(iface.get(), protocol_.Announcement(iface->addresses, options_.ttl_s));
    iface->last_multicast_ms = loop_->NowMs();
    iface->multicast_sent = true;
  }
  ++announcements_sent_;
  const uint64_t next = announcements_sent_ < kStartAnnouncements ? kStartAnnounceGapMs
                                                                  : std::max<uint64_t>(options_.announce_interval_ms, 1000);
  announce_timer_->Start(next, 0, [this] { Tick(); });
}

void MdnsAgent::Multicast(Interface* iface, const std::string& payload) {
  if (payload.empty()) return;
  for (Socket* s : {iface->v4, iface->v6}) {
    if (s == nullptr) continue;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(payload.data()), static_cast<unsigned>(payload.size()));
    int rc = uv_udp_try_send(&s->handle, &buf, 1, reinterpret_cast<const sockaddr*>(&s->group));
    if (rc < 0) {
      LOG_DEBUG("mdns: multicast send failed").Str("interface", iface->name).Bool("ipv6", s->v6)
          .Str("error", uv_strerror(rc));
    }
  }
}

void MdnsAgent::ScheduleAnswer(Interface* iface) {
  if (stopped_ || iface->reply_timer == nullptr || iface->reply_timer->active()) return;
  // RFC 6762 §6: shared records are answered after 20-120 ms, and a record is multicast at most
  // once per second per interface.
  static thread_local std::minstd_rand rng(std::random_device{}());
  uint64_t delay = 20 + rng() % 101;
  const uint64_t now = loop_->NowMs();
  if (iface->multicast_sent && iface->last_multicast_ms + kMinMulticastGapMs > now + delay) {
    delay = iface->last_multicast_ms + kMinMulticastGapMs - now;
  }
  iface->reply_timer->Start(delay, 0, [this, iface] {
    Multicast(iface, protocol_.Announcement(iface->addresses, options_.ttl_s));
    iface->last_multicast_ms = loop_->NowMs();
    iface->multicast_sent = true;
  });
}

void MdnsAgent::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* s = static_cast<Socket*>(handle->data);
  if (s->agent == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(s->agent->recv_buffer_, sizeof(s->agent->recv_buffer_));
}

void MdnsAgent::OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                       unsigned flags) {
  auto* s = static_cast<Socket*>(handle->data);
  if (s->agent == nullptr || s->closing || s->agent->stopped_ || nread <= 0 || addr == nullptr) return;
  if ((flags & UV_UDP_PARTIAL) != 0) return;  // larger than any mDNS packet we accept
  s->agent->OnDatagram(s, std::string_view(buf->base, static_cast<size_t>(nread)), addr);
}

void MdnsAgent::OnDatagram(Socket* socket, std::string_view data, const sockaddr* from) {
  char ip[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (from->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(from);
    uv_ip4_name(sin, ip, sizeof(ip));
    port = ntohs(sin->sin_port);
  } else if (from->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(from);
    uv_ip6_name(sin6, ip, sizeof(ip));
    port = ntohs(sin6->sin6_port);
  } else {
    return;
  }
  Interface* iface = socket->iface;
  MdnsProtocol::Outcome out = protocol_.Handle(data, ip, port, iface->addresses);
  if (!out.error.ok()) {
    LogRejected({std::string("malformed packet from ") + ip + ": " + out.error.message()});
    return;
  }
  if (!out.rejected.empty()) LogRejected(out.rejected);
  if (out.multicast_answer) ScheduleAnswer(iface);
  if (!out.unicast_reply.empty()) {
    const uint64_t now = loop_->NowMs();
    if (now >= unicast_window_start_ms_ + 1000) {
      unicast_window_start_ms_ = now;
      unicast_in_window_ = 0;
    }
    if (++unicast_in_window_ <= kMaxUnicastRepliesPerSecond) {
      uv_buf_t buf = uv_buf_init(out.unicast_reply.data(), static_cast<unsigned>(out.unicast_reply.size()));
      uv_udp_try_send(&socket->handle, &buf, 1, from);
    }
  }
  for (auto& [info, ttl] : out.members) {
    if (stopped_) return;  // on_member may have stopped us
    on_member_(info, ttl);
  }
}

void MdnsAgent::LogRejected(const std::vector<std::string>& reasons) {
  const uint64_t now = loop_->NowMs();
  if (reject_logged_ && now < last_reject_log_ms_ + kRejectLogIntervalMs) {
    rejects_suppressed_ += reasons.size();
    return;
  }
  LOG_WARN("mdns: ignored announcement").Str("reason", reasons.front())
      .Int("more_in_packet", static_cast<int64_t>(reasons.size() - 1))
      .Int("suppressed_since_last_log", static_cast<int64_t>(rejects_suppressed_));
  reject_logged_ = true;
  last_reject_log_ms_ = now;
  rejects_suppressed_ = 0;
}

}  // namespace spegel::cluster
