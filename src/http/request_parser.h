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
// Kept bodies (keep_body): once the head of a request with a body is complete, and before any
// byte of that body is consumed, the parser asks its BodyGate (if any) whether to read it, then
// reserves the body's room (request_body.h) charged to its BodyBudget (if any). A refused head
// fails with the gate's status; a body the budget cannot hold with 503. So the body of a refused
// request is never kept, and the bodies one budget holds never exceed it.
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

// Decides whether the body a request head announces is read (see RequestParser).
class BodyGate {
 public:
  // The head of a request whose body would be kept is complete (`head` has everything but the
  // body). A refusal fails the request with its status and reason, before any body byte is
  // consumed. Runs inside Feed(); must not call back into the parser.
  virtual HeadVerdict AdmitHead(Request& head) = 0;

 protected:
  ~BodyGate() = default;
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

  // `gate` and `budget` (either may be null: every head accepted, no budget) must outlive the
  // parser and every Request taken from it that keeps a body.
  explicit RequestParser(const ParserLimits& limits, BodyGate* gate = nullptr,
                         BodyBudget* budget = nullptr);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses from `data` until a request completes, an error occurs or the bytes run out.
  FeedResult Feed(const char* data, size_t len);

  // REQUIRES: the last Feed() returned kRequest. Moves the request out.
  Request TakeRequest();

  // True while a request has started but is not complete (for the header-read timeout).
  bool in_message() const { return in_message_; }

  // Drops the request being parsed, so what its body holds goes back now. For a caller that
  // refuses it (timeout) and feeds the parser no more.
  void DropPartialRequest() { request_ = Request(); }

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
  // The head of a request whose body is kept is complete: asks the gate, reserves the body.
  int AdmitBody(const llhttp_t* p);

  ParserLimits limits_;
  BodyGate* gate_;
  BodyBudget* budget_;
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
