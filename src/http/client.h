// HTTP/1.1 client for node-to-node calls: the router API (small bodies, Fetch()) and peer fetch
// (a manifest or blob streamed from another node's registry, ClientExchange with backpressure).
//
// One exchange = one request and one response over a TCP connection to an IP literal (no DNS).
// Without a pool the request says `Connection: close` and the connection closes after the
// response. With ClientOptions::pool the exchange first takes an idle connection to the same
// peer from the pool, and gives its connection back once the response has ended cleanly
// (connection_pool.h says when that is); anything else (an error, Cancel(), destruction before
// on_done) closes it. The socket is a raw non-blocking fd watched by one uv_poll_t, plus one
// uv_timer_t for the timeouts, like the server.
//
// A reused connection can turn out dead only when the request is on its way: the peer closed it
// while idle. When such a connection ends (EOF, reset, send error) before any response byte, the
// exchange sends the request once more on a fresh connection. No callback has run by then, so
// the consumer sees one exchange; the retry is counted in the pool's stats, not as a failure.
// Every request this client sends may be repeated (GET, HEAD, and router calls that set state).
//
// Life of an exchange
//   1. Start() validates the request and connects (connect_timeout_ms).
//   2. The request is written and the response head read; both within head_timeout_ms of the
//      connection being established. Interim 1xx responses are skipped.
//   3. on_head(response) runs once. Body bytes are then read at most read_chunk_bytes per socket
//      read (or into the consumer's body_buffer) and handed to on_data (chunked bodies already
//      decoded). After each on_data the socket is not read again until ReadMore(): memory stays at
//      one chunk whatever the body size and however slow the consumer. A consumer that calls
//      ReadMore() from inside on_data keeps the socket registered with epoll as it was, so a
//      stream that keeps up costs no epoll_ctl per chunk. While the client waits for ReadMore() no
//      timer runs (the wait is the consumer's, not the peer's); while it waits for the peer,
//      idle_timeout_ms applies between body bytes.
//   4. on_done(status) runs once, last. After the last on_data it waits for ReadMore() too, so
//      every event (on_data or on_done) after the first on_data answers one ReadMore().
//
// Status codes given to on_done:
//   Ok                 the whole body arrived (Content-Length reached, chunked terminator, or EOF
//                      for a close-delimited body; no body for HEAD, 204 and 304).
//   InvalidArgument    the request cannot be sent (host not an IP literal, CR/LF in a header...).
//   Unavailable        socket error, connection refused, connect timeout, reset.
//   DeadlineExceeded   head timeout, or idle timeout inside the body.
//   DataLoss           malformed response, or the connection closed before the response was
//                      complete (short body, unterminated chunked body, no response at all).
//   ResourceExhausted  response head above max_head_bytes.
//
// Ownership and threading: the caller owns the ClientExchange. Its sockets and handles belong to
// an internal state object that is freed from the handles' close callbacks, after the
// ClientExchange is gone, so handles never outlive their memory and a callback frame never sees
// freed memory. Everything runs on the loop thread of `loop`: Start(), ReadMore(), Cancel() and
// the destructor must be called there, and every callback runs there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/response.h"
#include "http/response_parser.h"
#include "loop/loop.h"

namespace spegel::http {

class ConnectionPool;

struct ClientRequest {
  std::string method = "GET";
  std::string host;  // IP literal: IPv4, or IPv6 with or without brackets. No DNS.
  uint16_t port = 0;
  std::string target;  // "/v2/...?.."
  // Host is added by the client; Content-Length when the body is non-empty (or the method is
  // POST, PUT or PATCH); `Connection: close` unless pooled (ClientOptions::pool). Host,
  // Content-Length, Transfer-Encoding and Connection given here are ignored.
  Headers headers;
  std::string body;
};

struct ClientOptions {
  uint64_t connect_timeout_ms = 500;    // TCP connect.
  uint64_t head_timeout_ms = 3000;      // From connect to the complete response head.
  uint64_t idle_timeout_ms = 5000;      // No body byte for this long while reading the body.
  size_t max_head_bytes = 16 * 1024;    // Status line + headers of one response head.
  size_t read_chunk_bytes = 64 * 1024;  // One on_data is at most this big.
  // Idle keep-alive connections to reuse and to return to; null = one connection per exchange.
  // Must outlive the exchange.
  ConnectionPool* pool = nullptr;
};

struct ClientCallbacks {
  // Once, before any on_data, when the final response head is complete. The response is valid
  // only during the call (copy what is needed).
  std::function<void(const ClientResponse&)> on_head;
  // Each non-empty body chunk; `data` is valid only during the call. After on_data returns the
  // client reads no more from the socket until ClientExchange::ReadMore() is called.
  std::function<void(std::string_view data)> on_data;
  // Optional: where the next body read goes. Asked before each socket read once the head has been
  // delivered; the region must stay valid and untouched by the consumer until the on_data that
  // follows (or the end of the exchange). When the read holds one run of body bytes (always for a
  // Content-Length body; see ResponseParser), on_data's `data` points into this region, so the
  // bytes reach the consumer with no copy in user space, and the client's own buffer is freed. An
  // empty region, or no callback, reads into the client's own buffer of read_chunk_bytes.
  std::function<std::span<char>()> body_buffer;
  // Once, last (see the status table above). Never called after Cancel() or destruction.
  std::function<void(Status status)> on_done;
};

class ClientExchange {
 public:
  // Starts connecting at once. Never fails inline: every error (including an invalid request)
  // reaches on_done. Callbacks run on the loop thread, never inline from Start(), ReadMore() or
  // Cancel(). Destroying the exchange (or Cancel()) closes the connection and guarantees no
  // further callback; both are allowed from inside any callback. `loop` must outlive the
  // exchange's handles (run the loop after destroying exchanges so their close callbacks run).
  static std::unique_ptr<ClientExchange> Start(Loop* loop, ClientRequest request,
                                               ClientOptions options, ClientCallbacks callbacks);
  ~ClientExchange();
  ClientExchange(const ClientExchange&) = delete;
  ClientExchange& operator=(const ClientExchange&) = delete;

  // The consumer is ready for the next event after on_data: the next on_data or on_done follows
  // (later, on the loop thread). Ignored when no on_data is waiting for it.
  void ReadMore();
  // Closes the connection now; no callback runs after it. Idempotent.
  void Cancel();

 private:
  class Core;
  explicit ClientExchange(Core* core) : core_(core) {}
  Core* core_;  // Freed by the core itself once detached and its handles are closed.
};

// Convenience for small bodies (router API): collects the body, at most `max_body` bytes. A
// larger body (declared or received) ends the exchange with ResourceExhausted. Any response
// status is a success at this level; the caller checks response.status. `done` runs once on the
// loop thread, never inline, unless the returned handle is destroyed (or cancelled) first, which
// cancels the exchange without calling `done`.
struct FetchResult {
  ClientResponse response;
  std::string body;
};
std::unique_ptr<ClientExchange> Fetch(Loop* loop, ClientRequest request, ClientOptions options,
                                      size_t max_body,
                                      std::function<void(Result<FetchResult>)> done);

}  // namespace spegel::http
