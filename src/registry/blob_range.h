// The one answer to a blob request's Range header, shared by every path that serves a blob: a
// local file (handler.cc), a peer's stream (peer_attempts.cc) and a download in flight
// (inflight.cc). containerd 2.x fetches a layer as several concurrent ranges, so all three must
// answer the same way.
//
// http::ParseRange decides; this adds what a registry answer carries: a 206's Content-Range, and
// a 416 that is an OCI RANGE_INVALID error with `Content-Range: bytes */SIZE` and the blob's
// Docker-Content-Digest. Pure, except RespondRangeNotSatisfiable, which answers on the writer
// (on the caller's thread: the loop's).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/handler.h"
#include "http/response.h"
#include "oci/digest.h"

namespace spegel::registry {

struct BlobWindow {
  int status = 200;    // 200 (whole blob) or 206 (a part)
  uint64_t first = 0;  // first byte served
  uint64_t length = 0;
};

// The window to serve of a blob of `size` bytes for this Range header (absent: the whole blob),
// with Content-Range added to `headers` for a 206; nullopt when the range is not satisfiable
// (answer with RespondRangeNotSatisfiable).
std::optional<BlobWindow> BlobWindowFor(std::optional<std::string_view> range_header, uint64_t size,
                                        http::Headers* headers);

// The 416 every blob path sends. `head`: headers only (Content-Length of the JSON body).
void RespondRangeNotSatisfiable(bool head, http::ResponseWriter& writer, const oci::Digest& digest,
                                uint64_t size);

}  // namespace spegel::registry
