#include "membership/dns_discovery.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/loop_util.h"

namespace spegel::cluster {
namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAaaa = 28;

// What the fake server does with one query.
struct FakeReply {
  enum class Kind {
    kAnswer,     // the addresses of the asked family (none of them: NOERROR with no answers)
    kNxDomain,   // rcode 3
    kServFail,   // rcode 2
    kDrop,       // no reply at all
    kTruncate,   // over UDP: an empty reply with the TC bit; over TCP: the full answer
    kMalformed,  // a valid header and question, then an answer record cut short
  };
  Kind kind = Kind::kAnswer;
  std::vector<std::string> addresses;
};

// A DNS server on 127.0.0.1 (UDP and TCP on the same ephemeral port) run on its own thread with
// poll() bounded to 20 ms per wait, so it stops promptly. The handler runs on the server thread.
class FakeDnsServer {
 public:
  using Handler = std::function<FakeReply(const std::string& name, uint16_t qtype)>;

  explicit FakeDnsServer(Handler handler) : handler_(std::move(handler)) {}
  ~FakeDnsServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : {udp_, listener_}) {
      if (fd >= 0) close(fd);
    }
    for (auto& [fd, buf] : conns_) close(fd);
  }

  bool Start() {
    for (int attempt = 0; attempt < 20 && listener_ < 0; ++attempt) {
      if (udp_ >= 0) close(udp_);
      udp_ = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in addr = Loopback(0);
      if (bind(udp_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return false;
      socklen_t len = sizeof(addr);
      getsockname(udp_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
      int tcp = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(tcp, 8) == 0) {
        listener_ = tcp;
      } else {
        close(tcp);
      }
    }
    if (listener_ < 0) return false;
    thread_ = std::thread([this] { Run(); });
    return true;
  }

  uint16_t port() const { return port_; }
  std::string resolver() const { return "127.0.0.1:" + std::to_string(port_); }
  void SetHandler(Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(handler);
  }
  int udp_queries(uint16_t qtype) const { return qtype == kTypeA ? udp_a_ : udp_aaaa_; }
  int tcp_queries() const { return tcp_queries_; }

  static sockaddr_in Loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

 private:
  void Run() {
    while (!stop_) {
      std::vector<pollfd> fds = {{udp_, POLLIN, 0}, {listener_, POLLIN, 0}};
      for (auto& [fd, buf] : conns_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) ServeUdp();
      if (fds[1].revents & POLLIN) {
        const int fd = accept(listener_, nullptr, nullptr);
        if (fd >= 0) {
          timeval tv{1, 0};
          setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
          conns_[fd];
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents != 0) ServeTcp(fds[i].fd);
      }
    }
  }

  void ServeUdp() {
    unsigned char buf[4096];
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(udp_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from),
                               &from_len);
    if (n <= 0) return;
    std::optional<std::string> reply = Answer(std::string(reinterpret_cast<char*>(buf), n), false);
    if (reply) {
      sendto(udp_, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  void ServeTcp(int fd) {
    std::string& buf = conns_[fd];
    char chunk[4096];
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      close(fd);
      conns_.erase(fd);
      return;
    }
    buf.append(chunk, n);
    while (buf.size() >= 2) {
      const size_t len = (static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]);
      if (buf.size() < 2 + len) break;
      const std::string query = buf.substr(2, len);
      buf.erase(0, 2 + len);
      ++tcp_queries_;
      std::optional<std::string> reply = Answer(query, true);
      if (!reply) continue;
      std::string framed;
      framed.push_back(static_cast<char>(reply->size() >> 8));
      framed.push_back(static_cast<char>(reply->size() & 0xff));
      framed += *reply;
      send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
    }
  }

  // Builds the reply to one query, or nothing (drop / unparsable query).
  std::optional<std::string> Answer(const std::string& q, bool tcp) {
    if (q.size() < 12) return std::nullopt;
    size_t pos = 12;
    std::string name;
    while (true) {
      if (pos >= q.size()) return std::nullopt;
      const uint8_t len = static_cast<uint8_t>(q[pos++]);
      if (len == 0) break;
      if (len > 63 || pos + len > q.size()) return std::nullopt;
      if (!name.empty()) name.push_back('.');
      name.append(q, pos, len);
      pos += len;
    }
    if (pos + 4 > q.size()) return std::nullopt;
    const uint16_t qtype = static_cast<uint16_t>((static_cast<uint8_t>(q[pos]) << 8) |
                                                 static_cast<uint8_t>(q[pos + 1]));
    pos += 4;
    if (!tcp) ++(qtype == kTypeA ? udp_a_ : udp_aaaa_);
    FakeReply r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = handler_(name, qtype);
    }
    if (r.kind == FakeReply::Kind::kDrop) return std::nullopt;

    std::vector<std::string> rdatas;
    for (const std::string& a : r.addresses) {
      unsigned char raw[16];
      if (qtype == kTypeA && inet_pton(AF_INET, a.c_str(), raw) == 1) {
        rdatas.emplace_back(reinterpret_cast<char*>(raw), 4);
      } else if (qtype == kTypeAaaa && inet_pton(AF_INET6, a.c_str(), raw) == 1) {
        rdatas.emplace_back(reinterpret_cast<char*>(raw), 16);
      }
    }
    uint16_t flags = 0x8000 | 0x0400 | 0x0080 | (static_cast<uint8_t>(q[2]) & 0x01) << 8;
    uint16_t ancount = static_cast<uint16_t>(rdatas.size());
    bool garbage = false;
    switch (r.kind) {
      case FakeReply::Kind::kNxDomain:
        flags |= 3;
        ancount = 0;
        break;
      case FakeReply::Kind::kServFail:
        flags |= 2;
        ancount = 0;
        break;
      case FakeReply::Kind::kTruncate:
        if (!tcp) {
          flags |= 0x0200;
          ancount = 0;
        }
        break;
      case FakeReply::Kind::kMalformed:
        ancount = 1;
        garbage = true;
        break;
      default: break;
    }
    std::string out;
    auto put16 = [&out](uint16_t v) {
      out.push_back(static_cast<char>(v >> 8));
      out.push_back(static_cast<char>(v & 0xff));
    };
    out.append(q, 0, 2);  // id
    put16(flags);
    put16(1);
    put16(ancount);
    put16(0);
    put16(0);
    out.append(q, 12, pos - 12);  // the question, byte for byte
    if (garbage) {
      out += std::string("\xc0\x0c\x00\x01\x00", 5);  // name, type, then the record stops
      return out;
    }
    for (size_t i = 0; i < ancount; ++i) {
      put16(0xc00c);  // pointer to the question name
      put16(qtype);
      put16(1);  // IN
      put16(0);
      put16(30);  // TTL
      put16(static_cast<uint16_t>(rdatas[i].size()));
      out += rdatas[i];
    }
    return out;
  }

  std::mutex mu_;
  Handler handler_;  // guarded by mu_
  int udp_ = -1;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::map<int, std::string> conns_;  // server thread only
  std::atomic<bool> stop_{false};
  std::atomic<int> udp_a_{0};
  std::atomic<int> udp_aaaa_{0};
  std::atomic<int> tcp_queries_{0};
  std::thread thread_;
};

FakeReply Answer(std::vector<std::string> addresses) {
  return {FakeReply::Kind::kAnswer, std::move(addresses)};
}
FakeReply Reply(FakeReply::Kind kind) { return {kind, {}}; }

// A port on 127.0.0.1 where nothing listens (bound, then closed).
uint16_t ClosedUdpPort() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr = FakeDnsServer::Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

using Addresses = std::vector<std::string>;

// Runs one DnsDiscovery on its own loop and records its results.
struct Harness {
  explicit Harness(DnsDiscoveryOptions options)
      : discovery(&loop, std::move(options), [this](Result<Addresses> r) {
          CHECK(loop.IsLoopThread());
          results.push_back(std::move(r));
        }) {}
  ~Harness() {
    if (!stopped) StopAndWait();
  }

  // Runs until `count` results arrived; false on timeout.
  bool WaitResults(size_t count, uint64_t timeout_ms = 5000) {
    return testing::RunUntil(
        &loop, [&] { return results.size() >= count; }, timeout_ms);
  }
  void StopAndWait() {
    bool done = false;
    discovery.Stop([&] { done = true; });
    CHECK_FALSE(done);  // never inline
    CHECK(testing::RunUntil(
        &loop, [&] { return done; }, 5000));
    stopped = true;
  }

  Loop loop;
  std::vector<Result<Addresses>> results;
  DnsDiscovery discovery;
  bool stopped = false;
};

DnsDiscoveryOptions Options(const FakeDnsServer& server) {
  DnsDiscoveryOptions o;
  o.domain = "spegel.test";
  o.resolvers = {server.resolver()};
  o.interval_ms = 60000;
  o.timeout_ms = 300;
  o.tries = 1;
  return o;
}

uint64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - since)
                                   .count());
}

}  // namespace

TEST_CASE("ParseStaticPeers") {
  using Peers = std::vector<std::pair<std::string, uint16_t>>;
  struct Good {
    const char* text;
    Peers want;
  };
  const Good good[] = {
      {"", {}},
      {"   ", {}},
      {"10.0.0.1:5001", {{"10.0.0.1", 5001}}},
      {"10.0.0.1:5001,10.0.0.2:1", {{"10.0.0.1", 5001}, {"10.0.0.2", 1}}},
      {" 10.0.0.1:5001 ,\t10.0.0.2:65535 ", {{"10.0.0.1", 5001}, {"10.0.0.2", 65535}}},
      {"[fd00::1]:5001", {{"fd00::1", 5001}}},
      {"[FD00:0:0::1]:5001", {{"fd00::1", 5001}}},  // canonical form
      {"[::ffff:10.0.0.1]:7", {{"::ffff:10.0.0.1", 7}}},
  };
  for (const Good& g : good) {
    CAPTURE(g.text);
    Result<Peers> r = ParseStaticPeers(g.text);
    REQUIRE(r.ok());
    CHECK(*r == g.want);
  }
  const char* bad[] = {
      "10.0.0.1",         // no port
      "10.0.0.1:",        // empty port
      "10.0.0.1:0",       // port 0
      "10.0.0.1:65536",   // too big
      "10.0.0.1:123456",  // too long
      "10.0.0.1:-1",      // sign
      "10.0.0.1:+5",      // sign
      "10.0.0.1:50 01",   // inner space
      "10.0.0.1:5001,",   // trailing empty item
      ",10.0.0.1:5001",   // leading empty item
      "10.0.0.1:5001,,10.0.0.2:5001",
      "10.0.0.1:5001, ,10.0.0.2:5001",
      "node1:5001",  // names are not allowed
      "localhost:5001",
      "10.0.0.256:5001",
      "10.0.0:5001",
      "010.0.0.1:5001",  // leading zero (ambiguous octal)
      "fd00::1:5001",    // IPv6 without brackets
      "fd00::1",
      "[fd00::1]",  // no port
      "[fd00::1]5001",
      "[fd00::1:5001",
      "[10.0.0.1]:5001",      // brackets around IPv4
      "[fe80::1%eth0]:5001",  // zone ids are not supported
      "[]:5001",
  };
  for (const char* b : bad) {
    CAPTURE(b);
    Result<Peers> r = ParseStaticPeers(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_FALSE(r.status().message().empty());
  }
  // A bad item is named in the error.
  CHECK(ParseStaticPeers("10.0.0.1:5001,node2:5001").status().message().find("node2") !=
        std::string::npos);
  // Huge input gives an error, not a huge message.
  const std::string huge(100000, 'x');
  Result<Peers> r = ParseStaticPeers(huge);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().size() < 400);
}

TEST_CASE("ParseResolvers") {
  struct Good {
    const char* text;
    std::vector<std::string> want;
  };
  const Good good[] = {
      {"", {}},
      {"10.96.0.10", {"10.96.0.10:53"}},
      {"10.96.0.10:5353", {"10.96.0.10:5353"}},
      {" 10.0.0.1 , 10.0.0.2:54 ", {"10.0.0.1:53", "10.0.0.2:54"}},
      {"::1", {"[::1]:53"}},
      {"fd00::a", {"[fd00::a]:53"}},
      {"[fd00::a]", {"[fd00::a]:53"}},
      {"[fd00::A]:5300", {"[fd00::a]:5300"}},
      {"fd00::1:53", {"[fd00::1:53]:53"}},  // a bare IPv6 literal never has a port
  };
  for (const Good& g : good) {
    CAPTURE(g.text);
    Result<std::vector<std::string>> r = ParseResolvers(g.text);
    REQUIRE(r.ok());
    CHECK(*r == g.want);
  }
  const char* bad[] = {
      "dns.google", "10.0.0.1:",     "10.0.0.1:0",  "10.0.0.1:70000", "10.0.0.1,",
      ",",          "10.0.0.1,,x",   "[fd00::1",    "[fd00::1]:",     "[fd00::1]x",
      "fd00:::1:2", "10.0.0.1:53:1", "1.2.3.4 :53", "[1.2.3.4]",      "10.0.0.1 10.0.0.2",
  };
  for (const char* b : bad) {
    CAPTURE(b);
    Result<std::vector<std::string>> r = ParseResolvers(b);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("DnsDiscovery: Start rejects bad options and never calls back") {
  struct Case {
    const char* name;
    DnsDiscoveryOptions options;
  };
  DnsDiscoveryOptions base;
  base.domain = "spegel.test";
  base.resolvers = {"127.0.0.1:53"};
  std::vector<Case> cases;
  cases.push_back({"empty domain", base});
  cases.back().options.domain = "";
  cases.push_back({"resolver name", base});
  cases.back().options.resolvers = {"dns.example"};
  cases.push_back({"resolver port", base});
  cases.back().options.resolvers = {"127.0.0.1:0"};
  cases.push_back({"empty resolver", base});
  cases.back().options.resolvers = {""};
  cases.push_back({"zero timeout", base});
  cases.back().options.timeout_ms = 0;
  cases.push_back({"zero tries", base});
  cases.back().options.tries = 0;
  cases.push_back({"zero interval", base});
  cases.back().options.interval_ms = 0;
  for (Case& c : cases) {
    CAPTURE(c.name);
    Harness h(c.options);
    Status s = h.discovery.Start();
    CHECK(s.code() == Code::kInvalidArgument);
    testing::RunUntil(
        &h.loop, [] { return false; }, 30);
    CHECK(h.results.empty());
    h.StopAndWait();  // done still runs, later
  }
}

TEST_CASE("DnsDiscovery: A and AAAA answers are merged, sorted and unique") {
  FakeDnsServer server([](const std::string& name, uint16_t) {
    if (name != "spegel.test") return Reply(FakeReply::Kind::kNxDomain);
    return Answer({"10.0.0.3", "10.0.0.1", "fd00::2", "10.0.0.2", "10.0.0.1", "FD00::1"});
  });
  REQUIRE(server.Start());
  Harness h(Options(server));
  REQUIRE(h.discovery.Start().ok());
  CHECK(h.results.empty());  // nothing inline
  REQUIRE(h.WaitResults(1));
  REQUIRE(h.results[0].ok());
  CHECK(*h.results[0] == Addresses{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2"});
  CHECK(server.udp_queries(kTypeA) == 1);
  CHECK(server.udp_queries(kTypeAaaa) == 1);
}

TEST_CASE("DnsDiscovery: one family without records still gives the other's answers") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Answer({"10.1.2.3"}); });
  REQUIRE(server.Start());
  Harness h(Options(server));
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1));
  REQUIRE(h.results[0].ok());
  CHECK(*h.results[0] == Addresses{"10.1.2.3"});
}

TEST_CASE("DnsDiscovery: one family timing out still gives the other's answers") {
  FakeDnsServer server([](const std::string&, uint16_t qtype) {
    return qtype == kTypeAaaa ? Answer({"fd00::7"}) : Reply(FakeReply::Kind::kDrop);
  });
  REQUIRE(server.Start());
  Harness h(Options(server));
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1));
  REQUIRE(h.results[0].ok());
  CHECK(*h.results[0] == Addresses{"fd00::7"});
}

TEST_CASE("DnsDiscovery: NXDOMAIN and NODATA are NotFound") {
  for (FakeReply::Kind kind : {FakeReply::Kind::kNxDomain, FakeReply::Kind::kAnswer}) {
    FakeDnsServer server([kind](const std::string&, uint16_t) { return Reply(kind); });
    REQUIRE(server.Start());
    Harness h(Options(server));
    REQUIRE(h.discovery.Start().ok());
    REQUIRE(h.WaitResults(1));
    REQUIRE_FALSE(h.results[0].ok());
    CHECK(h.results[0].status().code() == Code::kNotFound);
    CHECK(h.results[0].status().message().find("spegel.test") != std::string::npos);
  }
}

TEST_CASE("DnsDiscovery: a silent server is Unavailable within the configured bound") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kDrop); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.timeout_ms = 200;
  o.tries = 2;  // 200 ms, then 400 ms (c-ares doubles the timeout on each pass)
  Harness h(o);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1, 5000));
  const uint64_t elapsed = ElapsedMs(start);
  CHECK(elapsed >= 150);
  CHECK(elapsed < 2000);
  REQUIRE_FALSE(h.results[0].ok());
  CHECK(h.results[0].status().code() == Code::kUnavailable);
  CHECK(server.udp_queries(kTypeA) == 2);
}

TEST_CASE("DnsDiscovery: a server that is down is Unavailable, fast") {
  DnsDiscoveryOptions o;
  o.domain = "spegel.test";
  o.resolvers = {"127.0.0.1:" + std::to_string(ClosedUdpPort())};
  o.timeout_ms = 2000;
  o.tries = 2;
  o.interval_ms = 60000;
  Harness h(o);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1, 5000));
  CHECK(ElapsedMs(start) < 1500);  // the ICMP refusal is seen; no waiting for the timeout
  REQUIRE_FALSE(h.results[0].ok());
  CHECK(h.results[0].status().code() == Code::kUnavailable);
}

TEST_CASE("DnsDiscovery: a second resolver is used when the first is down") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Answer({"10.9.9.9"}); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.resolvers = {"127.0.0.1:" + std::to_string(ClosedUdpPort()), server.resolver()};
  o.tries = 2;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1));
  REQUIRE(h.results[0].ok());
  CHECK(*h.results[0] == Addresses{"10.9.9.9"});
}

TEST_CASE("DnsDiscovery: a truncated UDP answer is retried over TCP (2,000 records)") {
  std::vector<std::string> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  }
  FakeDnsServer server([&many](const std::string&, uint16_t qtype) {
    if (qtype == kTypeAaaa) return Answer({});
    return FakeReply{FakeReply::Kind::kTruncate, many};
  });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.timeout_ms = 1000;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1));
  REQUIRE(h.results[0].ok());
  CHECK(h.results[0]->size() == 2000);
  std::vector<std::string> want = many;
  std::sort(want.begin(), want.end());
  CHECK(*h.results[0] == want);
  CHECK(server.tcp_queries() >= 1);
}

TEST_CASE("DnsDiscovery: malformed and failing answers are errors, and it keeps going") {
  FakeDnsServer server(
      [](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kMalformed); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.interval_ms = 20;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(1));
  REQUIRE_FALSE(h.results[0].ok());
  CHECK(h.results[0].status().code() == Code::kUnavailable);
  CHECK(h.results[0].status().message().find("malformed") != std::string::npos);

  server.SetHandler([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kServFail); });
  REQUIRE(h.WaitResults(3));
  REQUIRE_FALSE(h.results.back().ok());
  CHECK(h.results.back().status().code() == Code::kUnavailable);

  server.SetHandler([](const std::string&, uint16_t) { return Answer({"10.0.0.5"}); });
  REQUIRE(testing::RunUntil(
      &h.loop, [&] { return h.results.back().ok(); }, 5000));
  CHECK(*h.results.back() == Addresses{"10.0.0.5"});
}

TEST_CASE("DnsDiscovery: re-resolution picks up changed answers") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Answer({"10.0.0.1"}); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.interval_ms = 30;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(h.WaitResults(2));
  CHECK(*h.results[0] == Addresses{"10.0.0.1"});
  CHECK(*h.results[1] == Addresses{"10.0.0.1"});
  server.SetHandler([](const std::string&, uint16_t) {
    return Answer({"10.0.0.3", "10.0.0.2", "fd00::9"});
  });
  REQUIRE(testing::RunUntil(
      &h.loop, [&] { return h.results.back().ok() && h.results.back()->size() == 3; }, 5000));
  CHECK(*h.results.back() == Addresses{"10.0.0.2", "10.0.0.3", "fd00::9"});
  server.SetHandler([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kNxDomain); });
  REQUIRE(testing::RunUntil(
      &h.loop, [&] { return !h.results.back().ok(); }, 5000));
  CHECK(h.results.back().status().code() == Code::kNotFound);
}

TEST_CASE("DnsDiscovery: rounds never overlap") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kDrop); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.timeout_ms = 100;
  o.tries = 1;
  o.interval_ms = 1;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  testing::RunUntil(
      &h.loop, [] { return false; }, 700);
  // Each round asks once per family and waits 100 ms; overlapping rounds would send far more.
  CHECK(h.results.size() >= 3);
  CHECK(h.results.size() <= 8);
  CHECK(server.udp_queries(kTypeA) <= static_cast<int>(h.results.size()) + 1);
}

TEST_CASE("DnsDiscovery: Stop cancels a round in flight; no callback afterwards") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kDrop); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.timeout_ms = 300;
  Harness h(o);
  REQUIRE(h.discovery.Start().ok());
  REQUIRE(testing::RunUntil(
      &h.loop, [&] { return server.udp_queries(kTypeA) >= 1; }, 5000));
  h.StopAndWait();
  testing::RunUntil(
      &h.loop, [] { return false; }, 500);  // past the query timeout
  CHECK(h.results.empty());
}

TEST_CASE("DnsDiscovery: Stop before the first round and Stop without Start") {
  {
    FakeDnsServer server([](const std::string&, uint16_t) { return Answer({"10.0.0.1"}); });
    REQUIRE(server.Start());
    Harness h(Options(server));
    REQUIRE(h.discovery.Start().ok());
    h.StopAndWait();
    testing::RunUntil(
        &h.loop, [] { return false; }, 100);
    CHECK(h.results.empty());
    CHECK(server.udp_queries(kTypeA) == 0);
  }
  {
    DnsDiscoveryOptions o;
    o.domain = "spegel.test";
    Harness h(o);
    h.StopAndWait();
    CHECK(h.results.empty());
  }
}

TEST_CASE("DnsDiscovery: Stop from inside on_result") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Answer({"10.0.0.1"}); });
  REQUIRE(server.Start());
  DnsDiscoveryOptions o = Options(server);
  o.interval_ms = 1;
  Loop loop;
  int results = 0;
  bool done = false;
  DnsDiscovery* discovery_ptr = nullptr;
  DnsDiscovery discovery(&loop, o, [&](Result<Addresses> r) {
    CHECK(r.ok());
    ++results;
    discovery_ptr->Stop([&] { done = true; });
    CHECK_FALSE(done);
  });
  discovery_ptr = &discovery;
  REQUIRE(discovery.Start().ok());
  REQUIRE(testing::RunUntil(
      &loop, [&] { return done; }, 5000));
  testing::RunUntil(
      &loop, [] { return false; }, 50);
  CHECK(results == 1);
}

TEST_CASE("DnsDiscovery: destroyed without Stop closes its handles") {
  FakeDnsServer server([](const std::string&, uint16_t) { return Reply(FakeReply::Kind::kDrop); });
  REQUIRE(server.Start());
  Loop loop;
  int results = 0;
  {
    DnsDiscovery discovery(&loop, Options(server), [&](Result<Addresses>) { ++results; });
    REQUIRE(discovery.Start().ok());
    REQUIRE(testing::RunUntil(
        &loop, [&] { return server.udp_queries(kTypeA) >= 1; }, 5000));
  }
  testing::RunUntil(
      &loop, [] { return false; }, 50);
  CHECK(results == 0);
  // ~Loop reports any handle left open.
}

}  // namespace spegel::cluster
