// Response heads: status reason phrases and the exact bytes of a response head.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace spegel::http {

using Headers = std::vector<HeaderField>;

// The standard reason phrase of `status` ("Not Found"), or "Unknown" for codes not in the table.
std::string_view StatusReason(int status);

// "HTTP/1.1 <status> <reason>\r\n", then `headers` minus any Content-Length, Transfer-Encoding
// or Connection the caller set (the server owns those), then `Content-Length: content_length`,
// then `Connection: close` if !keep_alive or `Connection: keep-alive` if keep_alive and
// `http10`, then the blank line. Header names and values containing CR, LF or NUL are dropped,
// so a handler can never split a response.
std::string SerializeHead(int status, const Headers& headers, uint64_t content_length,
                          bool keep_alive, bool http10);

// A complete error response that closes the connection: a text/plain body holding `reason` and
// a newline, with its exact Content-Length. With `head_only` the body is left out (for HEAD).
std::string ErrorResponse(int status, std::string_view reason, bool head_only = false);

}  // namespace spegel::http
