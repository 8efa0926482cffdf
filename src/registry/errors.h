// The one table from registry errors to HTTP status and OCI error code, and the JSON error body
// ({"errors":[{"code","message","detail"}]}) every registry error response carries.
#pragma once

#include <string>
#include <string_view>

namespace spegel::registry {

// X(enumerator, HTTP status, OCI code)
#define SPEGEL_OCI_ERRORS(X)                                    \
  X(kBlobUnknown, 404, "BLOB_UNKNOWN")                          \
  X(kManifestUnknown, 404, "MANIFEST_UNKNOWN")                  \
  X(kNameUnknown, 404, "NAME_UNKNOWN")                          \
  X(kNameInvalid, 400, "NAME_INVALID")                          \
  X(kDigestInvalid, 400, "DIGEST_INVALID")                      \
  X(kPaginationNumberInvalid, 400, "PAGINATION_NUMBER_INVALID") \
  X(kUnsupported, 405, "UNSUPPORTED")                           \
  X(kRangeInvalid, 416, "RANGE_INVALID")                        \
  X(kUnavailable, 503, "UNAVAILABLE")

enum class OciError {
#define SPEGEL_X(name, status, code) name,
  SPEGEL_OCI_ERRORS(SPEGEL_X)
#undef SPEGEL_X
};

int HttpStatus(OciError error);
std::string_view OciCode(OciError error);

// The JSON body. `detail` is emitted as a JSON string when non-empty, else omitted.
std::string ErrorBody(OciError error, std::string_view message, std::string_view detail = {});

}  // namespace spegel::registry
