#include "membership/mdns_agent.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/log.h"

namespace spegel::cluster {
namespace {

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

}  // namespace

// One UDP socket. On the heap and freed from its handle's close callback, so the agent may go
// away while it is closing; libuv runs no callback of it (and so never reaches `agent`) after
// CloseSocket.
struct MdnsAgent::Socket {
  UvHandle<uv_udp_t> handle;
  MdnsAgent* agent = nullptr;
  Interface* iface = nullptr;
  bool v6 = false;
  sockaddr_storage group{};
};

MdnsAgent::MdnsAgent(Loop* loop, MdnsOptions options, MemberInfo self, OnMember on_member)
    : loop_(loop),
      options_(std::move(options)),
      protocol_(std::move(self), options_.port, options_.ttl_s),
      on_member_(std::move(on_member)),
      handles_(loop) {}

MdnsAgent::~MdnsAgent() {
  // Not stopped (or Stop's done has not run): the sockets close without a goodbye and free
  // themselves; the timers do the same as members.
  CloseSockets();
}

namespace {

// IPv4 then IPv6 addresses (inet_ntop's text) of interface `name` in `addrs`.
std::vector<std::string> AddressesOf(const ifaddrs* addrs, const std::string& name,
                                     std::vector<std::string>* v6_out) {
  std::vector<std::string> v4, v6;
  for (const ifaddrs* it = addrs; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || name != it->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                sizeof(text));
      v4.emplace_back(text);
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr, text,
                sizeof(text));
      v6.emplace_back(text);
    }
  }
  if (v6_out != nullptr) *v6_out = v6;
  return v4;
}

}  // namespace

Status MdnsAgent::Start() {
  assert(loop_->IsLoopThread());
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
    std::vector<std::string> v6;
    const std::vector<std::string> v4 = AddressesOf(addrs, name, &v6);
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
    CloseSockets();
    interfaces_.clear();
    return status;
  }
  announce_timer_ = std::make_unique<Timer>(loop_, &handles_);
  announce_timer_->Start(0, 0, [this] { Tick(); });
  const uint64_t check = std::max<uint64_t>(options_.address_check_interval_ms, 100);
  address_timer_ = std::make_unique<Timer>(loop_, &handles_);
  address_timer_->Start(check, check, [this] { CheckAddresses(); });
  LOG_INFO("mdns: started")
      .Str("instance", protocol_.instance_name())
      .Str("host", protocol_.host_name())
      .Int("interfaces", static_cast<int64_t>(interfaces_.size()))
      .Int("port", options_.port);
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
      LOG_WARN("mdns: no IPv6 multicast on interface")
          .Str("interface", iface->name)
          .Str("error", s6.status().ToString());
    }
  }
  iface->reply_timer = std::make_unique<Timer>(loop_, &handles_);
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
    if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) != 0)
      return fail("bind");
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
      return fail("join group");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) != 0)
      return fail("IP_MULTICAST_IF");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) != 0)
      return fail("IP_MULTICAST_TTL");
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) != 0)
      return fail("IP_MULTICAST_LOOP");
  } else {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
      return fail("IPV6_V6ONLY");
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
    if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof(bind_addr)) != 0)
      return fail("bind");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)) != 0)
      return fail("join group");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) != 0)
      return fail("IPV6_MULTICAST_IF");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof(ttl)) != 0)
      return fail("IPV6_MULTICAST_HOPS");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one)) != 0)
      return fail("IPV6_MULTICAST_LOOP");
  }
  if (int rc = socket->handle.Init(loop_, socket.get(), &handles_, uv_udp_init); rc != 0) {
    close(fd);
    return Status::Internal(where + "uv_udp_init: " + uv_strerror(rc));
  }
  Socket* s = socket.release();
  s->agent = this;
  sockets_.push_back(s);  // from here on, closing frees it
  if (int rc = uv_udp_open(s->handle.get(), fd); rc != 0) {
    close(fd);
    return Status::Internal(where + "uv_udp_open: " + uv_strerror(rc));
  }
  if (int rc = uv_udp_recv_start(s->handle.get(), &MdnsAgent::OnAlloc, &MdnsAgent::OnRecv);
      rc != 0) {
    return Status::Internal(where + "uv_udp_recv_start: " + uv_strerror(rc));
  }
  return s;
}

void MdnsAgent::CloseSockets() {
  for (Socket* s : sockets_) {
    s->handle.Close([](void* socket) { delete static_cast<Socket*>(socket); });
  }
  sockets_.clear();
  for (auto& iface : interfaces_) iface->v4 = iface->v6 = nullptr;
}

void MdnsAgent::Stop(std::function<void()> done) {
  assert(loop_->IsLoopThread());
  stopped_ = true;
  announce_timer_.reset();
  address_timer_.reset();
  for (auto& iface : interfaces_) {
    iface->reply_timer.reset();
    Multicast(iface.get(), protocol_.Announcement(iface->addresses, 0));
  }
  const bool had_sockets = !sockets_.empty();
  CloseSockets();
  // After the close callbacks of the sockets and timers just closed; with none (never started,
  // or no interfaces), from a close callback of the group's own. Never inline.
  handles_.WhenAllClosed(std::move(done));
  if (had_sockets) {
    LOG_INFO("mdns: stopped, goodbye sent").Str("instance", protocol_.instance_name());
  }
}

void MdnsAgent::CheckAddresses() {
  if (stopped_) return;
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return;  // read again at the next check
  std::vector<Interface*> changed;
  for (auto& iface : interfaces_) {
    std::vector<std::string> v6;
    std::vector<std::string> now = AddressesOf(addrs, iface->name, &v6);
    if (now.empty()) continue;  // no IPv4 address at the moment: keep announcing the last ones
    if (iface->v6 != nullptr) now.insert(now.end(), v6.begin(), v6.end());
    if (now == iface->addresses) continue;
    LOG_INFO("mdns: interface addresses changed; announcing the new ones")
        .Str("interface", iface->name)
        .Str("old", iface->addresses.front())
        .Str("new", now.front());
    iface->addresses = std::move(now);
    changed.push_back(iface.get());
  }
  freeifaddrs(addrs);
  if (changed.empty()) return;
  if (address_listener_) address_listener_();
  for (Interface* iface : changed) {
    Multicast(iface, protocol_.Announcement(iface->addresses, options_.ttl_s));
    iface->last_multicast_ms = loop_->NowMs();
    iface->multicast_sent = true;
  }
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
  const uint64_t next = announcements_sent_ < kStartAnnouncements
                            ? kStartAnnounceGapMs
                            : std::max<uint64_t>(options_.announce_interval_ms, 1000);
  announce_timer_->Start(next, 0, [this] { Tick(); });
}

void MdnsAgent::Multicast(Interface* iface, const std::string& payload) {
  if (payload.empty()) return;
  for (Socket* s : {iface->v4, iface->v6}) {
    if (s == nullptr) continue;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(payload.data()),
                               static_cast<unsigned>(payload.size()));
    int rc = uv_udp_try_send(s->handle.get(), &buf, 1,
                             reinterpret_cast<const sockaddr*>(&s->group));
    if (rc < 0) {
      LOG_DEBUG("mdns: multicast send failed")
          .Str("interface", iface->name)
          .Bool("ipv6", s->v6)
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
  *buf = uv_buf_init(s->agent->recv_buffer_, sizeof(s->agent->recv_buffer_));
}

void MdnsAgent::OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                       unsigned flags) {
  auto* s = static_cast<Socket*>(handle->data);
  if (s->agent->stopped_ || nread <= 0 || addr == nullptr) return;
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
  // A sender whose interface has no address yet (a DHCP change under way) can be neither
  // answered nor reached there: wait for its next packet.
  if (std::string_view(ip) == "0.0.0.0" || std::string_view(ip) == "::") return;
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
      uv_buf_t buf = uv_buf_init(out.unicast_reply.data(),
                                 static_cast<unsigned>(out.unicast_reply.size()));
      uv_udp_try_send(socket->handle.get(), &buf, 1, from);
    }
  }
  const std::string source(ip);
  for (auto& [info, ttl] : out.members) {
    if (stopped_) return;  // on_member may have stopped us
    on_member_(info, ttl, source);
  }
}

void MdnsAgent::LogRejected(const std::vector<std::string>& reasons) {
  const uint64_t now = loop_->NowMs();
  if (reject_logged_ && now < last_reject_log_ms_ + kRejectLogIntervalMs) {
    rejects_suppressed_ += reasons.size();
    return;
  }
  LOG_WARN("mdns: ignored announcement")
      .Str("reason", reasons.front())
      .Int("more_in_packet", static_cast<int64_t>(reasons.size() - 1))
      .Int("suppressed_since_last_log", static_cast<int64_t>(rejects_suppressed_));
  reject_logged_ = true;
  last_reject_log_ms_ = now;
  rejects_suppressed_ = 0;
}

}  // namespace spegel::cluster
