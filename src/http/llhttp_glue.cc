#include "http/llhttp_glue.h"

#include <utility>

namespace spegel::http {
namespace {

// Per-field bytes counted against the head budget besides the name and value: ": " and CRLF.
constexpr size_t kFieldOverhead = 4;

}  // namespace

size_t BytesBeforePause(const llhttp_t& parser, const char* data, size_t len) {
  const char* pos = llhttp_get_error_pos(&parser);
  if (pos != nullptr && pos >= data && pos <= data + len) return static_cast<size_t>(pos - data);
  return len;
}

bool ShouldKeepAlive(const llhttp_t& parser) {
  if ((parser.flags & F_CONNECTION_CLOSE) != 0) return false;
  return llhttp_should_keep_alive(&parser) != 0;
}

void HeadFields::Reset() {
  bytes_ = 0;
  name_.clear();
  value_.clear();
}

bool HeadFields::Count(size_t n) {
  bytes_ += n;
  return bytes_ <= max_bytes_;
}

bool HeadFields::AppendName(const char* at, size_t len) {
  name_.append(at, len);
  return Count(len);
}

bool HeadFields::AppendValue(const char* at, size_t len) {
  value_.append(at, len);
  return Count(len);
}

HeadFields::FieldEnd HeadFields::EndField(HeaderField* out) {
  FieldEnd end = FieldEnd::kOk;
  if (!Count(kFieldOverhead)) {
    end = FieldEnd::kTooLarge;
  } else if (!IsToken(name_)) {
    end = FieldEnd::kInvalidName;
  } else if (out != nullptr) {
    out->name = std::move(name_);
    out->value = std::string(TrimOws(value_));
  }
  name_.clear();
  value_.clear();
  return end;
}

}  // namespace spegel::http
