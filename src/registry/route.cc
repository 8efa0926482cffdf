#include "registry/route.h"

#include "oci/reference.h"

namespace spegel::registry {
namespace {

RouteResult Fail(RouteKind kind, RouteError error, std::string message) {
  RouteResult r;
  r.route.kind = kind;
  r.error = error;
  r.message = std::move(message);
  return r;
}

// A first path component that can only be a registry host, never a repository component.
bool LooksLikeRegistry(std::string_view component) {
  return component.find('.') != std::string_view::npos ||
         component.find(':') != std::string_view::npos || component == "localhost" ||
         (!component.empty() && component.front() == '[');
}

}  // namespace

bool IsApiPath(std::string_view path) { return path == "/v2" || path.substr(0, 4) == "/v2/"; }

RouteResult ParseRoute(std::string_view path, std::string_view query) {
  RouteResult result;
  if (path == "/v2" || path == "/v2/") {
    result.route.kind = RouteKind::kApiVersion;
    return result;
  }
  if (path.substr(0, 4) != "/v2/") return result;  // kUnknown
  std::string_view rest = path.substr(4);

  RouteKind kind;
  std::string_view name;
  std::string_view reference;
  constexpr std::string_view kTagsList = "/tags/list";
  if (rest.size() > kTagsList.size() && rest.substr(rest.size() - kTagsList.size()) == kTagsList) {
    kind = RouteKind::kTagsList;
    name = rest.substr(0, rest.size() - kTagsList.size());
  } else if (const size_t m = rest.rfind("/manifests/"); m != std::string_view::npos) {
    kind = RouteKind::kManifest;
    name = rest.substr(0, m);
    reference = rest.substr(m + 11);
  } else if (const size_t b = rest.rfind("/blobs/"); b != std::string_view::npos) {
    kind = RouteKind::kBlob;
    name = rest.substr(0, b);
    reference = rest.substr(b + 7);
  } else {
    return result;  // kUnknown: catalog, tags/list, uploads, ... are not served.
  }
  Route& route = result.route;
  route.kind = kind;
  route.requested_name = std::string(name.substr(0, 4096));

  auto ns = QueryParam(query, "ns");
  if (!ns.ok()) return Fail(kind, RouteError::kNameInvalid, ns.status().message());
  if (ns->has_value() && !(*ns)->empty()) {
    // containerd's form: the name is the repository exactly as in the image reference.
    auto host = oci::NormalizeRegistryHost(**ns);
    if (!host.ok()) {
      return Fail(kind, RouteError::kNameInvalid, "invalid ns: " + host.status().message());
    }
    route.registry = *host;
  } else if (const size_t slash = name.find('/');
             slash != std::string_view::npos && LooksLikeRegistry(name.substr(0, slash))) {
    // Path-style: the first component can only be a registry, never a repository component.
    auto host = oci::NormalizeRegistryHost(name.substr(0, slash));
    if (!host.ok()) return Fail(kind, RouteError::kNameInvalid, host.status().message());
    route.registry = *host;
    name = name.substr(slash + 1);
  }
  if (!oci::IsValidRepository(name)) {
    return Fail(kind, RouteError::kNameInvalid,
                "invalid repository name \"" + std::string(name.substr(0, 256)) + "\"");
  }
  route.repository = std::string(name);

  if (kind == RouteKind::kTagsList) return result;
  const bool looks_like_digest = reference.find(':') != std::string_view::npos;
  if (kind == RouteKind::kBlob || looks_like_digest) {
    auto digest = oci::Digest::Parse(reference);
    if (!digest.ok()) return Fail(kind, RouteError::kDigestInvalid, digest.status().message());
    route.digest = *digest;
    return result;
  }
  if (!oci::IsValidTag(reference)) {
    return Fail(kind, RouteError::kTagInvalid,
                "invalid tag \"" + std::string(reference.substr(0, 256)) + "\"");
  }
  route.tag = std::string(reference);
  return result;
}

}  // namespace spegel::registry
