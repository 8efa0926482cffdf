// Fuzzes ParseManifest. Input: the first byte picks the declared media type (one of the manifest
// types, schema 1, a non-manifest type, or none); the rest is the document.
// Invariants checked: a parsed result has a manifest media type that agrees with its kind, only
// the fields of its kind, descriptors with valid media types, parsed digests and non-negative
// sizes; errors carry one of the documented codes and a non-empty message.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oci/manifest.h"
#include "oci/media_types.h"

namespace {

using spegel::oci::Descriptor;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckDescriptor(const Descriptor& d) {
  Check(spegel::oci::IsValidMediaType(d.media_type));
  Check(d.size >= 0);
  Check(spegel::oci::Digest::Parse(d.digest.str()).ok());
}

constexpr std::string_view kDeclared[] = {
    "",
    spegel::oci::kOciImageIndex,
    spegel::oci::kOciImageManifest,
    spegel::oci::kDockerManifestList,
    spegel::oci::kDockerManifest,
    spegel::oci::kDockerManifestSchema1,
    spegel::oci::kOctetStream,
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view declared = kDeclared[data[0] % std::size(kDeclared)];
  const std::string_view json(reinterpret_cast<const char*>(data + 1), size - 1);

  spegel::Result<spegel::oci::ParsedManifest> r = spegel::oci::ParseManifest(json, declared);
  if (!r.ok()) {
    const spegel::Code code = r.status().code();
    Check(code == spegel::Code::kInvalidArgument || code == spegel::Code::kUnimplemented ||
          code == spegel::Code::kResourceExhausted);
    Check(!r.status().message().empty());
    return 0;
  }
  Check(spegel::oci::IsManifestMediaType(r->media_type));
  if (r->kind == spegel::oci::ManifestKind::kIndex) {
    Check(spegel::oci::IsIndexMediaType(r->media_type));
    Check(!r->config.has_value());
    Check(r->layers.empty());
    for (const Descriptor& d : r->manifests) CheckDescriptor(d);
  } else {
    Check(!spegel::oci::IsIndexMediaType(r->media_type));
    Check(r->config.has_value());
    Check(r->manifests.empty());
    CheckDescriptor(*r->config);
    Check(!r->config->platform.has_value());
    for (const Descriptor& d : r->layers) {
      CheckDescriptor(d);
      Check(!d.platform.has_value());
    }
  }
  return 0;
}
