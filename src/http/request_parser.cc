#include "http/request_parser.h"

#include <utility>

namespace spegel::http {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

Method MapMethod(uint8_t m) {
  switch (static_cast<llhttp_method_t>(m)) {
    case HTTP_GET: return Method::kGet;
    case HTTP_HEAD: return Method::kHead;
    case HTTP_POST: return Method::kPost;
    case HTTP_PUT: return Method::kPut;
    case HTTP_DELETE: return Method::kDelete;
    case HTTP_PATCH: return Method::kPatch;
    case HTTP_OPTIONS: return Method::kOptions;
    default: return Method::kOther;
  }
}

bool IsUpperToken(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

// llhttp reports an unknown method and garbage the same way. A request line that starts with an
// upper-case token followed by a space names a method we do not implement (501); anything else is
// a malformed request (400). Only the bytes of this chunk are inspected.
bool LooksLikeUnknownMethod(const char* data, const char* error_pos, const char* end) {
  const char* begin = error_pos;
  while (begin > data && begin[-1] != '\n') {
    if (!IsUpperToken(begin[-1])) return false;
    --begin;
  }
  const char* p = error_pos;
  while (p < end && IsUpperToken(*p)) ++p;
  return p < end && *p == ' ' && p > begin && p - begin <= 32;
}

}  // namespace

// One settings table for every parser (llhttp keeps a pointer to it): it is the same for all.
const llhttp_settings_t* RequestParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s = CommonLlhttpSettings<RequestParser>();
    s.on_url = &RequestParser::OnUrl;
    return s;
  }();
  return &settings;
}

RequestParser::RequestParser(const ParserLimits& limits, BodyGate* gate, BodyBudget* budget)
    : limits_(limits), gate_(gate), budget_(budget), head_(limits.max_header_bytes) {
  // llhttp_init takes a non-const pointer but only reads the settings.
  llhttp_init(&parser_, HTTP_REQUEST, const_cast<llhttp_settings_t*>(Settings()));
  parser_.data = this;
}

RequestParser::FeedResult RequestParser::Feed(const char* data, size_t len) {
  if (error_status_ != 0) return {Event::kError, 0};
  if (paused_) {
    llhttp_resume(&parser_);
    paused_ = false;
  }
  pause_event_ = Event::kNeedMore;
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (error_status_ != 0) return {Event::kError, 0};
  switch (err) {
    case HPE_OK: return {Event::kNeedMore, len};
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE: {
      if (pause_event_ == Event::kNeedMore) {
        Fail(400, "unexpected parser pause");
        return {Event::kError, 0};
      }
      if (err == HPE_PAUSED_UPGRADE) {
        // Upgrades are not supported: the request is served as a plain one and the connection
        // closes after it, since the bytes that follow belong to another protocol.
        request_.keep_alive_ = false;
      }
      paused_ = true;
      return {pause_event_, BytesBeforePause(parser_, data, len)};
    }
    case HPE_INVALID_METHOD: {
      const char* pos = llhttp_get_error_pos(&parser_);
      if (pos != nullptr && pos >= data && pos < data + len &&
          LooksLikeUnknownMethod(data, pos, data + len)) {
        Fail(501, "method not implemented");
      } else {
        Fail(400, "invalid request method");
      }
      return {Event::kError, 0};
    }
    case HPE_INVALID_VERSION:
      // llhttp also reports a broken line ending after a valid version this way; that is a
      // malformed request line, not a version we refuse.
      if (std::string_view(llhttp_get_error_reason(&parser_)) == "Expected CRLF after version") {
        Fail(400, "malformed request line");
      } else {
        Fail(505, "HTTP version not supported");
      }
      return {Event::kError, 0};
    default:
      Fail(400, std::string("malformed request: ") + llhttp_errno_name(err));
      return {Event::kError, 0};
  }
}

Request RequestParser::TakeRequest() { return std::move(request_); }

int RequestParser::Fail(int status, std::string reason) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_reason_ = std::move(reason);
  }
  request_.body_ = RequestBody();  // The request is refused: nothing it kept is needed.
  return -1;
}

int RequestParser::AdmitBody(const llhttp_t* p) {
  if (gate_ != nullptr) {
    HeadVerdict verdict = gate_->AdmitHead(request_);
    if (!verdict.accepted()) return Fail(verdict.status, std::move(verdict.reason));
  }
  // A Content-Length body is charged whole now, so a body that cannot fit is refused before its
  // first byte; a chunked one (size unknown) gets room for the limit, charged as it grows.
  const bool sized = (p->flags & F_CONTENT_LENGTH) != 0;
  const uint64_t capacity = sized ? p->content_length : limits_.max_body_bytes;
  switch (request_.body_.Reserve(capacity, budget_, sized ? capacity : 0)) {
    case RequestBody::Reserved::kOk: return 0;
    case RequestBody::Reserved::kOverBudget:
      return Fail(503, "server busy: request bodies over budget");
    case RequestBody::Reserved::kNoMemory: return Fail(503, "out of memory for the request body");
  }
  return Fail(503, "request body refused");
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->request_ = Request();
  self->head_.Reset();
  self->body_bytes_ = 0;
  self->in_message_ = true;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (self->request_.target_.size() + len > self->limits_.max_url_bytes) {
    return self->Fail(414, "request target too long");
  }
  if (!self->head_.Count(len)) return self->Fail(431, "request header too large");
  self->request_.target_.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->head_.AppendName(at, len)) return self->Fail(431, "request header too large");
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->head_.AppendValue(at, len)) return self->Fail(431, "request header too large");
  return 0;
}

int RequestParser::OnHeaderValueComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  HeaderField field;
  switch (self->head_.EndField(&field)) {
    case HeadFields::FieldEnd::kOk: self->request_.headers_.push_back(std::move(field)); return 0;
    case HeadFields::FieldEnd::kTooLarge: return self->Fail(431, "request header too large");
    case HeadFields::FieldEnd::kInvalidName: return self->Fail(400, "invalid header name");
  }
  return self->Fail(400, "invalid header");
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  Request& r = self->request_;
  r.version_major_ = llhttp_get_http_major(p);
  r.version_minor_ = llhttp_get_http_minor(p);
  if (r.version_major_ != 1) return self->Fail(505, "HTTP version not supported");
  const uint8_t method = llhttp_get_method(p);
  r.method_ = MapMethod(method);
  r.method_name_ = llhttp_method_name(static_cast<llhttp_method_t>(method));
  if (method == HTTP_CONNECT) return self->Fail(501, "CONNECT not supported");
  // llhttp rejects this combination too, but only after this callback; checking here keeps a
  // smuggling attempt from ever reaching the 100-continue or body-size logic.
  if ((p->flags & F_CONTENT_LENGTH) && (p->flags & F_TRANSFER_ENCODING)) {
    return self->Fail(400, "both Content-Length and Transfer-Encoding");
  }
  const bool has_body = (p->flags & F_CHUNKED) ||
                        ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits_.max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  // Before the 100 Continue: a client told to wait for it never sends a refused body.
  if (has_body && self->limits_.keep_body) {
    if (const int rc = self->AdmitBody(p); rc != 0) return rc;
  }
  if (auto expect = r.Header("Expect")) {
    if (!EqualsIgnoreCase(*expect, "100-continue")) {
      return self->Fail(417, "unsupported Expect");
    }
    if (has_body) {
      self->pause_event_ = Event::kContinue;
      return HPE_PAUSED;
    }
  }
  return 0;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  self->body_bytes_ += len;
  if (self->body_bytes_ > self->limits_.max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  if (self->limits_.keep_body && !self->request_.body_.Append(std::string_view(at, len))) {
    return self->Fail(503, "server busy: request bodies over budget");
  }
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->request_.keep_alive_ = ShouldKeepAlive(*p);
  self->in_message_ = false;
  self->pause_event_ = Event::kRequest;
  return HPE_PAUSED;
}

}  // namespace spegel::http
