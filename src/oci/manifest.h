// Parsing OCI / Docker schema 2 manifests and indexes into the descriptors they reference: what
// the index layer walks (index -> manifests -> config + layers) and what the registry checks.
//
// The input is untrusted (content store files, peer responses). The parser never throws, never
// recurses on input depth, caps the size (kMaxManifestBytes) and nesting (kMaxManifestDepth),
// rejects trailing bytes, invalid UTF-8 and duplicate keys among the fields it reads (parsers
// that keep the first and the last duplicate would disagree on what the manifest says), and
// checks every JSON type before reading it.
//
// Pure function over values; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"

namespace spegel::oci {

// Larger documents are refused (ResourceExhausted). Real manifests and indexes are a few KiB;
// 4 MiB is what upstream uses as the cut-off for fingerprinting, and containerd's own limit.
inline constexpr size_t kMaxManifestBytes = 4 << 20;
// Deeper nesting of arrays/objects is refused. A manifest needs 5 levels; annotations add none.
inline constexpr int kMaxManifestDepth = 32;

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8", or empty.

  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;  // Valid per IsValidMediaType().
  Digest digest;
  int64_t size;                      // >= 0.
  std::optional<Platform> platform;  // Only in index entries, and optional there too.

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

enum class ManifestKind { kIndex, kManifest };

struct ParsedManifest {
  std::string media_type;  // One of the four IsManifestMediaType() types.
  ManifestKind kind;
  std::vector<Descriptor> manifests;  // kIndex only.
  std::optional<Descriptor> config;   // kManifest only; always set for it.
  std::vector<Descriptor> layers;     // kManifest only; may be empty (artifacts).
};

// Parses `json` as an image index / manifest list or an image manifest.
//
// The media type is, in order: the document's "mediaType" field (which must agree with
// `declared_media_type` when both are manifest types); else `declared_media_type` when it is a
// manifest type (parameters such as "; charset=utf-8" are ignored); else a fingerprint ("manifests"
// array -> OCI index, "config" + "layers" -> OCI manifest). "schemaVersion" must be 2.
//
// Errors: InvalidArgument naming the problem (bad JSON, wrong types, bad digests, negative or
// non-integer sizes, conflicting media types, not a manifest); Unimplemented for Docker schema 1;
// ResourceExhausted above kMaxManifestBytes.
Result<ParsedManifest> ParseManifest(std::string_view json, std::string_view declared_media_type);

}  // namespace spegel::oci
