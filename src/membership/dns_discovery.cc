#include "membership/dns_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <memory>

#include "base/log.h"
#include "http/address.h"

namespace spegel::cluster {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;
constexpr size_t kMaxDomainLength = 253;
constexpr size_t kMaxListItems = 4096;
constexpr int kMaxTries = 100;

// ares_library_init is process-wide and not thread-safe; a function-local static runs it once.
int AresLibraryInit() {
  static const int rc = ares_library_init(ARES_LIB_INIT_ALL);
  return rc;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using http::Quote;

// Splits a comma-separated list; blank text is an empty list, a blank item is an error.
Result<std::vector<std::string_view>> SplitList(std::string_view text) {
  std::vector<std::string_view> items;
  text = Trim(text);
  if (text.empty()) return items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = Trim(text.substr(start, comma == std::string_view::npos
                                                              ? std::string_view::npos
                                                              : comma - start));
    if (item.empty()) {
      return Status::InvalidArgument("empty item " + std::to_string(items.size() + 1) +
                                     " in list " + Quote(text));
    }
    if (items.size() == kMaxListItems) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxListItems) +
                                     " items in list");
    }
    items.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace

Result<std::vector<std::pair<std::string, uint16_t>>> ParseStaticPeers(std::string_view text) {
  Result<std::vector<std::string_view>> items = SplitList(text);
  if (!items.ok()) return items.status();
  std::vector<std::pair<std::string, uint16_t>> peers;
  for (std::string_view item : *items) {
    if (!item.empty() && item.front() == '/') {  // Upstream's form: a multiaddr.
      auto multiaddr = http::ParseTcpMultiaddr(item);
      if (!multiaddr) {
        return Status::InvalidArgument("expected /ip4/IP/tcp/PORT[/p2p/ID] (or ip:port) in " +
                                       Quote(item));
      }
      peers.push_back(std::move(*multiaddr));
      continue;
    }
    Result<http::HostPort> hp = http::ParseHostPort(item, /*allow_bare_v6=*/false);
    if (!hp.ok()) return hp.status();
    if (!hp->has_port) {
      return Status::InvalidArgument("missing port (ip:port) in " + Quote(item));
    }
    peers.emplace_back(std::move(hp->ip), hp->port);
  }
  return peers;
}

Result<std::vector<std::string>> ParseResolvers(std::string_view text) {
  Result<std::vector<std::string_view>> items = SplitList(text);
  if (!items.ok()) return items.status();
  std::vector<std::string> resolvers;
  for (std::string_view item : *items) {
    Result<http::HostPort> hp = http::ParseHostPort(item, /*allow_bare_v6=*/true);
    if (!hp.ok()) return hp.status();
    const uint16_t port = hp->has_port ? hp->port : 53;
    std::string host = hp->v6 ? "[" + hp->ip + "]" : hp->ip;
    resolvers.push_back(host + ":" + std::to_string(port));
  }
  return resolvers;
}

DnsDiscovery::DnsDiscovery(Loop* loop, DnsDiscoveryOptions options, OnResult on_result)
    : loop_(loop), options_(std::move(options)), on_result_(std::move(on_result)), handles_(loop) {}

DnsDiscovery::~DnsDiscovery() {
  // Destroyed while Stop()'s handles are still closing breaks the header's contract (done would
  // never run); the handles themselves are safe either way, since each frees its own memory.
  assert(!stopping_ || handles_.count() == 0);
  if (channel_ == nullptr) return;
  // Started and never stopped: no callback into this object from here on. Pending queries end
  // with ARES_EDESTRUCTION (ignored: stopping_) and each socket is reported closed through
  // OnSockState; the watchers and timers close as members are destroyed.
  stopping_ = true;
  on_result_ = nullptr;
  ares_channel ch = channel_;
  channel_ = nullptr;
  ares_destroy(ch);
}

Status DnsDiscovery::Start() {
  assert(loop_->IsLoopThread());
  if (options_.domain.empty() || options_.domain.size() > kMaxDomainLength) {
    return Status::InvalidArgument("DNS discovery domain must be 1.." +
                                   std::to_string(kMaxDomainLength) + " characters");
  }
  if (options_.timeout_ms == 0 || options_.timeout_ms > static_cast<uint64_t>(INT_MAX)) {
    return Status::InvalidArgument("DNS timeout must be positive");
  }
  if (options_.tries < 1 || options_.tries > kMaxTries) {
    return Status::InvalidArgument("DNS tries must be 1.." + std::to_string(kMaxTries));
  }
  if (options_.interval_ms == 0) {
    return Status::InvalidArgument("DNS refresh interval must be positive");
  }
  std::string servers_csv;
  for (const std::string& item : options_.resolvers) {
    Result<std::vector<std::string>> parsed = ParseResolvers(item);
    if (!parsed.ok()) return Status::InvalidArgument("DNS resolver: " + parsed.status().message());
    if (parsed->empty()) return Status::InvalidArgument("DNS resolver: empty item");
    for (const std::string& server : *parsed) {
      if (!servers_csv.empty()) servers_csv.push_back(',');
      servers_csv += server;
    }
  }
  if (const int rc = AresLibraryInit(); rc != ARES_SUCCESS) {
    return Status::Internal(std::string("c-ares library init: ") + ares_strerror(rc));
  }

  ares_options opts{};
  opts.sock_state_cb = &DnsDiscovery::OnSockState;
  opts.sock_state_cb_data = this;
  opts.timeout = static_cast<int>(options_.timeout_ms);
  opts.tries = options_.tries;
  const int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  ares_channel channel = nullptr;
  if (const int rc = ares_init_options(&channel, &opts, optmask); rc != ARES_SUCCESS) {
    return Status::Internal(std::string("c-ares init: ") + ares_strerror(rc));
  }
  if (!servers_csv.empty()) {
    if (const int rc = ares_set_servers_ports_csv(channel, servers_csv.c_str());
        rc != ARES_SUCCESS) {
      ares_destroy(channel);
      return Status::InvalidArgument("DNS resolvers " + Quote(servers_csv) + ": " +
                                     ares_strerror(rc));
    }
  }
  channel_ = channel;

  ares_timer_ = std::make_unique<Timer>(loop_, &handles_);
  round_timer_ = std::make_unique<Timer>(loop_, &handles_);
  started_ = true;
  // The first round starts on a later iteration so no callback can run inside Start().
  round_timer_->Start(0, 0, [this] { StartRound(); });
  LOG_INFO("dns discovery started")
      .Str("domain", options_.domain)
      .Str("resolvers", servers_csv.empty() ? "system" : servers_csv)
      .Int("interval_ms", static_cast<int64_t>(options_.interval_ms));
  return Status::Ok();
}

void DnsDiscovery::Stop(std::function<void()> done) {
  assert(loop_->IsLoopThread());
  if (stopping_) return;
  stopping_ = true;
  on_result_ = nullptr;
  // Runs once the handles closed below (or by a pending teardown) are gone; with none open
  // (never started), from a close callback of the group's own: never inline either way.
  handles_.WhenAllClosed(std::move(done));
  if (!started_) return;
  if (ares_depth_ > 0) {
    // Inside a c-ares callback (e.g. on_result): c-ares must not be destroyed under its own
    // feet. The outermost call into c-ares finishes the job when it returns.
    teardown_pending_ = true;
    return;
  }
  Teardown();
}

void DnsDiscovery::Teardown() {
  teardown_pending_ = false;
  if (channel_ != nullptr) {
    ares_channel ch = channel_;
    channel_ = nullptr;
    // Pending queries complete with ARES_EDESTRUCTION (ignored: stopping_); every socket is
    // reported closed through OnSockState, which closes its watcher.
    ares_destroy(ch);
  }
  polls_.clear();
  ares_timer_.reset();
  round_timer_.reset();
}

void DnsDiscovery::OnSockState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<DnsDiscovery*>(data);
  auto it = self->polls_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close fd: stop watching it first (the watcher leaves epoll at once).
    if (it != self->polls_.end()) self->polls_.erase(it);
    return;
  }
  if (it == self->polls_.end()) {
    if (self->stopping_ && self->channel_ == nullptr) return;
    PollWatcher watcher;
    Status opened = watcher.Open(
        self->loop_, fd, [self, fd](int status, int events) { self->OnPoll(fd, status, events); },
        &self->handles_);
    if (!opened.ok()) {
      // The query on this socket will time out through the c-ares timer.
      LOG_WARN("dns discovery: cannot watch socket").Str("error", opened.message());
      return;
    }
    it = self->polls_.emplace(fd, std::move(watcher)).first;
  }
  const int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (Status started = it->second.Start(events); !started.ok()) {
    LOG_WARN("dns discovery: cannot poll socket").Str("error", started.message());
  }
}

void DnsDiscovery::OnPoll(ares_socket_t fd, int status, int events) {
  if (channel_ == nullptr) return;
  // On a poll error let c-ares read and write: it sees the socket error and fails over.
  const bool err = status < 0;
  const ares_socket_t read_fd = (err || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD;
  const ares_socket_t write_fd = (err || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD;
  ProcessFd(read_fd, write_fd);
}

void DnsDiscovery::ProcessFd(ares_socket_t read_fd, ares_socket_t write_fd) {
  EnterAres();
  ares_process_fd(channel_, read_fd, write_fd);
  LeaveAres();
}

void DnsDiscovery::LeaveAres() {
  --ares_depth_;
  if (ares_depth_ > 0) return;
  if (teardown_pending_) {
    Teardown();
    return;
  }
  UpdateAresTimer();
}

void DnsDiscovery::UpdateAresTimer() {
  if (channel_ == nullptr || ares_timer_ == nullptr) return;
  timeval tv{};
  const timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (next == nullptr) {
    ares_timer_->Stop();
    return;
  }
  const uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 +
                      (static_cast<uint64_t>(next->tv_usec) + 999) / 1000;
  // The loop's cached clock may be stale; without this the timer could fire early and spin.
  uv_update_time(loop_->uv());
  ares_timer_->Start(ms, 0, [this] {
    if (channel_ != nullptr) ProcessFd(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  });
}

void DnsDiscovery::ResolveSoon() {
  if (stopping_ || channel_ == nullptr || round_active_ || round_timer_ == nullptr) return;
  round_timer_->Start(0, 0, [this] { StartRound(); });
}

void DnsDiscovery::StartRound() {
  if (stopping_ || channel_ == nullptr || round_active_) return;
  ++round_;
  round_active_ = true;
  v4_ = FamilyState{};
  v6_ = FamilyState{};
  addresses_.clear();
  capped_ = false;
  EnterAres();
  ares_query(channel_, options_.domain.c_str(), kClassIn, kTypeA, &DnsDiscovery::OnQueryDone,
             new QueryContext{this, round_, AF_INET});
  if (!stopping_) {
    ares_query(channel_, options_.domain.c_str(), kClassIn, kTypeAaaa, &DnsDiscovery::OnQueryDone,
               new QueryContext{this, round_, AF_INET6});
  }
  LeaveAres();
}

void DnsDiscovery::OnQueryDone(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                               int alen) {
  std::unique_ptr<QueryContext> ctx(static_cast<QueryContext*>(arg));
  DnsDiscovery* self = ctx->self;
  if (self->stopping_ || status == ARES_EDESTRUCTION || ctx->round != self->round_ ||
      !self->round_active_) {
    return;
  }
  self->HandleAnswer(ctx->family, status, abuf, alen);
}

void DnsDiscovery::HandleAnswer(int family, int status, const unsigned char* abuf, int alen) {
  FamilyState& state = family == AF_INET ? v4_ : v6_;
  if (state.outcome != FamilyOutcome::kPending) return;
  if (status == ARES_SUCCESS) {
    hostent* host = nullptr;
    const int rc = family == AF_INET ? ares_parse_a_reply(abuf, alen, &host, nullptr, nullptr)
                                     : ares_parse_aaaa_reply(abuf, alen, &host, nullptr, nullptr);
    if (rc == ARES_SUCCESS && host != nullptr) {
      size_t found = 0;
      for (char** a = host->h_addr_list; a != nullptr && *a != nullptr; ++a) {
        if (host->h_addrtype != family) break;
        if (addresses_.size() >= kMaxDnsDiscoveryAddresses) {
          capped_ = true;
          break;
        }
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(family, *a, text, sizeof(text)) != nullptr) {
          addresses_.emplace_back(text);
          ++found;
        }
      }
      state.outcome = found > 0 || capped_ ? FamilyOutcome::kAddresses : FamilyOutcome::kNotFound;
    } else if (rc == ARES_ENODATA) {
      state.outcome = FamilyOutcome::kNotFound;
    } else {
      state.outcome = FamilyOutcome::kFailed;
      state.error = std::string("malformed answer: ") + ares_strerror(rc);
    }
    if (host != nullptr) ares_free_hostent(host);
  } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
    state.outcome = FamilyOutcome::kNotFound;
  } else {
    state.outcome = FamilyOutcome::kFailed;
    state.error = ares_strerror(status);
  }
  if (v4_.outcome != FamilyOutcome::kPending && v6_.outcome != FamilyOutcome::kPending) {
    FinishRound();
  }
}

void DnsDiscovery::FinishRound() {
  round_active_ = false;
  Result<std::vector<std::string>> result = Status::Internal("unset");
  if (!addresses_.empty()) {
    std::vector<std::string> addresses = std::move(addresses_);
    addresses_.clear();
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    if (capped_) {
      LOG_WARN("dns discovery: too many addresses, list capped")
          .Str("domain", options_.domain)
          .Int("max", static_cast<int64_t>(kMaxDnsDiscoveryAddresses));
    }
    result = std::move(addresses);
  } else if (v4_.outcome == FamilyOutcome::kNotFound && v6_.outcome == FamilyOutcome::kNotFound) {
    result = Status::NotFound("no A or AAAA records for " + options_.domain);
  } else {
    std::string message = "resolving " + options_.domain + ":";
    if (v4_.outcome == FamilyOutcome::kFailed) message += " A: " + v4_.error + ";";
    if (v6_.outcome == FamilyOutcome::kFailed) message += " AAAA: " + v6_.error + ";";
    message.pop_back();
    result = Status::Unavailable(std::move(message));
  }
  // Arm the next round first, so a Stop() from inside on_result cancels it.
  if (round_timer_ != nullptr)
    round_timer_->Start(options_.interval_ms, 0, [this] { StartRound(); });
  OnResult callback = on_result_;  // a copy: on_result may call Stop(), which clears on_result_
  if (callback) callback(std::move(result));
}

}  // namespace spegel::cluster
