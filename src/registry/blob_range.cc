#include "registry/blob_range.h"

#include <string>
#include <utility>

#include "http/range.h"
#include "registry/errors.h"

namespace spegel::registry {

std::optional<BlobWindow> BlobWindowFor(std::optional<std::string_view> range_header, uint64_t size,
                                        http::Headers* headers) {
  BlobWindow window;
  window.length = size;
  if (!range_header) return window;
  const http::RangeResult range = http::ParseRange(*range_header, static_cast<int64_t>(size));
  switch (range.outcome) {
    case http::RangeOutcome::kIgnore: return window;
    case http::RangeOutcome::kUnsatisfiable: return std::nullopt;
    case http::RangeOutcome::kSatisfiable: break;
  }
  window.status = 206;
  window.first = static_cast<uint64_t>(range.range.first);
  window.length = static_cast<uint64_t>(range.range.length());
  headers->push_back(
      {"Content-Range", http::ContentRange(range.range, static_cast<int64_t>(size))});
  return window;
}

void RespondRangeNotSatisfiable(bool head, http::ResponseWriter& writer, const oci::Digest& digest,
                                uint64_t size) {
  std::string body = ErrorBody(OciError::kRangeInvalid, "range not satisfiable");
  http::Headers headers{{"Content-Type", "application/json"},
                        {"Content-Range",
                         http::UnsatisfiedContentRange(static_cast<int64_t>(size))},
                        {"Docker-Content-Digest", digest.str()}};
  if (head) {
    writer.RespondHead(416, std::move(headers), body.size());
  } else {
    writer.Respond(416, std::move(headers), std::move(body));
  }
}

}  // namespace spegel::registry
