// What RequestParser and ResponseParser share on top of llhttp: the callbacks both register, the
// header fields of a head with its byte budget, and where llhttp stopped inside a chunk.
//
// Internal to http/. Not thread-safe; each parser owns its own HeadFields.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>

#include "http/request.h"

namespace spegel::http {

// The llhttp settings entries both parsers set, from `Parser`'s static callbacks (OnMessageBegin,
// OnHeaderField, OnHeaderValue, OnHeaderValueComplete, OnHeadersComplete, OnBody,
// OnMessageComplete). The caller adds its own (on_url, on_status) and keeps the table in a static:
// llhttp keeps a pointer to it for the life of every parser. `Parser` befriends this function.
template <typename Parser>
llhttp_settings_t CommonLlhttpSettings() {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &Parser::OnMessageBegin;
  s.on_header_field = &Parser::OnHeaderField;
  s.on_header_value = &Parser::OnHeaderValue;
  s.on_header_value_complete = &Parser::OnHeaderValueComplete;
  s.on_headers_complete = &Parser::OnHeadersComplete;
  s.on_body = &Parser::OnBody;
  s.on_message_complete = &Parser::OnMessageComplete;
  return s;
}

// How many bytes of the chunk `data`/`len` belong to what llhttp parsed before it paused: up to
// its error position (all of the chunk if that position lies outside it).
// REQUIRES: llhttp_execute on this chunk just returned HPE_PAUSED or HPE_PAUSED_UPGRADE; after
// HPE_OK llhttp's error position is left over from an earlier pause and means nothing.
size_t BytesBeforePause(const llhttp_t& parser, const char* data, size_t len);

// Whether the connection may carry another message after the one llhttp just completed: what
// llhttp_should_keep_alive says, except that `close` in a Connection header always wins. llhttp
// lets an HTTP/1.0 message that says both `keep-alive` and `close` keep the connection, yet the
// peer that wrote `close` is closing it. REQUIRES: called from on_message_complete (llhttp clears
// its flags after it).
bool ShouldKeepAlive(const llhttp_t& parser);

// HeadFields: the header fields of one head as llhttp reports them (a name and a value, each
// possibly split over several callbacks), counted against a byte budget for the head: names and
// values, plus 4 bytes per field for ": " and CRLF, plus what the parser counts itself (request
// target, status line).
class HeadFields {
 public:
  explicit HeadFields(size_t max_bytes) : max_bytes_(max_bytes) {}

  size_t max_bytes() const { return max_bytes_; }

  // Starts a new head (or the trailers): nothing accumulated, the whole budget left.
  void Reset();
  // Counts `n` bytes of the head; false once the head is larger than max_bytes().
  bool Count(size_t n);
  // Appends a piece of the current field's name or value and counts it; false as Count.
  bool AppendName(const char* at, size_t len);
  bool AppendValue(const char* at, size_t len);

  enum class FieldEnd {
    kOk,
    kTooLarge,     // The head is larger than max_bytes().
    kInvalidName,  // The name is not an RFC 9110 token (llhttp lets some through, e.g. with a
                   // space inside; a proxy in front might read such a name differently).
  };
  // Ends the current field (llhttp's on_header_value_complete). On kOk and a non-null `out`,
  // `*out` gets the name as received and the value without leading and trailing spaces and
  // tabs; with a null `out` the field is checked and dropped. The next field starts empty.
  FieldEnd EndField(HeaderField* out);

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::string name_;
  std::string value_;
};

}  // namespace spegel::http
