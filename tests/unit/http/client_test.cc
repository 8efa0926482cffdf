// Client tests over real sockets on 127.0.0.1 only. Well-behaved peers are spegel's own
// http::Server on the same loop; misbehaving peers are a RawPeer: a blocking socket in its own
// thread that runs a script (never answer, stall, garbage, close mid-body...). Every test ends by
// proving that the client left no open uv handle on the loop; ASan proves the memory was freed.
#include "http/client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/loop_util.h"
#include "http/connection_pool.h"
#include "http/server.h"
#include "loop/loop.h"

namespace spegel::http {
namespace {

using spegel::testing::OpenHandles;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;

char PatternByte(uint64_t i) { return static_cast<char>('a' + (i % 23)); }

std::string Pattern(uint64_t offset, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = PatternByte(offset + i);
  return s;
}

// Streams `length` pattern bytes, `chunk` bytes per Proceed(), answered inline.
class PatternSource : public BodySource {
 public:
  PatternSource(uint64_t length, size_t chunk) : length_(length), chunk_(chunk) {}
  void Proceed(BodySink& sink) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, length_ - sent_));
    const std::string data = Pattern(sent_, n);
    sent_ += n;
    sink.Write(data);
  }
  void Stop() override {}

 private:
  uint64_t length_;
  size_t chunk_;
  uint64_t sent_ = 0;
};

class TestHandler : public Handler {
 public:
  void Handle(Request& request, ResponseWriter& writer) override {
    const std::string path(request.path());
    if (path == "/hello") {
      writer.Respond(200, {{"Content-Type", "text/plain"}, {"X-Test", "yes"}}, "hello");
    } else if (path == "/echo") {
      // What the client sent: method, Host, Content-Length, Connection and a custom header.
      std::string out(request.method_name());
      for (const char* name : {"Host", "Content-Length", "Connection", "X-Custom"}) {
        out += "|";
        out += std::string(request.Header(name).value_or("-"));
      }
      writer.Respond(200, {}, out);
    } else if (path == "/stream") {
      const uint64_t length = std::strtoull(std::string(request.query()).c_str(), nullptr, 10);
      writer.RespondStream(200, {}, length, std::make_unique<PatternSource>(length, 100 * 1000));
    } else if (path == "/head") {
      writer.RespondHead(200, {{"X-Size", "1234"}}, 1234);
    } else {
      writer.Respond(404, {}, "");
    }
  }
};

// A loop with spegel's own server on 127.0.0.1:<port>.
struct Env {
  Loop loop;
  TestHandler handler;
  Server server{&loop, &handler};
  uint16_t port = 0;

  Env() {
    auto address = ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = server.Listen(*address);
    REQUIRE(bound.ok());
    port = *bound;
  }
  ~Env() {
    bool down = false;
    server.Shutdown(1000, [&] { down = true; });
    RunUntil(&loop, [&] { return down; });
    CHECK(down);
    CHECK(OpenHandles(&loop) == 0);
  }

  ClientRequest Get(std::string target) {
    ClientRequest r;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = std::move(target);
    return r;
  }
};

// A misbehaving peer: accepts connections on 127.0.0.1 in its own thread, one after the other,
// at most `max_connections`, and runs `script` on each blocking socket (with 5 s send/receive
// timeouts so a broken test cannot hang). `accepted` counts the connections, including the one
// the script is running on.
class RawPeer {
 public:
  explicit RawPeer(std::function<void(RawPeer&, int fd)> script, int max_connections = 1)
      : script_(std::move(script)), max_connections_(max_connections) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listen_fd_, 8) == 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~RawPeer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  bool stopping() const { return stop_; }
  std::atomic<uint64_t> sent{0};
  std::atomic<int> accepted{0};
  std::string request;  // The request head the peer read (set before the script goes on).

  // Reads until the end of the request head. False on EOF or timeout.
  bool ReadHead(int fd) {
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      request.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads the next request head on a kept-alive connection (requests without a body), one byte
  // at a time so that nothing of a later request is consumed. False on EOF or timeout.
  bool ReadNextHead(int fd) {
    request.clear();
    char c;
    while (request.size() < 4 || request.compare(request.size() - 4, 4, "\r\n\r\n") != 0) {
      if (::recv(fd, &c, 1, 0) != 1) return false;
      request.push_back(c);
    }
    return true;
  }
  static bool Send(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Waits until the client closes (EOF or error) or the test ends.
  void WaitForClose(int fd) {
    char buf[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      if (::recv(fd, buf, sizeof(buf), 0) <= 0) return;
    }
  }

 private:
  void Run() {
    while (!stop_ && accepted < max_connections_) {
      int fd = -1;
      while (!stop_ && fd < 0) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      }
      if (fd < 0) return;
      ++accepted;
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      script_(*this, fd);
      ::close(fd);
    }
  }

  std::function<void(RawPeer&, int)> script_;
  int max_connections_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Records every callback of one exchange and enforces the contract as it goes: on_head once and
// first, on_data only after on_head and never twice without a ReadMore() in between, nothing
// after on_done.
struct Recorder {
  int heads = 0;
  int datas = 0;
  int dones = 0;
  bool awaiting_read_more = false;
  bool violation = false;
  size_t max_chunk = 0;
  ClientResponse response;
  std::string body;
  Status status;
  std::unique_ptr<ClientExchange> exchange;
  // Behaviour: ReadMore() at once from on_data (default) or not at all (the test drives it).
  bool auto_read_more = true;
  std::function<void()> on_head_hook;
  std::function<void()> on_data_hook;
  std::function<void()> on_done_hook;

  ClientCallbacks Callbacks() {
    ClientCallbacks cb;
    cb.on_head = [this](const ClientResponse& r) {
      if (heads != 0 || datas != 0 || dones != 0) violation = true;
      ++heads;
      response = r;
      if (on_head_hook) on_head_hook();
    };
    cb.on_data = [this](std::string_view data) {
      if (heads != 1 || dones != 0 || awaiting_read_more || data.empty()) violation = true;
      ++datas;
      max_chunk = std::max(max_chunk, data.size());
      body.append(data);
      awaiting_read_more = true;
      if (auto_read_more) ReadMore();
      if (on_data_hook) on_data_hook();
    };
    cb.on_done = [this](Status s) {
      if (dones != 0 || awaiting_read_more) violation = true;
      ++dones;
      status = std::move(s);
      if (on_done_hook) on_done_hook();
    };
    return cb;
  }
  void ReadMore() {
    awaiting_read_more = false;
    exchange->ReadMore();
  }
  void Start(Loop* loop, ClientRequest request, ClientOptions options = {}) {
    exchange = ClientExchange::Start(loop, std::move(request), options, Callbacks());
    // Never inline from Start().
    CHECK(heads + datas + dones == 0);
  }
};

ClientRequest RawGet(uint16_t port, std::string target = "/x") {
  ClientRequest r;
  r.host = "127.0.0.1";
  r.port = port;
  r.target = std::move(target);
  return r;
}

// A port on 127.0.0.1 with nothing listening.
uint16_t ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------------
// Against spegel's server.

TEST_CASE("Client: GET against the server: head, body, Ok") {
  Env env;
  Recorder rec;
  rec.Start(&env.loop, env.Get("/hello"));
  REQUIRE(RunUntil(&env.loop, [&] { return rec.dones == 1; }));
  CHECK_FALSE(rec.violation);
  CHECK(rec.status.ok());
  CHECK(rec.response.status == 200);
  CHECK(rec.response.Header("content-type") == std::optional<std::string_view>("text/plain"));
  CHECK(rec.response.Header("X-TEST") == std::optional<std::string_view>("yes"));
  REQUIRE(rec.response.content_length.has_value());
  CHECK(*rec.response.content_length == 5);
  CHECK(rec.body == "hello");
  CHECK(rec.heads == 1);
  rec.exchange.reset();
}

TEST_CASE("Client: the request carries Host, Content-Length and Connection: close") {
  Env env;
  ClientRequest r = env.Get("/echo");
  r.method = "POST";
  r.body = "0123456789";
  r.headers = {{"X-Custom", "v"}, {"Host", "evil"}, {"Content-Length", "99"}};
  bool called = false;
  Result<FetchResult> result = Status::Internal("not called");
  auto handle = Fetch(&env.loop, r, {}, 1024, [&](Result<FetchResult> res) {
    called = true;
    result = std::move(res);
  });
  CHECK_FALSE(called);
  REQUIRE(RunUntil(&env.loop, [&] { return called; }));
  REQUIRE(result.ok());
  CHECK(result->response.status == 200);
  CHECK(result->body == "POST|127.0.0.1:" + std::to_string(env.port) + "|10|close|v");

  // POST without a body still says Content-Length: 0; GET says nothing.
  r.body.clear();
  called = false;
  handle = Fetch(&env.loop, r, {}, 1024, [&](Result<FetchResult> res) {
    called = true;
    result = std::move(res);
  });
  REQUIRE(RunUntil(&env.loop, [&] { return called; }));
  REQUIRE(result.ok());
  CHECK(result->body == "POST|127.0.0.1:" + std::to_string(env.port) + "|0|close|v");
  called = false;
  handle = Fetch(&env.loop, env.Get("/echo"), {}, 1024, [&](Result<FetchResult> res) {
    called = true;
    result = std::move(res);
  });
  REQUIRE(RunUntil(&env.loop, [&] { return called; }));
  REQUIRE(result.ok());
  CHECK(result->body == "GET|127.0.0.1:" + std::to_string(env.port) + "|-|close|-");
}

TEST_CASE("Client: HEAD gets the announced length and no body") {
  Env env;
  Recorder rec;
  ClientRequest r = env.Get("/head");
  r.method = "HEAD";
  rec.Start(&env.loop, r);
  REQUIRE(RunUntil(&env.loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.response.status == 200);
  REQUIRE(rec.response.content_length.has_value());
  CHECK(*rec.response.content_length == 1234);
  CHECK(rec.datas == 0);
  CHECK_FALSE(rec.violation);
}

TEST_CASE("Client: a streamed 5 MB body arrives intact in bounded chunks") {
  Env env;
  Recorder rec;
  ClientOptions options;
  options.read_chunk_bytes = 16 * 1024;
  const uint64_t length = 5'000'000;
  rec.Start(&env.loop, env.Get("/stream?" + std::to_string(length)), options);
  REQUIRE(RunUntil(
      &env.loop, [&] { return rec.dones == 1; }, 10000));
  CHECK(rec.status.ok());
  CHECK_FALSE(rec.violation);
  CHECK(rec.max_chunk <= options.read_chunk_bytes);
  REQUIRE(rec.body.size() == length);
  CHECK(rec.body == Pattern(0, length));
}

TEST_CASE("Client: 404 with an empty body is a successful exchange") {
  Env env;
  Recorder rec;
  rec.Start(&env.loop, env.Get("/nothing"));
  REQUIRE(RunUntil(&env.loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.response.status == 404);
  CHECK(rec.datas == 0);
}

TEST_CASE("Client: IPv6 loopback") {
  const int probe = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  const bool have_v6 = probe >= 0 &&
                       ::bind(probe, reinterpret_cast<sockaddr*>(&a6), sizeof(a6)) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) return;  // No ::1 here.
  Loop loop;
  TestHandler handler;
  Server server(&loop, &handler);
  auto address = ParseListenAddress("[::1]:0");
  REQUIRE(address.ok());
  auto port = server.Listen(*address);
  REQUIRE(port.ok());
  for (const char* host : {"::1", "[::1]"}) {
    Recorder rec;
    ClientRequest r;
    r.host = host;
    r.port = *port;
    r.target = "/echo";
    rec.Start(&loop, r);
    REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
    CHECK(rec.status.ok());
    CHECK(rec.body == "GET|[::1]:" + std::to_string(*port) + "|-|close|-");
  }
  bool down = false;
  server.Shutdown(1000, [&] { down = true; });
  REQUIRE(RunUntil(&loop, [&] { return down; }));
  CHECK(OpenHandles(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// Errors that never reach a peer.

TEST_CASE("Client: invalid requests fail through on_done, never inline") {
  Loop loop;
  struct Case {
    std::string host;
    std::string method;
    std::string target;
    Headers headers;
  };
  const Case cases[] = {
      {"example.com", "GET", "/", {}},
      {"10.0.0", "GET", "/", {}},
      {"127.0.0.1", "GE T", "/", {}},
      {"127.0.0.1", "GET", "/a b", {}},
      {"127.0.0.1", "GET", "", {}},
      {"127.0.0.1", "GET", "/", {{"X-A", "a\r\nInjected: 1"}}},
      {"127.0.0.1", "GET", "/", {{"Bad Name", "v"}}},
      {"fe80::1%nosuchiface0", "GET", "/", {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.host);
    CAPTURE(c.target);
    Recorder rec;
    ClientRequest r;
    r.host = c.host;
    r.port = 1;
    r.method = c.method;
    r.target = c.target;
    r.headers = c.headers;
    rec.Start(&loop, r);
    REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
    CHECK(rec.status.code() == Code::kInvalidArgument);
    CHECK(rec.heads == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("Client: connection refused is Unavailable") {
  Loop loop;
  Recorder rec;
  rec.Start(&loop, RawGet(ClosedPort()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kUnavailable);
  CHECK(rec.status.message().find("refused") != std::string::npos);
  CHECK(rec.heads == 0);
  rec.exchange.reset();
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// Misbehaving peers.

TEST_CASE("Client: a peer that accepts and never answers hits the head timeout") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    p.WaitForClose(fd);
  });
  Recorder rec;
  ClientOptions options;
  options.head_timeout_ms = 150;
  const auto start = std::chrono::steady_clock::now();
  rec.Start(&loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(rec.status.code() == Code::kDeadlineExceeded);
  CHECK(elapsed >= std::chrono::milliseconds(140));
  CHECK(elapsed < std::chrono::milliseconds(2000));
  CHECK(rec.heads == 0);
  CHECK(peer.request.rfind("GET /x HTTP/1.1\r\n", 0) == 0);
  rec.exchange.reset();
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("Client: a head then a stall hits the idle timeout after on_head") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    p.WaitForClose(fd);
  });
  Recorder rec;
  ClientOptions options;
  options.idle_timeout_ms = 150;
  rec.Start(&loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kDeadlineExceeded);
  CHECK(rec.heads == 1);
  CHECK(rec.body == "abc");
  CHECK_FALSE(rec.violation);
}

TEST_CASE("Client: the idle timer does not run while the consumer holds a chunk") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RawPeer::Send(fd, "def");
    p.WaitForClose(fd);
  });
  Recorder rec;
  rec.auto_read_more = false;
  ClientOptions options;
  options.idle_timeout_ms = 100;
  rec.Start(&loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&loop, [&] { return rec.datas == 1; }));
  RunFor(&loop, 300);  // Three idle timeouts long: the consumer's delay is not the peer's.
  CHECK(rec.dones == 0);
  rec.ReadMore();
  CHECK(rec.dones == 0);  // Never inline from ReadMore().
  REQUIRE(RunUntil(&loop, [&] { return rec.datas == 2; }));
  rec.ReadMore();
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.body == "abcdef");
  CHECK_FALSE(rec.violation);
}

TEST_CASE("Client: a peer closing mid-body is an error, not Ok") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(40, 'x'));
  });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kDataLoss);
  CHECK(rec.status.message().find("40 of 100") != std::string::npos);
  CHECK(rec.body.size() == 40);
  CHECK_FALSE(rec.violation);
}

TEST_CASE("Client: a peer closing inside a chunked body is an error") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kDataLoss);
  CHECK(rec.body == "hello");
}

TEST_CASE("Client: a peer closing without any answer is an error") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) { p.ReadHead(fd); });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kDataLoss);
  CHECK(rec.heads == 0);
}

TEST_CASE("Client: garbage is a clear error") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    p.WaitForClose(fd);
  });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kDataLoss);
  CHECK(rec.status.message().find("malformed response") != std::string::npos);
  CHECK(rec.heads == 0);
}

TEST_CASE("Client: a huge head is refused at the limit, without reading it all") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    std::string head = "HTTP/1.1 200 OK\r\n";
    RawPeer::Send(fd, head);
    // An endless head: 8 MiB of headers unless the client gives up (send then fails).
    const std::string line = "X-Filler: " + std::string(1000, 'f') + "\r\n";
    for (int i = 0; i < 8 * 1024 && !p.stopping(); ++i) {
      if (!RawPeer::Send(fd, line)) break;
      p.sent += line.size();
    }
  });
  Recorder rec;
  ClientOptions options;
  options.max_head_bytes = 4096;
  rec.Start(&loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.code() == Code::kResourceExhausted);
  CHECK(rec.heads == 0);
}

TEST_CASE("Client: chunked bodies are decoded and interim 1xx skipped") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    RawPeer::Send(fd, "4\r\nwiki\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    RawPeer::Send(fd, "6;x=y\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n");
    p.WaitForClose(fd);
  });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.response.status == 200);
  CHECK_FALSE(rec.response.content_length.has_value());
  CHECK(rec.body == "wikipedia in \r\n\r\nchunks.");
  CHECK_FALSE(rec.violation);
}

TEST_CASE("Client: a close-delimited body ends Ok at EOF") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.0 200 OK\r\n\r\nbody until close");
  });
  Recorder rec;
  rec.Start(&loop, RawGet(peer.port()));
  REQUIRE(RunUntil(&loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.body == "body until close");
}

TEST_CASE("Client: backpressure: a 32 MiB body with a slow consumer stays one chunk deep") {
  Loop loop;
  constexpr uint64_t kTotal = 32ull * 1024 * 1024;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kTotal) + "\r\n\r\n");
    const std::string block = Pattern(0, 23 * 8192);  // Whole pattern periods: blocks repeat.
    uint64_t sent = 0;
    while (sent < kTotal && !p.stopping()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), kTotal - sent));
      if (!RawPeer::Send(fd, std::string_view(block.data(), n))) break;
      sent += n;
      p.sent = sent;
    }
    p.WaitForClose(fd);
  });
  Recorder rec;
  rec.auto_read_more = false;
  ClientOptions options;
  options.read_chunk_bytes = 64 * 1024;
  uint64_t received = 0;
  bool pattern_ok = true;
  rec.on_data_hook = [&] {
    // Check the bytes as they come and keep none: the test's own memory stays bounded too.
    const std::string& b = rec.body;
    for (size_t i = 0; i < b.size() && pattern_ok; ++i) {
      if (b[i] != PatternByte(received + i)) pattern_ok = false;
    }
    received += b.size();
    rec.body.clear();
  };
  rec.Start(&loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&loop, [&] { return rec.datas == 1; }));
  // The consumer holds its chunk: the client must stop reading, so the peer's send blocks once
  // the kernel buffers are full, far below 32 MiB.
  RunFor(&loop, 300);
  const uint64_t sent_a = peer.sent;
  RunFor(&loop, 200);
  const uint64_t sent_b = peer.sent;
  CHECK(rec.datas == 1);
  CHECK(sent_a == sent_b);
  CHECK(sent_b < kTotal / 4);
  // Now drain with a ReadMore() delayed to the next loop turn each time.
  Timer later(&loop);
  rec.on_data_hook = [&, inner = rec.on_data_hook] {
    inner();
    later.Start(0, 0, [&] { rec.ReadMore(); });
  };
  rec.ReadMore();
  REQUIRE(RunUntil(
      &loop, [&] { return rec.dones == 1; }, 60000));
  CHECK(rec.status.ok());
  CHECK(received == kTotal);
  CHECK(pattern_ok);
  CHECK(rec.max_chunk <= options.read_chunk_bytes);
  CHECK_FALSE(rec.violation);  // Never two on_data without a ReadMore() between them.
}

// ---------------------------------------------------------------------------------------------
// Cancel and destroy from inside callbacks.

TEST_CASE("Client: Cancel or destroy inside any callback stops every callback") {
  Env env;
  enum class Where { kHead, kData, kDone };
  for (Where where : {Where::kHead, Where::kData, Where::kDone}) {
    for (bool destroy : {false, true}) {
      CAPTURE(static_cast<int>(where));
      CAPTURE(destroy);
      Recorder rec;
      auto act = [&] {
        if (destroy) {
          rec.exchange.reset();
        } else {
          rec.exchange->Cancel();
          rec.exchange->Cancel();    // Idempotent.
          rec.exchange->ReadMore();  // Ignored after Cancel().
        }
      };
      if (where == Where::kHead) rec.on_head_hook = act;
      if (where == Where::kData) rec.on_data_hook = act;
      if (where == Where::kDone) rec.on_done_hook = act;
      rec.Start(&env.loop, env.Get("/stream?300000"));
      RunUntil(&env.loop, [&] {
        return (where == Where::kHead && rec.heads == 1) ||
               (where == Where::kData && rec.datas == 1) || rec.dones == 1;
      });
      RunFor(&env.loop, 100);
      CHECK(rec.heads == 1);
      if (where == Where::kHead) {
        CHECK(rec.datas == 0);
        CHECK(rec.dones == 0);
      }
      if (where == Where::kData) {
        CHECK(rec.datas == 1);
        CHECK(rec.dones == 0);
      }
      if (where == Where::kDone) CHECK(rec.dones == 1);
      rec.exchange.reset();
      RunFor(&env.loop, 10);
    }
  }
}

TEST_CASE("Client: destroying the exchange while it connects or waits frees everything") {
  Loop loop;
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    p.WaitForClose(fd);
  });
  {
    Recorder rec;
    rec.Start(&loop, RawGet(peer.port()));
    rec.exchange.reset();  // Before the connection completes.
    RunFor(&loop, 50);
    CHECK(rec.heads + rec.datas + rec.dones == 0);
  }
  {
    // An invalid request whose error is due from a timer: destroyed first, it never arrives.
    Recorder rec;
    ClientRequest r = RawGet(peer.port());
    r.host = "not-an-ip";
    rec.Start(&loop, r);
    rec.exchange.reset();
    RunFor(&loop, 20);
    CHECK(rec.dones == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("Client: ReadMore after the last chunk delivers on_done later, never inline") {
  Env env;
  Recorder rec;
  rec.auto_read_more = false;
  rec.Start(&env.loop, env.Get("/hello"));
  REQUIRE(RunUntil(&env.loop, [&] { return rec.datas == 1; }));
  RunFor(&env.loop, 50);
  CHECK(rec.dones == 0);  // Waits for the consumer even though the body is complete.
  rec.ReadMore();
  CHECK(rec.dones == 0);
  REQUIRE(RunUntil(&env.loop, [&] { return rec.dones == 1; }));
  CHECK(rec.status.ok());
  CHECK(rec.body == "hello");
}

// ---------------------------------------------------------------------------------------------
// Fetch.

TEST_CASE("Fetch: body limits, declared and received") {
  Env env;
  {
    bool called = false;
    Result<FetchResult> result = Status::Internal("not called");
    auto h = Fetch(&env.loop, env.Get("/stream?5000"), {}, 4999, [&](Result<FetchResult> r) {
      called = true;
      result = std::move(r);
    });
    REQUIRE(RunUntil(&env.loop, [&] { return called; }));
    CHECK(result.status().code() == Code::kResourceExhausted);
  }
  {
    bool called = false;
    Result<FetchResult> result = Status::Internal("not called");
    auto h = Fetch(&env.loop, env.Get("/stream?5000"), {}, 5000, [&](Result<FetchResult> r) {
      called = true;
      result = std::move(r);
    });
    REQUIRE(RunUntil(&env.loop, [&] { return called; }));
    REQUIRE(result.ok());
    CHECK(result->body == Pattern(0, 5000));
  }
  RawPeer peer([](RawPeer& p, int fd) {
    p.ReadHead(fd);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "400\r\n" + std::string(1024, 'c') + "\r\n";
    for (int i = 0; i < 1024 && !p.stopping(); ++i) {
      if (!RawPeer::Send(fd, chunk)) break;
    }
  });
  int calls = 0;
  Result<FetchResult> result = Status::Internal("not called");
  auto h = Fetch(&env.loop, RawGet(peer.port()), {}, 10 * 1024, [&](Result<FetchResult> r) {
    ++calls;
    result = std::move(r);
  });
  REQUIRE(RunUntil(&env.loop, [&] { return calls == 1; }));
  RunFor(&env.loop, 50);
  CHECK(calls == 1);
  CHECK(result.status().code() == Code::kResourceExhausted);
}

TEST_CASE("Fetch: errors reach done; a destroyed handle never calls done") {
  Env env;
  {
    bool called = false;
    Result<FetchResult> result = Status::Internal("not called");
    auto h = Fetch(&env.loop, RawGet(ClosedPort()), {}, 100, [&](Result<FetchResult> r) {
      called = true;
      result = std::move(r);
    });
    REQUIRE(RunUntil(&env.loop, [&] { return called; }));
    CHECK(result.status().code() == Code::kUnavailable);
  }
  {
    bool called = false;
    auto h = Fetch(&env.loop, env.Get("/hello"), {}, 100,
                   [&](Result<FetchResult>) { called = true; });
    h.reset();
    RunFor(&env.loop, 100);
    CHECK_FALSE(called);
  }
  {
    // The handle destroyed inside done itself.
    bool called = false;
    std::unique_ptr<ClientExchange> h;
    h = Fetch(&env.loop, env.Get("/hello"), {}, 100, [&](Result<FetchResult> r) {
      called = true;
      CHECK(r.ok());
      h.reset();
    });
    REQUIRE(RunUntil(&env.loop, [&] { return called; }));
    CHECK(h == nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Keep-alive pool (connection_pool.h).

// One Fetch through `pool`, run to its end.
Result<FetchResult> FetchVia(Loop* loop, ConnectionPool* pool, ClientRequest request) {
  ClientOptions options;
  options.pool = pool;
  bool called = false;
  Result<FetchResult> result = Status::Internal("not called");
  auto handle = Fetch(loop, std::move(request), options, 1 << 20, [&](Result<FetchResult> r) {
    called = true;
    result = std::move(r);
  });
  CHECK(RunUntil(loop, [&] { return called; }));
  return result;
}

// Answers `requests` requests on each connection with "ok<n>" (n counts across connections),
// keeping the connection open in between.
void AnswerKeptAlive(RawPeer& p, int fd, int requests, std::atomic<int>* answered) {
  for (int i = 0; i < requests && p.ReadNextHead(fd); ++i) {
    const std::string body = "ok" + std::to_string(++*answered);
    RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body);
  }
  p.WaitForClose(fd);
}

TEST_CASE("Pool: sequential requests to one peer share one connection") {
  Env env;
  std::atomic<int> answered{0};
  RawPeer peer([&](RawPeer& p, int fd) { AnswerKeptAlive(p, fd, 3, &answered); }, 3);
  ConnectionPool pool(&env.loop);
  for (int i = 1; i <= 3; ++i) {
    Result<FetchResult> r = FetchVia(&env.loop, &pool, RawGet(peer.port()));
    REQUIRE(r.ok());
    CHECK(r->body == "ok" + std::to_string(i));
  }
  CHECK(peer.accepted == 1);
  CHECK(peer.request.find("Connection") == std::string::npos);  // HTTP/1.1 keep-alive default.
  CHECK(pool.stats().reused == 2);
  CHECK(pool.stats().returned == 3);
  CHECK(pool.stats().idle == 1);
}

TEST_CASE("Pool: spegel's server keeps the connection for GET, HEAD and streamed bodies") {
  Env env;
  ConnectionPool pool(&env.loop);
  Result<FetchResult> echo = FetchVia(&env.loop, &pool, env.Get("/echo"));
  REQUIRE(echo.ok());
  CHECK(echo->body.find("|-|-|-") != std::string::npos);  // No Content-Length, no Connection.
  ClientRequest head = env.Get("/head");
  head.method = "HEAD";
  REQUIRE(FetchVia(&env.loop, &pool, head).ok());
  Result<FetchResult> stream = FetchVia(&env.loop, &pool, env.Get("/stream?300000"));
  REQUIRE(stream.ok());
  CHECK(stream->body == Pattern(0, 300000));
  CHECK(FetchVia(&env.loop, &pool, env.Get("/hello"))->body == "hello");
  CHECK(pool.stats().reused == 3);
  CHECK(pool.stats().idle == 1);
}

// Sends one 200 answer with `body` on a kept-alive connection.
void SendOk(int fd, std::string_view body, std::string_view extra_headers = "") {
  RawPeer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                        std::string(extra_headers) + "\r\n" + std::string(body));
}

// The first connection answers "first", then reads the next request and closes without a word:
// the peer's idle close racing our request, which no liveness check can see. True when the script
// is done with the connection; false on later connections, with their request head read.
bool FirstAnswersThenDrops(RawPeer& p, int fd) {
  if (!p.ReadNextHead(fd)) return true;
  if (p.accepted != 1) return false;
  SendOk(fd, "first");
  p.ReadNextHead(fd);
  return true;
}

TEST_CASE("Pool: a pooled connection the peer closes after reading the request: one retry") {
  Env env;
  RawPeer peer(
      [](RawPeer& p, int fd) {
        if (FirstAnswersThenDrops(p, fd)) return;
        SendOk(fd, "second");
        p.WaitForClose(fd);
      },
      2);
  ConnectionPool pool(&env.loop);
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port()))->body == "first");
  ClientOptions options;
  options.pool = &pool;
  Recorder rec;
  rec.Start(&env.loop, RawGet(peer.port()), options);
  REQUIRE(RunUntil(&env.loop, [&] { return rec.dones == 1; }));
  CHECK_FALSE(rec.violation);
  CHECK(rec.status.ok());
  CHECK(rec.heads == 1);  // The consumer saw one exchange.
  CHECK(rec.body == "second");
  CHECK(peer.accepted == 2);
  CHECK(pool.stats().retried == 1);
  rec.exchange.reset();
}

TEST_CASE("Pool: the retry happens once: a fresh connection that fails too is an error") {
  Env env;
  // Every later connection reads a request and closes unanswered too.
  RawPeer peer([](RawPeer& p, int fd) { FirstAnswersThenDrops(p, fd); }, 3);
  ConnectionPool pool(&env.loop);
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port())).ok());
  Result<FetchResult> r = FetchVia(&env.loop, &pool, RawGet(peer.port()));
  CHECK(r.status().code() == Code::kDataLoss);
  RunFor(&env.loop, 100);
  CHECK(peer.accepted == 2);  // No third connection.
  CHECK(pool.stats().retried == 1);
  CHECK(pool.stats().idle == 0);
}

TEST_CASE("Pool: an idle connection the peer closes leaves the pool at once, without a retry") {
  Env env;
  RawPeer peer(
      [](RawPeer& p, int fd) {
        if (!p.ReadNextHead(fd)) return;
        SendOk(fd, "ok" + std::to_string(p.accepted.load()));
        if (p.accepted == 2) p.WaitForClose(fd);
      },
      2);
  ConnectionPool pool(&env.loop);
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port()))->body == "ok1");
  REQUIRE(RunUntil(&env.loop, [&] { return pool.stats().idle == 0; }));
  CHECK(pool.stats().closed_by_peer == 1);
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port()))->body == "ok2");
  CHECK(pool.stats().retried == 0);
  CHECK(pool.stats().reused == 0);
}

TEST_CASE("Pool: a peer that sends a second response unasked loses the connection") {
  Env env;
  RawPeer peer(
      [](RawPeer& p, int fd) {
        if (!p.ReadNextHead(fd)) return;
        SendOk(fd, "ok" + std::to_string(p.accepted.load()));
        if (p.accepted == 1) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          SendOk(fd, "unasked");
        }
        p.WaitForClose(fd);
      },
      2);
  ConnectionPool pool(&env.loop);
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port()))->body == "ok1");
  REQUIRE(RunUntil(&env.loop, [&] { return pool.stats().unsolicited == 1; }));
  CHECK(pool.stats().idle == 0);
  // The next request never reads the unasked answer as its own.
  REQUIRE(FetchVia(&env.loop, &pool, RawGet(peer.port()))->body == "ok2");
  CHECK(peer.accepted == 2);
}

TEST_CASE("Pool: bytes after the response in the same read keep the connection out") {
  Env env;
  RawPeer peer(
      [](RawPeer& p, int fd) {
        if (!p.ReadNextHead(fd)) return;
        RawPeer::Send(fd,
                      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 200 OK\r\n"
                      "Content-Length: 3\r\n\r\ntwo");
        p.WaitForClose(fd);
      },
      1);
  ConnectionPool pool(&env.loop);
  Result<FetchResult> r = FetchVia(&env.loop, &pool, RawGet(peer.port()));
  REQUIRE(r.ok());
  CHECK(r->body == "one");
  CHECK(pool.stats().returned == 0);
  CHECK(pool.stats().idle == 0);
}

TEST_CASE("Pool: Connection: close, HTTP/1.0 and close-delimited answers are not pooled") {
  Env env;
  const char* answers[] = {
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nc1",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nc2",
      "HTTP/1.1 200 OK\r\n\r\nc3",
  };
  for (const char* answer : answers) {
    CAPTURE(answer);
    RawPeer peer(
        [answer](RawPeer& p, int fd) {
          if (!p.ReadNextHead(fd)) return;
          RawPeer::Send(fd, answer);
          // A close-delimited body ends only with the close; the others stay open until the
          // client closes, which it must.
          if (std::string_view(answer).find("Length") != std::string_view::npos) {
            p.WaitForClose(fd);
          }
        },
        1);
    ConnectionPool pool(&env.loop);
    Result<FetchResult> r = FetchVia(&env.loop, &pool, RawGet(peer.port()));
    REQUIRE(r.ok());
    CHECK(r->body.size() == 2);
    CHECK(pool.stats().returned == 0);
    CHECK(pool.stats().idle == 0);
  }
}

TEST_CASE("Pool: a cancelled or unfinished body closes its connection") {
  Env env;
  ConnectionPool pool(&env.loop);
  ClientOptions options;
  options.pool = &pool;
  Recorder rec;
  rec.auto_read_more = false;
  rec.Start(&env.loop, env.Get("/stream?5000000"), options);
  REQUIRE(RunUntil(&env.loop, [&] { return rec.datas == 1; }));
  rec.exchange->Cancel();
  rec.exchange.reset();
  RunFor(&env.loop, 50);
  CHECK(pool.stats().returned == 0);
  // A HEAD (no body) and a finished GET are returned; the pool then has one clean connection.
  ClientRequest head = env.Get("/head");
  head.method = "HEAD";
  REQUIRE(FetchVia(&env.loop, &pool, head).ok());
  CHECK(pool.stats().returned == 1);
  CHECK(pool.stats().idle == 1);
}

// Both ends of a connected pair of stream sockets, non-blocking like the client's.
std::pair<int, int> SocketPair() {
  int fds[2] = {-1, -1};
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return {fds[0], fds[1]};
}

TEST_CASE("Pool: bounds per peer and in total, newest first, idle timeout") {
  Loop loop;
  std::vector<int> far_ends;
  {
    ConnectionPoolOptions options;
    options.max_idle_per_peer = 2;
    options.max_idle_total = 3;
    options.idle_timeout_ms = 100;
    ConnectionPool pool(&loop, options);
    std::vector<int> near_a;
    for (int i = 0; i < 3; ++i) {
      auto [near, far] = SocketPair();
      near_a.push_back(near);
      far_ends.push_back(far);
      pool.Put("10.0.0.1:5000", near);
    }
    CHECK(pool.stats().idle == 2);  // The oldest of the peer's three went.
    CHECK(pool.stats().evicted == 1);
    std::vector<int> near_b;
    for (int i = 0; i < 2; ++i) {
      auto [near, far] = SocketPair();
      near_b.push_back(near);
      far_ends.push_back(far);
      pool.Put("10.0.0.2:5000", near);
    }
    CHECK(pool.stats().idle == 3);  // The total bound took the oldest of all.
    CHECK(pool.stats().evicted == 2);
    // Newest first; the evicted ones are gone.
    CHECK(pool.Take("10.0.0.1:5000") == near_a[2]);
    CHECK(pool.Take("10.0.0.1:5000") == -1);
    CHECK(pool.Take("10.0.0.9:5000") == -1);
    ::close(near_a[2]);
    CHECK(pool.stats().reused == 1);
    // The newest connection's far end closes before the loop runs again: Take() peeks, drops it
    // and hands out the next one.
    ::close(far_ends.back());
    far_ends.pop_back();
    CHECK(pool.Take("10.0.0.2:5000") == near_b[0]);
    CHECK(pool.stats().closed_by_peer == 1);
    CHECK(pool.stats().idle == 0);
    pool.Put("10.0.0.2:5000", near_b[0]);
    CHECK(pool.stats().idle == 1);
    // The last idle one expires; the sweep timer alone does not keep the loop running.
    REQUIRE(RunUntil(
        &loop, [&] { return pool.stats().idle == 0; }, 2000));
    CHECK(pool.stats().expired == 1);
  }
  for (int fd : far_ends) ::close(fd);
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

}  // namespace
}  // namespace spegel::http
