// Fuzzes the reference parsers and host/repository/tag validators.
// Invariants checked: a parsed image name has a normalised registry, a valid repository and tag,
// round-trips through ToString(), and fits the length limits; normalised names reparse as image
// names; NormalizeRegistryHost is idempotent; errors are InvalidArgument with bounded messages.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/reference.h"

namespace {

using spegel::Result;
using spegel::oci::Reference;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckError(const spegel::Status& status) {
  Check(status.code() == spegel::Code::kInvalidArgument);
  Check(status.message().size() < 2048);
  Check(status.message().find('\n') == std::string::npos);
}

void CheckReference(const Reference& r) {
  Check(!r.registry.empty());
  Check(spegel::oci::NormalizeRegistryHost(r.registry).value() == r.registry);
  Check(spegel::oci::IsValidRepository(r.repository));
  Check(r.registry.size() + 1 + r.repository.size() <= spegel::oci::kMaxNameLength);
  Check(r.tag.empty() || spegel::oci::IsValidTag(r.tag));
  Check(!r.tag.empty() || r.digest.has_value());
  Result<Reference> again = spegel::oci::ParseImageName(r.ToString());
  Check(again.ok());
  Check(*again == r);
  if (!r.tag.empty()) Check(r.ToString().rfind(r.TagKey(), 0) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Result<Reference> image = spegel::oci::ParseImageName(input);
  if (image.ok()) {
    CheckReference(*image);
  } else {
    CheckError(image.status());
  }

  Result<Reference> normalized = spegel::oci::ParseNormalizedName(input);
  if (normalized.ok()) {
    CheckReference(*normalized);
  } else {
    CheckError(normalized.status());
  }
  // A fully qualified name means the same under both parsers, except that Docker's defaults add
  // "library/" to single-component docker.io names.
  if (image.ok() && normalized.ok() && image->registry != "docker.io") {
    Check(*image == *normalized);
  }

  Result<std::string> host = spegel::oci::NormalizeRegistryHost(input);
  if (host.ok()) {
    Check(spegel::oci::NormalizeRegistryHost(*host).value() == *host);
  } else {
    CheckError(host.status());
  }

  const bool repo_ok = spegel::oci::IsValidRepository(input);
  if (repo_ok) Check(input.size() <= spegel::oci::kMaxNameLength);
  const bool tag_ok = spegel::oci::IsValidTag(input);
  if (tag_ok) Check(input.size() <= spegel::oci::kMaxTagLength);
  return 0;
}
