// RequestParser: turns the bytes of one HTTP/1.x connection into Requests, with limits.
//
// It wraps llhttp (strict: no lenient flags) and knows nothing about sockets, so the server's
// connection code and the fuzzer drive the very same path. The parser stops after each complete
// request (llhttp's pause from on_message_complete), so a caller answers requests strictly in
// order and never buffers more than one request ahead: the unconsumed bytes stay in the caller's
// buffer until it calls Feed() again.
//
// Errors are terminal: after kError every Feed() returns kError (consuming nothing) and the caller
// answers error_status() (see ErrorResponse() in response.h) and closes the connection.
//
// Owned by one connection; not thread-safe. Not copyable or movable (llhttp keeps `this`).
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/llhttp_glue.h"
#include "http/request.h"

namespace spegel::http {

struct ParserLimits {
  // Request line target plus all header names and values (with 4 bytes per header for ": " and
  // CRLF). Above it: 431.
  size_t max_header_bytes = 16 * 1024;
  // Request target length. Above it: 414.
  size_t max_url_bytes = 8 * 1024;
  // Request body limit. A declared Content-Length above it, or a chunked body growing above it:
  // 413.
  uint64_t max_body_bytes = 64 * 1024;
  // Keep the body in Request::body() (the router API takes POST bodies); else it is discarded
  // (the registry serves GET and HEAD only).
  bool keep_body = false;
};

class RequestParser {
 public:
  enum class Event {
    kNeedMore,  // Every byte was consumed and no request is complete yet.
    kContinue,  // The head asked for `Expect: 100-continue` and a body follows: send an interim
                // "100 Continue" now, then Feed() the rest.
    kRequest,   // A request is complete: TakeRequest(). Bytes after it were not consumed.
    kError,     // Protocol error or limit: answer error_status() and close.
  };
  struct FeedResult {
    Event event;
    size_t consumed;  // Bytes of `data` used; the caller passes the rest to the next Feed().
  };

  explicit RequestParser(const ParserLimits& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from `data` until a request completes, an error occurs or the bytes run out.
  FeedResult Feed(const char* data, size_t len);

  // REQUIRES: the last Feed() returned kRequest. Moves the request out.
  Request TakeRequest();

  // True while a request has started but is not complete (for the header-read timeout).
  bool in_message() const { return in_message_; }

  // REQUIRES: the last Feed() returned kError. Status code (400, 413, 414, 417, 431, 501, 505)
  // and a one-line reason for logs and the response body.
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

 private:
  template <typename Parser>
  friend llhttp_settings_t CommonLlhttpSettings();
  static const llhttp_settings_t* Settings();
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);

  int Fail(int status, std::string reason);

  ParserLimits limits_;
  llhttp_t parser_;
  Request request_;
  HeadFields head_;
  uint64_t body_bytes_ = 0;
  bool in_message_ = false;
  bool paused_ = false;
  Event pause_event_ = Event::kNeedMore;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace spegel::http
