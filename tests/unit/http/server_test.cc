// Server tests over real sockets on 127.0.0.1: the server runs on a Loop in its own thread, the
// test is a blocking client. Every test ends with a graceful shutdown and proves that no uv
// handle is left on the loop (so uv_loop_close succeeds).
#include "http/server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fakes/loop_util.h"
#include "loop/liveness.h"
#include "loop/loop.h"

namespace spegel::http {
namespace {

using spegel::testing::RegisteredHandles;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i % 23));
  return s;
}

// Polls `pred` for up to two seconds: for effects that happen on the loop thread right after the
// client observes something (e.g. the abort callback runs just after the socket is closed).
template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 400; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Returns the value of `key` in a query string like "a=1&b=2", or "".
std::string QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (part.substr(0, key.size()) == key && part.size() > key.size() && part[key.size()] == '=') {
      return std::string(part.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

// A body source that answers every other Proceed() from a timer (later) and the rest inline,
// and counts Stop() calls.
class AlternatingSource : public BodySource {
 public:
  AlternatingSource(Loop* loop, std::atomic<int>* stops) : timer_(loop), stops_(stops) {}
  void Proceed(BodySink& sink) override {
    if (++proceeds_ % 2 == 0) {
      Answer(sink);
    } else {
      timer_.Start(1, 0, [this, &sink] { Answer(sink); });
    }
  }
  void Stop() override {
    timer_.Stop();
    ++*stops_;
  }

 protected:
  // One answer to `sink`; it may end the response inline (and destroy this source).
  virtual void Answer(BodySink& sink) = 0;

 private:
  Timer timer_;
  std::atomic<int>* stops_;
  int proceeds_ = 0;
};

// Streams `chunks` pieces of `chunk_size` pattern bytes. With fail_after > 0 it calls Fail() at
// that chunk instead.
class TestSource : public AlternatingSource {
 public:
  TestSource(Loop* loop, int chunks, size_t chunk_size, int fail_after, std::atomic<int>* stops)
      : AlternatingSource(loop, stops),
        chunks_(chunks),
        chunk_size_(chunk_size),
        fail_after_(fail_after) {}

 private:
  void Answer(BodySink& sink) override {
    if (fail_after_ > 0 && sent_ == fail_after_) {
      sink.Fail("test failure");
      return;
    }
    // The server asks only for what remains of the declared length.
    CHECK(sent_ < chunks_);
    ++sent_;
    sink.Write(Pattern(chunk_size_));
  }
  int chunks_;
  size_t chunk_size_;
  int fail_after_;
  int sent_ = 0;
};

// Sends a file in SendFile() chunks of `chunk` bytes from `offset`; owns the descriptor.
class FileChunkSource : public AlternatingSource {
 public:
  FileChunkSource(Loop* loop, int fd, uint64_t offset, uint64_t chunk, std::atomic<int>* stops)
      : AlternatingSource(loop, stops), fd_(fd), next_(offset), chunk_(chunk) {}
  ~FileChunkSource() override { ::close(fd_); }

 private:
  void Answer(BodySink& sink) override {
    // The answer may end the response inline (and destroy this source): nothing after it.
    const uint64_t at = next_;
    next_ += chunk_;
    sink.SendFile(fd_, at, chunk_);
  }
  int fd_;
  uint64_t next_;
  uint64_t chunk_;
};

class TestHandler : public Handler {
 public:
  explicit TestHandler(Loop* loop) : loop_(loop) {}

  std::string file_path;
  std::atomic<int> aborts{0};
  std::atomic<int> dones{0};
  std::atomic<int> handled{0};
  std::atomic<int> source_stops{0};
  std::atomic<int> tokens_alive_in_handle{0};
  std::atomic<int> tokens_dead_in_done{0};
  std::atomic<int> tokens_dead_in_abort{0};
  std::atomic<int> previous_tokens_dead{0};
  std::atomic<int> late_answered{0};
  std::atomic<int> late_skipped{0};
  std::atomic<int> heads_accepted{0};
  std::atomic<int> heads_refused{0};

  // Refuses the heads of /refuse; accepts the rest.
  HeadVerdict AcceptHead(const Request& head) override {
    CHECK(!head.peer_address().empty());
    CHECK(head.body().empty());
    if (head.path() == "/refuse") {
      ++heads_refused;
      return HeadVerdict::Refuse(401, "refused head");
    }
    ++heads_accepted;
    return {};
  }

  void Handle(Request& request, ResponseWriter& writer) override {
    ++handled;
    const std::string path(request.path());
    const std::string query(request.query());
    if (path == "/hello") {
      writer.Respond(200, {{"Content-Type", "text/plain"}}, "hello");
    } else if (path == "/echo") {
      writer.Respond(200, {}, std::string(request.target()));
    } else if (path == "/body") {
      writer.Respond(200, {}, std::string(request.body()));
    } else if (path == "/later") {
      // Answers after `ms` milliseconds from a timer: an asynchronous handler.
      const int id = next_id_++;
      auto timer = std::make_unique<Timer>(loop_);
      const int ms = std::atoi(QueryValue(query, "ms").c_str());
      Timer* t = timer.get();
      timers_[id] = std::move(timer);
      writer.SetAbortCallback([this, id] {
        ++aborts;
        timers_.erase(id);
      });
      t->Start(ms, 0, [this, id, &writer] {
        writer.Respond(200, {}, "later");
        timers_.erase(id);
      });
    } else if (path == "/token") {
      // What the exchange's token says in Handle and in the done callback, and what the previous
      // exchange's token says now (a keep-alive connection is the same writer).
      Liveness::Token token = writer.LivenessToken();
      if (token.alive()) ++tokens_alive_in_handle;
      if (last_token_ && !last_token_->alive()) ++previous_tokens_dead;
      last_token_ = token;
      writer.SetDoneCallback([this, token] {
        if (!token.alive()) ++tokens_dead_in_done;
      });
      writer.Respond(200, {}, "token");
    } else if (path == "/guarded") {
      // Answers after `ms` milliseconds only while the client is there. The abort callback does
      // not cancel the timer: the token alone keeps the late callback off the gone writer.
      const int id = next_id_++;
      auto timer = std::make_unique<Timer>(loop_);
      Timer* t = timer.get();
      timers_[id] = std::move(timer);
      Liveness::Token token = writer.LivenessToken();
      writer.SetAbortCallback([this, token] {
        ++aborts;
        if (!token.alive()) ++tokens_dead_in_abort;
      });
      t->Start(std::atoi(QueryValue(query, "ms").c_str()), 0, [this, id, token, &writer] {
        if (token.alive()) {
          writer.Respond(200, {}, "guarded");
          ++late_answered;
        } else {
          ++late_skipped;
        }
        timers_.erase(id);
      });
    } else if (path == "/hang") {
      writer.SetAbortCallback([this] { ++aborts; });
    } else if (path == "/file") {
      const int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
      const uint64_t offset = std::strtoull(QueryValue(query, "o").c_str(), nullptr, 10);
      const uint64_t length = std::strtoull(QueryValue(query, "n").c_str(), nullptr, 10);
      writer.SetAbortCallback([this] { ++aborts; });
      writer.RespondFile(200, {{"Content-Type", "application/octet-stream"}}, fd, offset, length);
    } else if (path == "/filechunks") {
      // n bytes from offset o, in chunks of c, through a body source's SendFile().
      const int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
      const uint64_t offset = std::strtoull(QueryValue(query, "o").c_str(), nullptr, 10);
      const uint64_t length = std::strtoull(QueryValue(query, "n").c_str(), nullptr, 10);
      const uint64_t chunk = std::strtoull(QueryValue(query, "c").c_str(), nullptr, 10);
      writer.SetAbortCallback([this] { ++aborts; });
      writer.RespondStream(200, {}, length,
                           std::make_unique<FileChunkSource>(loop_, fd, offset, chunk,
                                                             &source_stops));
    } else if (path == "/stream") {
      const int chunks = std::atoi(QueryValue(query, "chunks").c_str());
      const int chunk_size = std::atoi(QueryValue(query, "size").c_str());
      const int fail_after = std::atoi(QueryValue(query, "fail").c_str());
      writer.SetAbortCallback([this] { ++aborts; });
      writer.SetDoneCallback([this] { ++dones; });
      writer.RespondStream(200, {}, static_cast<uint64_t>(chunks) * chunk_size,
                           std::make_unique<TestSource>(loop_, chunks, chunk_size, fail_after,
                                                        &source_stops));
    } else if (path == "/head") {
      writer.RespondHead(200, {{"X-Size", "1234"}}, 1234);
    } else {
      writer.Respond(404, {}, "");
    }
  }

 private:
  Loop* loop_;
  int next_id_ = 0;
  std::map<int, std::unique_ptr<Timer>> timers_;
  std::optional<Liveness::Token> last_token_;
};

struct Response {
  int status = 0;
  std::string head;  // Raw head, including the final CRLFCRLF.
  std::string body;
  bool ok = false;  // A complete head (and body, unless head_only) was read.
  std::string Header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    const size_t p = head.find(key);
    if (p == std::string::npos) return "";
    const size_t b = p + key.size();
    return head.substr(b, head.find("\r\n", b) - b);
  }
};

// A blocking client socket with a receive timeout, so a broken server fails a test instead of
// hanging it.
class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response. With head_only the body is not read (HEAD).
  Response Read(bool head_only = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.head.substr(9, 3).c_str());
    if (head_only || r.status == 100) {
      r.ok = true;
      return r;
    }
    const size_t length = std::strtoull(r.Header("Content-Length").c_str(), nullptr, 10);
    while (buf_.size() < length) {
      if (!Fill()) {
        r.body = buf_;
        buf_.clear();
        return r;
      }
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    r.ok = true;
    return r;
  }

  // True if the server closed the connection (EOF or reset) with no further bytes.
  bool ClosedWithoutData() {
    if (!buf_.empty()) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  // Reads until EOF or error; returns what arrived (after anything already buffered).
  std::string ReadToEof() {
    while (Fill()) {
    }
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }

  // Polls for readability without consuming.
  bool Readable(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }

 private:
  bool Fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// A server on its own loop thread.
class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}) : handler(&loop) {
    server = std::make_unique<Server>(&loop, &handler, options);
    auto address = ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = server->Listen(*address);
    REQUIRE(bound.ok());
    port = *bound;
    CHECK(port != 0);
    thread_ = std::thread([this] { loop.Run(); });
  }
  ~TestServer() {
    if (thread_.joinable()) Shutdown(0);
  }

  // Shuts down gracefully with `deadline_ms`; returns after the done callback and the loop
  // thread ended, and checks that no handle is left.
  void Shutdown(uint64_t deadline_ms) {
    std::atomic<bool> done{false};
    loop.Post([&] { server->Shutdown(deadline_ms, [&] { done = true; }); });
    thread_.join();
    CHECK(done.load());
    CHECK(RegisteredHandles(&loop) == 0);
    CHECK(uv_loop_alive(loop.uv()) == 0);
  }

  // Runs `fn` on the loop thread and waits for its result.
  template <typename Fn>
  auto OnLoop(Fn fn) {
    std::promise<decltype(fn())> p;
    auto f = p.get_future();
    loop.Post([&] { p.set_value(fn()); });
    return f.get();
  }

  Loop loop;
  TestHandler handler;
  std::unique_ptr<Server> server;
  uint16_t port = 0;

 private:
  std::thread thread_;
};

class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/spegel-http-test-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    REQUIRE(fd_ >= 0);
    path_ = tmpl;
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  void Write(const std::string& data) {
    REQUIRE(::pwrite(fd_, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  }
  void Truncate(off_t size) { REQUIRE(::ftruncate(fd_, size) == 0); }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

TEST_CASE("keep-alive serves several requests on one connection") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.connected());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    const Response r = c.Read();
    CHECK(r.ok);
    CHECK(r.status == 200);
    CHECK(r.body == "hello");
    CHECK(r.Header("Content-Length") == "5");
    CHECK(r.Header("Content-Type") == "text/plain");
    CHECK(r.Header("Connection").empty());
  }
  CHECK(ts.handler.handled == 3);
  ts.Shutdown(1000);
}

TEST_CASE("pipelined requests are answered strictly in order") {
  TestServer ts;
  Client c(ts.port);
  // The first answer is asynchronous and slower than the others would be.
  REQUIRE(
      c.Send("GET /later?ms=100 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"
             "GET /echo?n=3 HTTP/1.1\r\n\r\n"));
  CHECK(c.Read().body == "later");
  CHECK(c.Read().body == "hello");
  CHECK(c.Read().body == "/echo?n=3");
  ts.Shutdown(1000);
}

TEST_CASE("HEAD sends the head with Content-Length and no body") {
  TempFile file;
  file.Write(Pattern(1000));
  TestServer ts;
  ts.OnLoop([&] {  // Set on the loop thread, which reads it.
    ts.handler.file_path = file.path();
    return 0;
  });
  Client c(ts.port);
  REQUIRE(c.Send("HEAD /hello HTTP/1.1\r\n\r\n"));
  Response r = c.Read(/*head_only=*/true);
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Length") == "5");
  REQUIRE(c.Send("HEAD /file?o=0&n=1000 HTTP/1.1\r\n\r\n"));
  r = c.Read(true);
  CHECK(r.Header("Content-Length") == "1000");
  REQUIRE(c.Send("HEAD /head HTTP/1.1\r\n\r\n"));
  r = c.Read(true);
  CHECK(r.Header("Content-Length") == "1234");
  CHECK(r.Header("X-Size") == "1234");
  // No body bytes were sent: the next response starts right after the heads.
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\n\r\n"));
  r = c.Read();
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  ts.Shutdown(1000);
}

TEST_CASE("HTTP/1.0 closes unless keep-alive is asked") {
  TestServer ts;
  {
    Client c(ts.port);
    REQUIRE(c.Send("GET /hello HTTP/1.0\r\n\r\n"));
    const Response r = c.Read();
    CHECK(r.body == "hello");
    CHECK(r.Header("Connection") == "close");
    CHECK(c.ClosedWithoutData());
  }
  {
    Client c(ts.port);
    REQUIRE(c.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    Response r = c.Read();
    CHECK(r.Header("Connection") == "keep-alive");
    REQUIRE(c.Send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    r = c.Read();
    CHECK(r.body == "/echo");
  }
  {
    Client c(ts.port);
    REQUIRE(c.Send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"));
    const Response r = c.Read();
    CHECK(r.Header("Connection") == "close");
    CHECK(c.ClosedWithoutData());
  }
  ts.Shutdown(1000);
}

TEST_CASE("a half-closed client still gets the responses to requests already sent") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /later?ms=50 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  ::shutdown(c.fd(), SHUT_WR);
  CHECK(c.Read().body == "later");
  CHECK(c.Read().body == "hello");
  CHECK(c.ClosedWithoutData());
  ts.Shutdown(1000);
}

TEST_CASE("a client reset while the handler works runs the abort callback") {
  TestServer ts;
  {
    Client c(ts.port);
    REQUIRE(c.Send("GET /hang HTTP/1.1\r\n\r\n"));
    REQUIRE(WaitFor([&] { return ts.handler.handled == 1; }));
    linger lg{1, 0};  // Close with RST.
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  CHECK(ts.OnLoop([&] { return ts.server->connection_count(); }) == 0);
  ts.Shutdown(1000);
}

TEST_CASE("a writer's token dies when its response is sent, before the done callback") {
  TestServer ts;
  Client c(ts.port);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(c.Send("GET /token HTTP/1.1\r\n\r\n"));
    CHECK(c.Read().body == "token");
  }
  CHECK(WaitFor([&] { return ts.handler.tokens_dead_in_done == 2; }));
  CHECK(ts.handler.tokens_alive_in_handle == 2);
  // The connection's second exchange has a token of its own; the first one's stays dead.
  CHECK(ts.handler.previous_tokens_dead == 1);
  CHECK(ts.handler.aborts == 0);
  ts.Shutdown(1000);
}

TEST_CASE("a client reset kills the writer's token before the abort callback; late work stops") {
  TestServer ts;
  Client stays(ts.port);
  REQUIRE(stays.Send("GET /guarded?ms=10 HTTP/1.1\r\n\r\n"));
  CHECK(stays.Read().body == "guarded");
  CHECK(WaitFor([&] { return ts.handler.late_answered == 1; }));
  {
    Client c(ts.port);
    REQUIRE(c.Send("GET /guarded?ms=300 HTTP/1.1\r\n\r\n"));
    REQUIRE(WaitFor([&] { return ts.handler.handled == 2; }));
    linger lg{1, 0};  // Close with RST.
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  CHECK(ts.handler.tokens_dead_in_abort == 1);
  // The handler's timer still fires, after the connection is gone, and finds the token dead.
  CHECK(WaitFor([&] { return ts.handler.late_skipped == 1; }));
  CHECK(ts.handler.late_answered == 1);
  ts.Shutdown(1000);
}

TEST_CASE("Expect: 100-continue gets an interim response") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  Response r = c.Read();
  CHECK(r.status == 100);
  CHECK(r.head == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(c.Send("abcde"));
  r = c.Read();
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  ts.Shutdown(1000);
}

// Kept request bodies (issue 30): a budget for all connections, and heads checked before bodies.

std::string PostHead(const std::string& path, size_t length, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nContent-Length: " + std::to_string(length) + "\r\n" +
         extra + "\r\n";
}

void Reset(Client& c) {
  linger lg{1, 0};  // Close with RST: the exchange is aborted.
  setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

TEST_CASE("kept bodies: beyond the budget 503, others served, the budget back when exchanges end") {
  ServerOptions options;
  options.keep_request_body = true;
  options.max_request_body_bytes = 64 * 1024;
  options.max_buffered_body_bytes = 128 * 1024;
  TestServer ts(options);
  auto buffered = [&] { return ts.OnLoop([&] { return ts.server->buffered_body_bytes(); }); };
  const std::string body = Pattern(64 * 1024);
  // Two held exchanges (the handler never answers /hang) take the whole budget.
  auto a = std::make_unique<Client>(ts.port);
  auto b = std::make_unique<Client>(ts.port);
  REQUIRE(a->Send(PostHead("/hang", body.size()) + body));
  REQUIRE(b->Send(PostHead("/hang", body.size()) + body));
  REQUIRE(WaitFor([&] { return ts.handler.handled == 2; }));
  CHECK(buffered() == 128 * 1024);
  // A body that does not fit is refused from its head, before any of it is sent.
  {
    Client c(ts.port);
    REQUIRE(c.Send(PostHead("/body", 10)));
    const Response r = c.Read();
    CHECK(r.status == 503);
    CHECK(r.Header("Connection") == "close");
    CHECK(c.ClosedWithoutData());
  }
  CHECK(ts.OnLoop([&] { return ts.server->body_budget_refusals(); }) == 1);
  // Everyone else is served: a request without a body needs no budget.
  {
    Client d(ts.port);
    REQUIRE(d.Send("GET /hello HTTP/1.1\r\n\r\n"));
    CHECK(d.Read().body == "hello");
  }
  // A connection that goes away gives its body's charge back; then bodies fit again.
  Reset(*a);
  a.reset();
  CHECK(WaitFor([&] { return buffered() == 64 * 1024; }));
  Client e(ts.port);
  const std::string small = Pattern(5000);
  REQUIRE(e.Send(PostHead("/body", small.size()) + small));
  Response echoed = e.Read();
  CHECK(echoed.status == 200);
  CHECK(echoed.body == small);
  // A chunked body is charged as it grows, and arrives intact too.
  REQUIRE(e.Send("POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + small +
                 "\r\n3\r\nend\r\n0\r\n\r\n"));
  echoed = e.Read();
  CHECK(echoed.status == 200);
  CHECK(echoed.body == small + "end");
  // An exchange's charge goes back once its response is sent; the held one keeps its own.
  CHECK(WaitFor([&] { return buffered() == 64 * 1024; }));
  Reset(*b);
  b.reset();
  CHECK(WaitFor([&] { return buffered() == 0; }));
  CHECK(ts.handler.heads_accepted ==
        5);  // The refused one too: the budget, not the handler, said no.
  ts.Shutdown(1000);
}

TEST_CASE("kept bodies: a chunked body that outgrows the budget gets 503 and gives it back") {
  ServerOptions options;
  options.keep_request_body = true;
  options.max_request_body_bytes = 64 * 1024;
  options.max_buffered_body_bytes = 16 * 1024;
  TestServer ts(options);
  Client c(ts.port);
  const std::string chunk = Pattern(8 * 1024);
  REQUIRE(c.Send("POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 3; ++i) {
    if (!c.Send("2000\r\n" + chunk + "\r\n")) break;  // The third does not fit.
  }
  const Response r = c.Read();
  CHECK(r.status == 503);
  CHECK(r.Header("Connection") == "close");
  CHECK(WaitFor([&] { return ts.OnLoop([&] { return ts.server->buffered_body_bytes(); }) == 0; }));
  CHECK(ts.handler.handled == 0);
  ts.Shutdown(1000);
}

TEST_CASE("kept bodies: a head the handler refuses is answered at once; its body is never kept") {
  ServerOptions options;
  options.keep_request_body = true;
  options.max_request_body_bytes = 1024 * 1024;
  TestServer ts(options);
  auto buffered = [&] { return ts.OnLoop([&] { return ts.server->buffered_body_bytes(); }); };
  {
    // The refusal comes before any body byte was sent; the 1 MiB that follows, slowly, is drained
    // unread while the connection lingers.
    Client c(ts.port);
    REQUIRE(c.Send(PostHead("/refuse", 1024 * 1024)));
    const Response r = c.Read();
    CHECK(r.status == 401);
    CHECK(r.body == "refused head\n");
    CHECK(r.Header("Connection") == "close");
    const std::string piece = Pattern(16 * 1024);
    for (int i = 0; i < 64; ++i) {
      if (!c.Send(piece)) break;  // The linger may end first.
      if (i % 8 == 0) std::this_thread::sleep_for(milliseconds(2));
      CHECK(buffered() == 0);
    }
  }
  {
    // Told to wait for a 100 Continue, the client gets the refusal instead.
    Client c(ts.port);
    REQUIRE(c.Send(PostHead("/refuse", 100, "Expect: 100-continue\r\n")));
    CHECK(c.Read().status == 401);
  }
  CHECK(ts.handler.heads_refused == 2);
  CHECK(ts.handler.handled == 0);
  // A request without a body is not asked about.
  Client ok(ts.port);
  REQUIRE(ok.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(ok.Read().body == "hello");
  CHECK(ts.handler.heads_accepted == 0);
  // An accepted 1 MiB body, sent slowly, is charged once, whole, from its head on.
  const std::string big = Pattern(1024 * 1024);
  REQUIRE(ok.Send(PostHead("/body", big.size()) + big.substr(0, 1000)));
  CHECK(WaitFor([&] { return buffered() == 1024 * 1024; }));
  REQUIRE(ok.Send(big.substr(1000)));
  const Response r = ok.Read();
  CHECK(r.status == 200);
  CHECK(r.body == big);
  CHECK(WaitFor([&] { return buffered() == 0; }));
  CHECK(ts.handler.heads_accepted == 1);
  ts.Shutdown(1000);
}

// Sends `request` and expects an error response with `status`, an exact body and then a close.
void ExpectError(uint16_t port, const std::string& request, int status) {
  Client c(port);
  REQUIRE(c.Send(request));
  const Response r = c.Read();
  CHECK(r.ok);
  CHECK(r.status == status);
  CHECK(r.Header("Connection") == "close");
  CHECK(r.Header("Content-Length") == std::to_string(r.body.size()));
  CHECK(!r.body.empty());
  CHECK(c.ClosedWithoutData());
}

TEST_CASE("bad requests get an exact error response and a close") {
  ServerOptions options;
  options.max_header_bytes = 1024;
  options.max_url_bytes = 200;
  TestServer ts(options);
  ExpectError(ts.port,
              "GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              400);
  ExpectError(ts.port, "GET / HTTP/1.1\r\nX-Big: " + std::string(4000, 'x') + "\r\n\r\n", 431);
  ExpectError(ts.port, "GET /" + std::string(300, 'u') + " HTTP/1.1\r\n\r\n", 414);
  ExpectError(ts.port, "BREW /pot HTTP/1.1\r\n\r\n", 501);
  ExpectError(ts.port, "\x01\x02\x03 garbage\r\n\r\n", 400);
  ExpectError(ts.port, "GET / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413);
  // The server is still fine.
  Client c(ts.port);
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(c.Read().body == "hello");
  ts.Shutdown(1000);
}

TEST_CASE("a client dribbling its head gets 408 after the header timeout") {
  ServerOptions options;
  options.header_read_timeout_ms = 300;
  TestServer ts(options);
  Client c(ts.port);
  const std::string head = "GET / HTTP/1.1\r\nX-Slow: " + std::string(1000, 'a');
  const auto start = Clock::now();
  size_t i = 0;
  // One byte every 20 ms keeps arriving; the deadline covers the whole head regardless.
  while (!c.Readable(20) && i < head.size() && Clock::now() - start < milliseconds(3000)) {
    c.Send(head.substr(i++, 1));
  }
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed >= milliseconds(250));
  CHECK(elapsed < milliseconds(2000));
  const Response r = c.Read();
  CHECK(r.status == 408);
  CHECK(r.Header("Content-Length") == std::to_string(r.body.size()));
  ts.Shutdown(1000);
}

TEST_CASE("an idle keep-alive connection is closed silently") {
  ServerOptions options;
  options.keepalive_idle_timeout_ms = 200;
  TestServer ts(options);
  Client c(ts.port);
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(c.Read().body == "hello");
  CHECK(c.Readable(2000));
  CHECK(c.ClosedWithoutData());
  ts.Shutdown(1000);
}

TEST_CASE("sendfile sends exactly the requested bytes of a file") {
  const std::string content = Pattern(3 * 1024 * 1024 + 17);
  TempFile file;
  file.Write(content);
  ServerOptions options;
  options.max_bytes_per_turn = 64 * 1024;  // Many turns per body.
  TestServer ts(options);
  ts.OnLoop([&] {  // Set on the loop thread, which reads it.
    ts.handler.file_path = file.path();
    return 0;
  });
  Client c(ts.port);
  REQUIRE(c.Send("GET /file?o=12345&n=200000 HTTP/1.1\r\n\r\n"));
  Response r = c.Read();
  CHECK(r.ok);
  CHECK(r.Header("Content-Length") == "200000");
  CHECK(r.Header("Content-Type") == "application/octet-stream");
  CHECK(r.body == content.substr(12345, 200000));
  REQUIRE(c.Send("GET /file?o=0&n=" + std::to_string(content.size()) + " HTTP/1.1\r\n\r\n"));
  r = c.Read();
  CHECK(r.ok);
  CHECK(r.body.size() == content.size());
  CHECK(r.body == content);
  REQUIRE(c.Send("GET /file?o=5&n=0 HTTP/1.1\r\n\r\n"));
  r = c.Read();
  CHECK(r.ok);
  CHECK(r.body.empty());
  CHECK(ts.handler.aborts == 0);
  ts.Shutdown(1000);
}

TEST_CASE("a file shorter than promised aborts the connection") {
  TempFile file;
  file.Write(Pattern(100));
  TestServer ts;
  ts.OnLoop([&] {  // Set on the loop thread, which reads it.
    ts.handler.file_path = file.path();
    return 0;
  });
  Client c(ts.port);
  REQUIRE(c.Send("GET /file?o=0&n=200 HTTP/1.1\r\n\r\n"));
  const Response r = c.Read();
  CHECK_FALSE(r.ok);
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Length") == "200");
  CHECK(r.body == Pattern(100));  // Never padded.
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  ts.Shutdown(1000);
}

TEST_CASE("a body source's SendFile chunks go out with sendfile, then it is asked again") {
  const std::string content = Pattern(2 * 1024 * 1024 + 5);
  TempFile file;
  file.Write(content);
  ServerOptions options;
  options.max_bytes_per_turn = 64 * 1024;  // A chunk takes several turns.
  TestServer ts(options);
  ts.OnLoop([&] {
    ts.handler.file_path = file.path();
    return 0;
  });
  Client c(ts.port);
  REQUIRE(c.Send("GET /filechunks?o=5&n=2097152&c=262144 HTTP/1.1\r\n\r\n"));
  Response r = c.Read();
  CHECK(r.ok);
  CHECK(r.body == content.substr(5, 2097152));
  // The connection stays usable, and the source was not stopped: it completed.
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(c.Read().body == "hello");
  CHECK(ts.handler.source_stops == 0);
  CHECK(ts.handler.aborts == 0);
  // A chunk past the end of the file aborts: the body is never padded.
  REQUIRE(c.Send("GET /filechunks?o=0&n=2097257&c=2097257 HTTP/1.1\r\n\r\n"));
  r = c.Read();
  CHECK_FALSE(r.ok);
  CHECK(r.body == content);
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  // A chunk larger than what is left of the declared length is refused as well.
  Client c2(ts.port);
  REQUIRE(c2.Send("GET /filechunks?o=0&n=100&c=200 HTTP/1.1\r\n\r\n"));
  r = c2.Read();
  CHECK_FALSE(r.ok);
  CHECK(r.body.empty());
  CHECK(WaitFor([&] { return ts.handler.aborts == 2; }));
  ts.Shutdown(1000);
}

TEST_CASE("a client that stops reading is closed after the write-stall timeout") {
  TempFile file;
  const off_t size = 64 << 20;
  file.Truncate(size);  // Sparse: reads as zeros, costs no disk.
  ServerOptions options;
  options.write_stall_timeout_ms = 300;
  TestServer ts(options);
  ts.OnLoop([&] {  // Set on the loop thread, which reads it.
    ts.handler.file_path = file.path();
    return 0;
  });
  Client c(ts.port, /*rcvbuf=*/4096);
  REQUIRE(c.Send("GET /file?o=0&n=" + std::to_string(size) + " HTTP/1.1\r\n\r\n"));
  // Do not read: the socket buffers fill and the server stalls.
  for (int i = 0; i < 100 && ts.handler.aborts == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(ts.handler.aborts == 1);
  const std::string got = c.ReadToEof();
  CHECK(got.size() < static_cast<size_t>(size));
  CHECK(ts.OnLoop([&] { return ts.server->connection_count(); }) == 0);
  ts.Shutdown(1000);
}

TEST_CASE("streamed bodies are pulled and complete") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /stream?chunks=50&size=3000 HTTP/1.1\r\n\r\n"));
  Response r = c.Read();
  CHECK(r.ok);
  CHECK(r.Header("Content-Length") == "150000");
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += Pattern(3000);
  CHECK(r.body == expected);
  // HEAD: the source is dropped without a call.
  REQUIRE(c.Send("HEAD /stream?chunks=2&size=10 HTTP/1.1\r\n\r\n"));
  r = c.Read(true);
  CHECK(r.Header("Content-Length") == "20");
  REQUIRE(c.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(c.Read().body == "hello");
  CHECK(ts.handler.source_stops == 0);
  CHECK(ts.handler.aborts == 0);
  ts.Shutdown(1000);
}

TEST_CASE("the done callback runs once the whole body is sent, the abort callback if it is cut") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /stream?chunks=4&size=70000 HTTP/1.1\r\n\r\n"));
  const Response r = c.Read();
  CHECK(r.body.size() == 280000);
  CHECK(WaitFor([&] { return ts.handler.dones == 1; }));
  CHECK(ts.handler.aborts == 0);
  Client c2(ts.port);
  REQUIRE(c2.Send("GET /stream?chunks=4&size=1000&fail=2 HTTP/1.1\r\n\r\n"));
  c2.Read();
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  CHECK(ts.handler.dones == 1);
  ts.Shutdown(1000);
}

TEST_CASE("a failing body source aborts the connection with a short body") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /stream?chunks=10&size=100&fail=3 HTTP/1.1\r\n\r\n"));
  const Response r = c.Read();
  CHECK_FALSE(r.ok);
  CHECK(r.body.size() == 300);
  CHECK(WaitFor([&] { return ts.handler.aborts == 1; }));
  CHECK(ts.handler.source_stops == 0);  // No Stop() after Fail().
  ts.Shutdown(1000);
}

TEST_CASE("connections above max_connections are closed at once") {
  ServerOptions options;
  options.max_connections = 2;
  TestServer ts(options);
  Client a(ts.port);
  Client b(ts.port);
  REQUIRE(a.Send("GET /hello HTTP/1.1\r\n\r\n"));
  REQUIRE(b.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(a.Read().ok);
  CHECK(b.Read().ok);
  {
    Client extra(ts.port);
    extra.Send("GET /hello HTTP/1.1\r\n\r\n");
    CHECK(extra.Readable(2000));
    CHECK(extra.ClosedWithoutData());
  }
  // Closing one makes room again.
  ::shutdown(a.fd(), SHUT_RDWR);
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    Client again(ts.port);
    again.Send("GET /hello HTTP/1.1\r\n\r\n");
    served = again.Read().ok;
    if (!served) std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(served);
  ts.Shutdown(1000);
}

TEST_CASE("a burst of connections leaves no memory behind once they close") {
  // Connections and read buffers come from pools that unmap empty chunks: after each burst the
  // server keeps at most one spare chunk per pool, however many bursts there were.
  constexpr int kConnections = 300;
  constexpr size_t kSpares = 64 * 1024 + 256 * 1024;
  TestServer ts;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    {
      std::list<Client> clients;
      for (int i = 0; i < kConnections; ++i) {
        clients.emplace_back(ts.port);
        REQUIRE(clients.back().connected());
        // Half leave a request head unfinished, so their connection holds a read buffer.
        if (i % 2 == 1) REQUIRE(clients.back().Send("GET /hello HTTP/1.1\r\nHost: x"));
      }
      CHECK(WaitFor([&] {
        return ts.OnLoop([&] { return ts.server->connection_count(); }) == kConnections;
      }));
      // 300 connections and 150 read buffers cannot fit in the spares.
      CHECK(ts.OnLoop([&] { return ts.server->pool_bytes_mapped(); }) > 2 * kSpares);
      Client served(ts.port);
      REQUIRE(served.Send("GET /hello HTTP/1.1\r\n\r\n"));
      CHECK(served.Read().ok);
    }
    CHECK(WaitFor([&] { return ts.OnLoop([&] { return ts.server->connection_count(); }) == 0; }));
    // Close callbacks (which free the blocks) run one loop turn after the connection leaves
    // the count.
    CHECK(WaitFor(
        [&] { return ts.OnLoop([&] { return ts.server->pool_bytes_mapped(); }) <= kSpares; }));
  }
  ts.Shutdown(1000);
}

TEST_CASE("graceful shutdown finishes in-flight responses and closes idle connections") {
  TestServer ts;
  Client idle(ts.port);
  REQUIRE(idle.Send("GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(idle.Read().ok);
  Client busy(ts.port);
  REQUIRE(busy.Send("GET /later?ms=300 HTTP/1.1\r\n\r\n"));
  while (ts.handler.handled < 2) std::this_thread::sleep_for(milliseconds(5));
  std::thread stopper([&] { ts.Shutdown(5000); });
  CHECK(idle.Readable(2000));
  CHECK(idle.ClosedWithoutData());
  const Response r = busy.Read();
  CHECK(r.ok);
  CHECK(r.body == "later");
  CHECK(r.Header("Connection") == "close");
  CHECK(busy.ClosedWithoutData());
  stopper.join();
  CHECK(ts.handler.aborts == 0);
  Client refused(ts.port);
  CHECK_FALSE(refused.connected());
}

TEST_CASE("shutdown deadline aborts exchanges that do not finish") {
  TestServer ts;
  Client c(ts.port);
  REQUIRE(c.Send("GET /hang HTTP/1.1\r\n\r\n"));
  while (ts.handler.handled < 1) std::this_thread::sleep_for(milliseconds(5));
  const auto start = Clock::now();
  ts.Shutdown(100);
  CHECK(Clock::now() - start < milliseconds(2000));
  CHECK(ts.handler.aborts == 1);
  CHECK(c.ClosedWithoutData());
}

TEST_CASE("shutdown of a server that never listened still calls done") {
  Loop loop;
  TestHandler handler(&loop);
  Server server(&loop, &handler);
  bool done = false;
  server.Shutdown(0, [&] { done = true; });
  CHECK_FALSE(done);  // Never inline.
  loop.Run();
  CHECK(done);
}

}  // namespace
}  // namespace spegel::http
