// Server: the HTTP/1.1 server every pull goes through (libuv + llhttp + sendfile(2)).
//
// Life of a request
//   1. A listening socket (raw, non-blocking, watched by a uv_poll_t) accepts connections. Above
//      max_connections a new connection is accepted and closed at once, with no response: the
//      client sees a reset or EOF and retries elsewhere; the kernel backlog never fills.
//   2. Each connection owns one socket fd, one uv_poll_t on it and one uv_timer_t. All socket I/O
//      is done with plain read(2)/send(2)/sendfile(2) from the poll callback, so libuv's stream
//      writes and our raw writes can never interleave: there are no libuv stream writes at all.
//   3. Bytes go through a RequestParser, which stops after each complete request. While a request
//      is being handled or answered, the socket is not read (pipelined requests wait in the
//      kernel, bounded by its buffers): responses go out strictly in order and a connection's
//      memory does not depend on what the client sends.
//   4. Handler::Handle(request, writer) runs on the loop thread. It answers inline or later with
//      one ResponseWriter::Respond* call (see handler.h for the callback contract). The response
//      is written from the next poll callback: a head plus an in-memory body, a file body with
//      sendfile(2) (at most max_bytes_per_turn per loop turn, so one download cannot starve the
//      others), or a streamed body pulled from a BodySource only when the socket has drained.
//   5. When the response is complete the exchange ends (its LivenessToken dies, then its done
//      callback runs), and the connection either parses the next buffered request, waits idle
//      (keep-alive), or closes. An exchange aborted before that (the client went away) ends too:
//      its token dies, then its abort callback runs.
//   Errors in the request (malformed, limits) get a complete error response with an exact
//   Content-Length and `Connection: close`; the connection then half-closes and drains the
//   client's unread bytes for a short while (a "lingering close"), so the client reads the error
//   instead of a reset.
//   Kept request bodies (keep_request_body): when a head that announces a body is complete, the
//   handler's AcceptHead() decides before any byte of the body is read; an accepted body gets
//   room of its own charged to the server's body budget (max_buffered_body_bytes: 503 when it
//   does not fit) until its exchange ends or its connection closes (http/request_body.h).
//
// Timeouts (one timer per connection, one phase at a time):
//   - idle: waiting for the first byte of a request: keepalive_idle_timeout (header_read_timeout
//     on a new connection); then the connection closes silently.
//   - header read: from the first byte of a request until the request (head and small body) is
//     complete: header_read_timeout for the whole block, not per byte; then 408 and close.
//   - write stall: the socket has accepted no byte for write_stall_timeout while a response is
//     pending; then the connection is aborted.
//   While the handler or a BodySource is working the server arms no timer: their deadlines are
//   theirs.
// A client that half-closes (EOF) after sending requests still gets the responses to the requests
// the server had already read (responses then say nothing about closing, but the connection closes
// after the last of them). A reset or socket error aborts the exchange.
//
// Ownership and threading: the Server is owned by its creator, and owns its connections and
// every uv handle it creates (each freed from its close callback; http/connection.h). Every
// method must be called on the loop thread (asserted), and every callback (handler, writer, body
// source) runs on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/block_pool.h"
#include "base/status.h"
#include "http/address.h"
#include "http/handler.h"
#include "http/request_body.h"
#include "loop/handle.h"
#include "loop/loop.h"

namespace spegel::http {

struct ServerOptions {
  // Request head limit (target + headers); above it: 431 and close.
  size_t max_header_bytes = 16 * 1024;
  // Request target limit; above it: 414 and close.
  size_t max_url_bytes = 8 * 1024;
  // Request bodies (GET/HEAD should have none) up to this size are drained and discarded;
  // larger ones: 413 and close.
  uint64_t max_request_body_bytes = 16 * 1024;
  // Keep request bodies (up to max_request_body_bytes) in Request::body(). The handler's
  // AcceptHead() sees each head that announces a body before any of it is read.
  bool keep_request_body = false;
  // The kept bodies of all connections together hold at most this many bytes (page-rounded; see
  // http/request_body.h): a Content-Length body is charged whole when its head is accepted, a
  // chunked one as it grows, and the charge goes back when its exchange ends or its connection
  // closes. A body that does not fit in what is left: 503 and close, while every other request
  // is served. Should be at least max_request_body_bytes. So the memory of kept bodies is at most
  // this, plus, per connection, the one read buffer (16 KiB) every connection has anyway, which
  // is all a head not yet accepted can fill.
  uint64_t max_buffered_body_bytes = 32 * 1024 * 1024;
  // Open connections; new ones above it are accepted and closed at once.
  size_t max_connections = 10000;
  // Whole request head (and small body) must arrive within this from its first byte: else 408.
  // Also the time a new connection may stay silent before it is closed.
  uint64_t header_read_timeout_ms = 10'000;
  // An idle keep-alive connection is closed silently after this.
  uint64_t keepalive_idle_timeout_ms = 60'000;
  // A pending response that makes no progress for this long (client stopped reading) is aborted.
  uint64_t write_stall_timeout_ms = 30'000;
  // How long a closing connection drains unread client bytes after its last response.
  uint64_t linger_timeout_ms = 2'000;
  // Body bytes written per connection per loop turn, so one large download cannot starve others.
  uint64_t max_bytes_per_turn = 1024 * 1024;
  // listen(2) backlog.
  int backlog = 511;
};

// A bound, listening TCP socket that no Server serves yet: its owner learns the port (to build
// the handler that needs it) before the Server exists. Move-only; closes the socket unless a
// Server took it.
class ListenSocket {
 public:
  ListenSocket() = default;
  ~ListenSocket();
  ListenSocket(ListenSocket&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;

  // socket(2) non-blocking, SO_REUSEADDR, bind(2), listen(2). Errors (Unavailable) name the
  // address and the reason.
  static Result<ListenSocket> Bind(const Address& address, int backlog = 511);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }  // The bound port (the chosen one for port 0).
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class Connection;

class Server {
 public:
  // `loop` and `handler` must outlive the Server.
  Server(Loop* loop, Handler* handler, ServerOptions options = {});
  // REQUIRES: Listen() never succeeded, or Shutdown()'s done callback has run.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (SO_REUSEADDR, options().backlog). Returns the bound port (the chosen one
  // when the address has port 0). Call Listen at most once, in either form.
  Result<uint16_t> Listen(const Address& address);
  // Serves a socket bound beforehand (ListenSocket::Bind); takes it. Returns its port.
  Result<uint16_t> Listen(ListenSocket socket);

  // Stops accepting, closes idle connections, lets in-flight exchanges finish (their responses
  // carry `Connection: close`) for up to `deadline_ms`, then aborts the rest. `done` runs once,
  // on the loop thread, never inline, after every connection and every uv handle of this server
  // is closed and freed; the Server may be destroyed inside `done`. Call at most once.
  void Shutdown(uint64_t deadline_ms, std::function<void()> done);

  size_t connection_count() const { return connection_count_; }
  uint16_t port() const { return port_; }
  // Memory mapped for connections and their read buffers, spare chunks included (for tests).
  size_t pool_bytes_mapped() const {
    return connection_pool_.bytes_mapped() + read_buffer_pool_.bytes_mapped();
  }
  const ServerOptions& options() const { return options_; }
  // Bytes charged for kept request bodies now (at most options().max_buffered_body_bytes).
  uint64_t buffered_body_bytes() const { return body_budget_.used(); }
  // Bodies refused with 503 because the budget had not enough left.
  uint64_t body_budget_refusals() const { return body_budget_.refusals(); }

 private:
  friend class Connection;

  void OnListenReadable(int status);
  void AcceptMany();
  void ConnectionOpened(Connection* connection);
  // Takes an aborted connection out of the list; the last one during a shutdown ends the
  // deadline timer.
  void ConnectionClosed(Connection* connection);
  // Destroys a connection whose handles are closed (or were never opened) and frees its block.
  void FreeConnection(Connection* connection);
  // Open connections, for Shutdown (which may close some while it walks them).
  std::vector<Connection*> OpenConnections() const;

  Loop* loop_;
  Handler* handler_;
  ServerOptions options_;
  // Charged by every kept request body (http/request_body.h); declared before the connections
  // that return their charges to it.
  BodyBudget body_budget_;
  // Every uv handle of the server and of its connections, until its close callback has run:
  // Shutdown's done waits for it to empty.
  HandleGroup handles_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  PollWatcher listen_poll_;
  std::unique_ptr<Timer> accept_backoff_;  // Pauses accept(2) after EMFILE and similar.
  std::unique_ptr<Timer> deadline_;        // Shutdown deadline, while connections remain.
  // Open (not closing) connections: an intrusive list, so a connection costs no allocation but
  // its pool block.
  Connection* connections_ = nullptr;
  size_t connection_count_ = 0;
  // Connection objects (with their uv handles) and their 16 KiB read buffers. Pools, not malloc:
  // after a burst of connections closes, its memory goes back to the system whatever else was
  // allocated meanwhile (see base/block_pool.h), so memory after N bursts is bounded by one.
  BlockPool connection_pool_;
  BlockPool read_buffer_pool_;
  // What connections allocate with malloc (request objects, header strings of unfinished heads)
  // stays resident after a burst wherever glibc's heap top ended up: 0.3 to 3.6 MiB after 5,000
  // connections, by chance. So once the connection objects still allocated fall to 1/64 of their
  // peak since the last trim (the burst is over), and that peak was a burst (1,024), the heap's
  // free pages go back to the system (malloc_trim): memory after a burst is the same every time.
  size_t peak_since_trim_ = 0;  // Connection objects allocated at once, at most.
  bool shutting_down_ = false;
};

}  // namespace spegel::http
