// ResponseParser: turns the bytes of one HTTP/1.x response (from a peer we connected to) into a
// head and decoded body bytes, with limits.
//
// It wraps llhttp in HTTP_RESPONSE mode (strict: no lenient flags) and knows nothing about
// sockets, so the client and the fuzzer drive the very same path. One parser reads exactly one
// final response: interim 1xx responses before it are skipped (101 is refused: we never ask to
// switch protocols), chunked bodies are decoded, and the parser stops at the end of the final
// response; bytes after it are not consumed.
//
// Body bytes are not copied when one Feed() yields one contiguous run of them (any Content-Length
// body, a close-delimited body, most chunked reads): body() then points into the bytes given to
// Feed(), so a caller that reads a socket straight into its own buffer gets the body in place.
// Only when one Feed() yields several runs (chunk framing in between) are they gathered into an
// internal buffer. The caller takes the body after each Feed() and calls ClearBody(): Feed() never
// yields more body bytes than it was given, so that buffer is bounded by the caller's read size.
//
// Errors are terminal: after kError every Feed() returns kError (consuming nothing) and error()
// names the problem.
//
// Owned by one client exchange (or a fuzzer); not thread-safe. Not copyable or movable (llhttp
// keeps `this`).
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/llhttp_glue.h"
#include "http/response.h"

namespace spegel::http {

// The head of a response.
struct ClientResponse {
  int status = 0;
  Headers headers;  // In arrival order; names as received, values without surrounding spaces.
  // The declared Content-Length; nullopt for chunked and close-delimited bodies. For a response
  // to HEAD it is the length the peer announced, although no body follows.
  std::optional<uint64_t> content_length;
  // Value of the first header named `name` (ASCII case-insensitive), or nullopt. The view points
  // into `headers`.
  std::optional<std::string_view> Header(std::string_view name) const;
};

class ResponseParser {
 public:
  enum class Event {
    kNeedMore,  // Every byte was consumed; the response is not complete yet.
    kComplete,  // The final response is complete. Bytes after it were not consumed.
    kError,     // Malformed response or limit: see error().
  };
  struct FeedResult {
    Event event;
    size_t consumed;  // Bytes of `data` used.
  };

  // `max_head_bytes` bounds the status line plus all header names and values (4 bytes more per
  // header for ": " and CRLF), per response head, and separately the trailers of a chunked body.
  // With `head_request` the response has no body whatever it announces (answer to HEAD).
  ResponseParser(size_t max_head_bytes, bool head_request);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Parses `data`. Decoded body bytes are appended to body().
  FeedResult Feed(const char* data, size_t len);
  // The peer closed the connection (EOF). kComplete when that ends the response (a body
  // delimited by the close, or a response already complete); kError otherwise (no response, a
  // partial head, a body shorter than its Content-Length or an unterminated chunked body).
  Event Finish();

  // True once the final response's head is complete; response() is then valid.
  bool head_complete() const { return head_complete_; }
  const ClientResponse& response() const { return response_; }
  // Decoded body bytes of the Feed() calls since the last ClearBody(). The view points into the
  // data given to the last Feed() or into the parser; valid until the next Feed() or ClearBody().
  std::string_view body() const { return gathered_.empty() ? body_view_ : gathered_; }
  void ClearBody() {
    body_view_ = {};
    gathered_.clear();
  }
  // Body bytes decoded so far (including those already cleared).
  uint64_t body_bytes() const { return body_bytes_; }
  bool complete() const { return complete_; }
  // The connection may carry another request after this response: it is complete, framed by its
  // Content-Length or chunking (not by the close), and neither side asked to close (`Connection:
  // close`, or HTTP/1.0 without keep-alive). The caller still checks that it sent its whole
  // request and that no byte followed the response (FeedResult::consumed).
  bool reusable() const { return complete_ && keep_alive_; }
  // REQUIRES: the last Feed() or Finish() returned kError. DataLoss for protocol errors and
  // truncated responses, ResourceExhausted for a head above the limit.
  const Status& error() const { return error_; }

 private:
  template <typename Parser>
  friend llhttp_settings_t CommonLlhttpSettings();
  static const llhttp_settings_t* Settings();
  static int OnMessageBegin(llhttp_t* p);
  static int OnStatus(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);

  int Fail(Status status);
  // Fails with ResourceExhausted naming the head or the trailers being parsed.
  int FailHeadTooLarge();

  bool head_request_;
  llhttp_t parser_;
  ClientResponse response_;
  HeadFields head_;  // The final response's head, then its trailers (budget reset in between).
  std::string_view body_view_;  // The body run in the caller's bytes, while there is only one.
  std::string gathered_;        // The runs, once there are several.
  uint64_t body_bytes_ = 0;
  bool started_ = false;        // Some response (interim or final) has begun.
  bool interim_ = false;        // The response being parsed is a 1xx.
  bool head_complete_ = false;  // Of the final response; later header callbacks are trailers.
  bool complete_ = false;
  bool keep_alive_ = false;  // Of the final response, read when it completed.
  Status error_;
};

}  // namespace spegel::http
