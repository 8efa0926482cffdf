// DnsDiscovery: finds peer addresses by resolving a headless Service name (A and AAAA) with
// c-ares, driven by the libuv loop, and re-resolving it on an interval.
//
// Ownership: the caller owns the DnsDiscovery. It owns one c-ares channel, one PollWatcher per
// socket c-ares opens, and two Timers (the c-ares timeout and the re-resolve period); all of
// them are in its HandleGroup, which Stop waits for (loop/handle.h).
//
// Threading: loop thread only (construction, Start, Stop, destruction, and every callback;
// Start and Stop assert it). c-ares runs without threads of its own: its sockets are watched by
// the loop and its timeouts are a loop timer, so nothing here blocks.
//
// Also here: parsers for the static peer list and the resolver list flags.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "loop/handle.h"
#include "loop/loop.h"

namespace spegel::cluster {

struct DnsDiscoveryOptions {
  // The name to resolve, e.g. spegel.spegel.svc.cluster.local. It is queried as given (a
  // fully-qualified name; resolv.conf search domains are not applied).
  std::string domain;
  // "ip", "ip:port", "[ipv6]" or "[ipv6]:port" (a bare IPv6 literal has no port); port 53 when
  // absent. Empty = the system configuration (/etc/resolv.conf).
  std::vector<std::string> resolvers;
  uint64_t interval_ms = 10000;  // pause between the end of one round and the start of the next
  uint64_t timeout_ms = 1000;    // first per-try timeout (c-ares doubles it on later tries)
  int tries = 2;
};

// At most this many addresses are reported per round; more are dropped (and logged).
inline constexpr size_t kMaxDnsDiscoveryAddresses = 10000;

class DnsDiscovery {
 public:
  // Runs on the loop thread after each resolution round with either the sorted, unique IP
  // literals of the A and AAAA answers (IPv6 without brackets), or an error: NotFound when both
  // families answered NXDOMAIN or had no records; Unavailable for timeouts, unreachable or
  // failing servers and malformed answers. One family failing while the other answers yields
  // the answers. Never inline from Start(); never after Stop() was called.
  using OnResult = std::function<void(Result<std::vector<std::string>> addresses)>;

  DnsDiscovery(Loop* loop, DnsDiscoveryOptions options, OnResult on_result);
  // REQUIRES: Start() never succeeded, or Stop()'s done callback has run.
  ~DnsDiscovery();
  DnsDiscovery(const DnsDiscovery&) = delete;
  DnsDiscovery& operator=(const DnsDiscovery&) = delete;

  // Validates the options and creates the c-ares channel; the first round starts on a later
  // loop iteration. InvalidArgument for an empty domain, bad resolver text or bad timeouts;
  // Internal when c-ares cannot be initialised. On error no callback ever runs.
  // REQUIRES: called at most once.
  Status Start();

  // Starts a round on a later loop iteration unless one is in flight (it will answer) or Start
  // did not succeed. The caller rate-limits: a hello from an address the last answer did not
  // name asks for one, so that a new pod does not wait a whole interval. The regular rounds go on
  // from the end of this one.
  void ResolveSoon();

  // Cancels the round in flight and closes every c-ares socket and libuv handle. `done` runs on
  // the loop thread from the last handle's close callback (also when nothing was open: Start
  // never succeeded), never inline; it may destroy this object. on_result never runs after this
  // call, even when Stop() is called from inside on_result. The object must stay alive until
  // `done` runs. REQUIRES: called at most once.
  void Stop(std::function<void()> done);

 private:
  enum class FamilyOutcome { kPending, kAddresses, kNotFound, kFailed };
  struct FamilyState {
    FamilyOutcome outcome = FamilyOutcome::kPending;
    std::string error;  // set when kFailed
  };
  struct QueryContext {
    DnsDiscovery* self;
    uint64_t round;
    int family;  // AF_INET or AF_INET6
  };

  static void OnSockState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnQueryDone(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  void StartRound();
  void HandleAnswer(int family, int status, const unsigned char* abuf, int alen);
  void FinishRound();
  void UpdateAresTimer();
  void OnPoll(ares_socket_t fd, int status, int events);
  void ProcessFd(ares_socket_t read_fd, ares_socket_t write_fd);
  void EnterAres() { ++ares_depth_; }
  void LeaveAres();
  void Teardown();

  Loop* loop_;
  DnsDiscoveryOptions options_;
  OnResult on_result_;

  ares_channel channel_ = nullptr;
  // Every handle below, until its close callback has run: what Stop's done waits for.
  HandleGroup handles_;
  std::unique_ptr<Timer> ares_timer_;   // c-ares timeouts; from Start until Teardown
  std::unique_ptr<Timer> round_timer_;  // the next round; from Start until Teardown
  std::unordered_map<ares_socket_t, PollWatcher> polls_;  // one per c-ares socket

  bool started_ = false;
  bool stopping_ = false;
  bool teardown_pending_ = false;  // Stop() was called while inside a c-ares call
  int ares_depth_ = 0;             // nesting of calls into c-ares (its callbacks run inside them)

  uint64_t round_ = 0;  // id of the current round; stale query callbacks are ignored
  bool round_active_ = false;
  FamilyState v4_;
  FamilyState v6_;
  std::vector<std::string> addresses_;  // this round's answers so far
  bool capped_ = false;
};

// Parses "ip:port,ip:port" where ip is an IPv4 literal or a bracketed IPv6 literal (names are
// not allowed) and the port is 1..65535. Whitespace around items is ignored; an empty or blank
// text is an empty list; an empty item is an error. Returned IPs have no brackets and are in
// canonical form.
Result<std::vector<std::pair<std::string, uint16_t>>> ParseStaticPeers(std::string_view text);

// Parses "ip[:port],…" for --dns-resolvers: IPv4 "a.b.c.d" or "a.b.c.d:port", IPv6 "[v6]",
// "[v6]:port" or a bare "v6" (no port). Returns each item normalised with its port (53 when
// absent) as c-ares expects it: "a.b.c.d:53", "[v6]:53". Same whitespace/empty rules as above.
Result<std::vector<std::string>> ParseResolvers(std::string_view text);

}  // namespace spegel::cluster
