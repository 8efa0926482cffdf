// Parsing of OCI distribution request paths (pull side only).
//
//   /v2/  or /v2                      -> kApiVersion
//   /v2/<name>/manifests/<tag|digest> -> kManifest
//   /v2/<name>/blobs/<digest>         -> kBlob
//   /v2/<name>/tags/list              -> kTagsList (the tags this node holds; skopeo asks)
//
// The path is used undecoded: a valid repository name, tag or digest never contains '%', so any
// percent-escape (e.g. "%2e%2e", "%2f") simply fails validation. That closes path traversal by
// construction, as does the digest grammar (see oci/digest.h).
//
// Which registry a tag belongs to (documented in README "Tags without ns"):
//   1. the `ns` query parameter (percent-decoded, e.g. "127.0.0.1%3A5000"), as containerd sends;
//   2. else a path-style name whose first component is a registry host (has '.' or ':' or is
//      "localhost"): /v2/docker.io/library/nginx/manifests/1.27;
//   3. else none: the handler resolves the tag if exactly one indexed registry has <name>:<tag>.
// Digests are content-addressed and need no registry.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/request.h"
#include "oci/digest.h"

namespace spegel::registry {

enum class RouteKind { kApiVersion, kManifest, kBlob, kTagsList, kUnknown };

struct Route {
  RouteKind kind = RouteKind::kUnknown;
  std::string registry;               // From ns or a path-style name; empty when neither gives one.
  std::string repository;             // Without a path-style registry prefix.
  std::string requested_name;         // <name> as the path gave it (a tags list echoes it).
  std::string tag;                    // Manifests by tag only.
  std::optional<oci::Digest> digest;  // Manifests by digest and blobs.
};

// OCI error codes a route can fail with; the status message is the error's message.
enum class RouteError { kNameInvalid, kDigestInvalid, kTagInvalid };

struct RouteResult {
  Route route;
  // Set when the path is a registry route but a part of it is invalid.
  std::optional<RouteError> error;
  std::string message;
};

// Whether `path` is the distribution API's: "/v2" or under "/v2/".
bool IsApiPath(std::string_view path);

// `path` and `query` as received (undecoded, query without '?').
RouteResult ParseRoute(std::string_view path, std::string_view query);

// Percent-decodes one query parameter's value. nullopt if absent; InvalidArgument on a bad
// escape. When the parameter repeats, the first one counts.
using http::QueryParam;  // Query strings are HTTP's (http/request.h).

}  // namespace spegel::registry
