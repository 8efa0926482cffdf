// RequestContext: the facts about one request on the registry address that more than one handler
// needs, derived once per request and kept with the http::Request (Request::Derived), so the
// metrics wrapper and the registry handler read the same answer and cannot disagree.
//
//   api       the path is /v2 or under /v2/ (the OCI distribution API)
//   route     ParseRoute(path, query) for api requests (route.h); kUnknown and no error otherwise
//   mirrored  the request is a peer's fetch: it carries `X-Spegel-Mirrored: true`, so it is never
//             forwarded again (one hop), must be signed when a peer secret is set, and is not a
//             miss upstream would see. The header name matches in any case (HTTP field names are
//             case-insensitive, RFC 9110 section 5.1); the value must be exactly "true", the
//             value every Spegel sends (peer_fetch.h).
//   origin    where the answer's bytes come from, when not from this node's committed content:
//             the registry handler sets it just before its Respond* call (the one field written
//             after derivation), the metrics wrapper reads it at that call. kUnset means this
//             node's own content for a 2xx, nothing for a 404.
//
// Loop thread, like the Request it comes from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/request.h"
#include "registry/route.h"

namespace spegel::registry {

inline constexpr std::string_view kMirroredHeader = "X-Spegel-Mirrored";

enum class AnswerSource : uint8_t {
  kUnset,
  kPeer,          // streamed from a peer's committed copy
  kInflightPeer,  // streamed from a peer's download in flight (pull coalescing: follow)
  kInflightHere,  // this node's own download in flight, served to a peer
};

struct AnswerOrigin {
  AnswerSource source = AnswerSource::kUnset;
  std::string peer_id;  // kPeer, kInflightPeer: the node the bytes came from
};

struct RequestContext {
  bool api = false;
  RouteResult route;
  bool mirrored = false;
  mutable AnswerOrigin origin;  // See above: the one field set after derivation.

  // The context of `request`: derived on the first call, the same object on every later one.
  // Valid as long as `request`.
  static const RequestContext& Of(const http::Request& request);
};

}  // namespace spegel::registry
