// Image references: parsing containerd image names and user-typed names into
// registry / repository / tag / digest, plus the validators the registry layer uses for the `ns`
// query parameter and path-style names.
//
// Grammar (OCI distribution): repository is
//   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
// with registry + "/" + repository at most 255 bytes; a tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
// Matching is hand-written (no std::regex): these run for every image and every request.
//
// Pure functions over values; thread-safe. Every failure is InvalidArgument with a message that
// quotes the input (bounded and escaped, see quote.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "oci/digest.h"

namespace spegel::oci {

// Longest registry + "/" + repository, as in the distribution reference grammar.
inline constexpr size_t kMaxNameLength = 255;
// Longest tag.
inline constexpr size_t kMaxTagLength = 128;

// A parsed reference. registry is normalised (see NormalizeRegistryHost) and never empty after a
// successful parse; at least one of tag and digest is set.
struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "[::1]:5000".
  std::string repository;  // "library/nginx".
  std::string tag;         // "1.27", or empty.
  std::optional<Digest> digest;

  // "registry/repository:tag", the key a tag is indexed and announced under.
  // REQUIRES: !tag.empty().
  std::string TagKey() const;
  // "registry/repository[:tag][@digest]"; ParseImageName(ToString()) gives back an equal value.
  std::string ToString() const;

  friend bool operator==(const Reference&, const Reference&) = default;
};

// Parses a containerd image name. These are fully qualified: the first path component must be a
// registry host (it contains '.' or ':', is a bracketed IPv6 address, or is "localhost"), and a
// tag, a digest, or both must follow the repository. Examples: "docker.io/library/nginx:1.27",
// "127.0.0.1:5000/demo/s:v1", "[::1]:5000/a:b", "localhost/x:y", "ghcr.io/a/b@sha256:<hex>",
// "ghcr.io/a/b:v1@sha256:<hex>". Anything else, including CRI's "sha256:<id>" records, URLs and
// short names like "nginx:1.27", is InvalidArgument.
Result<Reference> ParseImageName(std::string_view name);

// As above, for an image whose target digest is known (containerd's Image.target): the result's
// digest is `target`, and a name that embeds a different digest is InvalidArgument.
Result<Reference> ParseImageName(std::string_view name, const Digest& target);

// Parses a name as a user types it, with Docker's defaults: no registry means docker.io, a
// single-component docker.io repository gets "library/", and no tag or digest means "latest".
// "ubuntu" -> docker.io/library/ubuntu:latest, "foo/bar" -> docker.io/foo/bar:latest,
// "index.docker.io/x" -> docker.io/library/x:latest.
Result<Reference> ParseNormalizedName(std::string_view name);

// True when `repository` matches the repository grammar above and is at most kMaxNameLength.
bool IsValidRepository(std::string_view repository);
// True when `tag` matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
bool IsValidTag(std::string_view tag);

// Validates and normalises a registry host as it appears in an image name or in the `ns` query
// parameter: "host", "host:port", "[ipv6]" or "[ipv6]:port". The host is lowercased; a DNS name
// has labels of [a-z0-9-] (no leading or trailing '-', at most 63 bytes each); an IPv6 address
// must be in brackets; a port is 1-65535 without sign or leading zeros. "index.docker.io" and
// "registry-1.docker.io" become "docker.io".
Result<std::string> NormalizeRegistryHost(std::string_view host);

}  // namespace spegel::oci
