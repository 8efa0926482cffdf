#include "oci/media_types.h"

namespace spegel::oci {
namespace {

constexpr size_t kMaxRestrictedName = 127;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsRestrictedName(std::string_view s) {
  if (s.empty() || s.size() > kMaxRestrictedName || !IsAlnum(s.front())) return false;
  for (const char c : s) {
    if (IsAlnum(c)) continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '&':
      case '^':
      case '_':
      case '.':
      case '+':
      case '-': continue;
      default: return false;
    }
  }
  return true;
}

}  // namespace

bool IsManifestMediaType(std::string_view t) {
  return t == kOciImageManifest || t == kDockerManifest || IsIndexMediaType(t);
}

bool IsIndexMediaType(std::string_view t) {
  return t == kOciImageIndex || t == kDockerManifestList;
}

bool IsConfigMediaType(std::string_view t) { return t == kOciImageConfig || t == kDockerConfig; }

bool IsLayerMediaType(std::string_view t) {
  for (const std::string_view layer :
       {kOciLayerTar, kOciLayerTarGzip, kOciLayerTarZstd, kOciLayerNondistributableTar,
        kOciLayerNondistributableTarGzip, kOciLayerNondistributableTarZstd, kDockerLayerTar,
        kDockerLayerTarGzip, kDockerLayerTarZstd, kDockerLayerForeignTarGzip}) {
    if (t == layer) return true;
  }
  return false;
}

bool IsSchema1MediaType(std::string_view t) {
  return t == kDockerManifestSchema1 || t == kDockerManifestSchema1Signed;
}

bool IsValidMediaType(std::string_view t) {
  const size_t slash = t.find('/');
  if (slash == std::string_view::npos) return false;
  return IsRestrictedName(t.substr(0, slash)) && IsRestrictedName(t.substr(slash + 1));
}

}  // namespace spegel::oci
