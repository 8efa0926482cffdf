#include "http/response_parser.h"

#include <utility>

namespace spegel::http {
namespace {

ResponseParser* Self(llhttp_t* p) { return static_cast<ResponseParser*>(p->data); }

}  // namespace

std::optional<std::string_view> ClientResponse::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

// One settings table for every parser (llhttp keeps a pointer to it): it is the same for all.
const llhttp_settings_t* ResponseParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s = CommonLlhttpSettings<ResponseParser>();
    s.on_status = &ResponseParser::OnStatus;
    return s;
  }();
  return &settings;
}

ResponseParser::ResponseParser(size_t max_head_bytes, bool head_request)
    : head_request_(head_request), head_(max_head_bytes) {
  // llhttp_init takes a non-const pointer but only reads the settings.
  llhttp_init(&parser_, HTTP_RESPONSE, const_cast<llhttp_settings_t*>(Settings()));
  parser_.data = this;
}

ResponseParser::FeedResult ResponseParser::Feed(const char* data, size_t len) {
  if (!error_.ok()) return {Event::kError, 0};
  if (complete_) return {Event::kComplete, 0};
  if (len == 0) return {Event::kNeedMore, 0};
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (!error_.ok()) return {Event::kError, 0};
  if (complete_) {
    // Paused in OnMessageComplete: everything before the pause position belongs to the response.
    return {Event::kComplete, BytesBeforePause(parser_, data, len)};
  }
  if (err == HPE_OK) return {Event::kNeedMore, len};
  Fail(Status::DataLoss(std::string("malformed response: ") + llhttp_errno_name(err) + " (" +
                        llhttp_get_error_reason(&parser_) + ")"));
  return {Event::kError, 0};
}

ResponseParser::Event ResponseParser::Finish() {
  if (!error_.ok()) return Event::kError;
  if (complete_) return Event::kComplete;
  llhttp_finish(&parser_);  // Runs OnMessageComplete for a close-delimited body.
  if (!error_.ok()) return Event::kError;
  if (complete_) return Event::kComplete;
  if (!started_) {
    Fail(Status::DataLoss("connection closed before any response byte"));
  } else if (!head_complete_) {
    Fail(Status::DataLoss("connection closed inside the response head"));
  } else if (response_.content_length) {
    Fail(Status::DataLoss("connection closed after " + std::to_string(body_bytes_) + " of " +
                          std::to_string(*response_.content_length) + " body bytes"));
  } else {
    Fail(Status::DataLoss("connection closed inside a chunked body after " +
                          std::to_string(body_bytes_) + " bytes"));
  }
  return Event::kError;
}

int ResponseParser::Fail(Status status) {
  if (error_.ok()) error_ = std::move(status);
  return -1;
}

int ResponseParser::FailHeadTooLarge() {
  return Fail(Status::ResourceExhausted(
      std::string(head_complete_ ? "response trailers" : "response head") + " larger than " +
      std::to_string(head_.max_bytes()) + " bytes"));
}

int ResponseParser::OnMessageBegin(llhttp_t* p) {
  ResponseParser* self = Self(p);
  self->started_ = true;
  self->interim_ = false;
  self->response_ = ClientResponse();
  self->head_.Reset();
  return 0;
}

int ResponseParser::OnStatus(llhttp_t* p, const char*, size_t len) {
  ResponseParser* self = Self(p);
  if (!self->head_.Count(len)) return self->FailHeadTooLarge();
  return 0;  // The reason phrase is not kept.
}

int ResponseParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  if (!self->head_.AppendName(at, len)) return self->FailHeadTooLarge();
  return 0;
}

int ResponseParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  if (!self->head_.AppendValue(at, len)) return self->FailHeadTooLarge();
  return 0;
}

int ResponseParser::OnHeaderValueComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  // Headers of interim responses and trailers are checked and dropped.
  const bool keep = !self->head_complete_ && !self->interim_;
  HeaderField field;
  switch (self->head_.EndField(keep ? &field : nullptr)) {
    case HeadFields::FieldEnd::kOk:
      if (keep) self->response_.headers.push_back(std::move(field));
      return 0;
    case HeadFields::FieldEnd::kTooLarge: return self->FailHeadTooLarge();
    case HeadFields::FieldEnd::kInvalidName:
      return self->Fail(Status::DataLoss("invalid response header name"));
  }
  return self->Fail(Status::DataLoss("invalid response header"));
}

int ResponseParser::OnHeadersComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  if (llhttp_get_http_major(p) != 1) {
    return self->Fail(Status::DataLoss("response HTTP version is not 1.x"));
  }
  const int status = llhttp_get_status_code(p);
  if (status < 100 || status > 599) {
    return self->Fail(
        Status::DataLoss("response status " + std::to_string(status) + " out of range"));
  }
  if (status == 101) {
    return self->Fail(Status::DataLoss("unexpected 101 Switching Protocols"));
  }
  if (status < 200) {
    self->interim_ = true;
    return 1;  // An interim response never has a body.
  }
  if ((p->flags & F_CONTENT_LENGTH) && (p->flags & F_TRANSFER_ENCODING)) {
    return self->Fail(Status::DataLoss("response has both Content-Length and Transfer-Encoding"));
  }
  self->response_.status = status;
  if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED)) {
    self->response_.content_length = p->content_length;
  }
  self->head_complete_ = true;
  self->head_.Reset();                // From here on the budget counts trailers.
  if (self->head_request_) return 1;  // No body, whatever the head announces.
  return 0;
}

int ResponseParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  if (self->gathered_.empty() && self->body_view_.empty()) {
    self->body_view_ = std::string_view(at, len);
  } else {
    if (self->gathered_.empty()) self->gathered_.assign(self->body_view_);
    self->gathered_.append(at, len);
    self->body_view_ = {};
  }
  self->body_bytes_ += len;
  return 0;
}

int ResponseParser::OnMessageComplete(llhttp_t* p) {
  ResponseParser* self = Self(p);
  if (self->interim_) {
    // The final response follows on the same connection.
    self->interim_ = false;
    return 0;
  }
  self->complete_ = true;
  // llhttp clears its flags after this callback: ask now. A close-delimited body ends in
  // llhttp_finish(), with keep-alive off.
  self->keep_alive_ = ShouldKeepAlive(*p);
  return HPE_PAUSED;
}

}  // namespace spegel::http
