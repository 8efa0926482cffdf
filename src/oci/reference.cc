#include "oci/reference.h"

#include <cassert>
#include <string>

#include "base/ip_literal.h"
#include "base/numbers.h"
#include "oci/quote.h"

namespace spegel::oci {
namespace {

// Longer inputs cannot be valid (name + ':' + tag + '@' + sha512 digest) and are rejected before
// any other work.
constexpr size_t kMaxReferenceLength = kMaxNameLength + 1 + kMaxTagLength + 1 + 7 + 128;
constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;
constexpr std::string_view kDockerHub = "docker.io";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsSeparatorChar(char c) { return c == '.' || c == '_' || c == '-'; }
char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsValidSeparator(std::string_view sep) {
  if (sep == "." || sep == "_" || sep == "__") return true;
  return sep.find_first_not_of('-') == std::string_view::npos;
}

// Returns why `r` is not a valid repository, or nullptr when it is.
const char* RepositoryProblem(std::string_view r) {
  if (r.empty()) return "repository is empty";
  if (r.size() > kMaxNameLength) return "repository is longer than 255 bytes";
  const size_t n = r.size();
  size_t i = 0;
  for (;;) {
    // At the start of a path component.
    if (i == n) return "repository ends with '/'";
    if (r[i] == '/') return "repository has an empty path component";
    if (IsUpper(r[i])) return "repository must be lowercase";
    if (!IsLowerAlnum(r[i])) return "a repository path component must start with [a-z0-9]";
    for (;;) {
      while (i < n && IsLowerAlnum(r[i])) ++i;
      if (i == n) return nullptr;
      if (r[i] == '/') {
        ++i;
        break;
      }
      if (IsUpper(r[i])) return "repository must be lowercase";
      if (!IsSeparatorChar(r[i])) return "repository has a character outside [a-z0-9._/-]";
      const size_t start = i;
      while (i < n && IsSeparatorChar(r[i])) ++i;
      if (!IsValidSeparator(r.substr(start, i - start))) {
        return "repository has an invalid separator (allowed: '.', '_', '__', or dashes)";
      }
      if (i < n && IsUpper(r[i])) return "repository must be lowercase";
      if (i == n || !IsLowerAlnum(r[i])) return "a separator must be followed by [a-z0-9]";
    }
  }
}

Status Invalid(std::string_view what, std::string_view text, std::string_view problem) {
  std::string m = "invalid ";
  m += what;
  m += ' ';
  m += Quote(text);
  m += ": ";
  m += problem;
  return Status::InvalidArgument(std::move(m));
}

// Whether the first component of a name is meant as a registry host rather than a path.
bool LooksLikeHost(std::string_view component) {
  return component.find_first_of(".:[") != std::string_view::npos || component == "localhost";
}

// A registry port: what ParsePort takes, without a leading zero, so that one registry has one
// host text (it is part of every key indexed under it).
bool IsValidPort(std::string_view port) {
  uint16_t value = 0;
  return !port.empty() && port.front() != '0' && ParsePort(port, &value);
}

// Returns why `host` (already lowercased, no port) is not a DNS name or IPv4 address, or nullptr.
const char* HostNameProblem(std::string_view host) {
  if (host.empty()) return "empty host";
  if (host.size() > kMaxHostLength) return "host is longer than 253 bytes";
  size_t start = 0;
  bool last_label_numeric = false;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view label = host.substr(start, end - start);
    if (label.empty()) return "host has an empty label";
    if (label.size() > kMaxLabelLength) return "host label is longer than 63 bytes";
    if (label.front() == '-' || label.back() == '-') return "host label starts or ends with '-'";
    last_label_numeric = true;
    for (const char c : label) {
      if (!IsLowerAlnum(c) && c != '-') return "host has a character outside [a-z0-9.-]";
      if (!IsDigit(c)) last_label_numeric = false;
    }
    start = end + 1;
  }
  if (last_label_numeric) {
    // Only an IPv4 address may end in a numeric label; reject "1.2.3.999" and "10.1".
    if (CanonicalIp(host, IpFamily::kV4).empty()) return "invalid IPv4 address";
  }
  return nullptr;
}

// Splits "name[:tag][@digest]". On success `name` is what precedes the tag; `tag` is empty when
// absent.
struct Parts {
  std::string_view name;
  std::string_view tag;
  std::optional<Digest> digest;
};

Result<Parts> SplitTagAndDigest(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("invalid image name: empty");
  if (text.size() > kMaxReferenceLength) {
    return Invalid("image name", text,
                   "longer than " + std::to_string(kMaxReferenceLength) + " bytes");
  }
  if (text.find("://") != std::string_view::npos) {
    return Invalid("image name", text, "must not include a URL scheme");
  }
  Parts parts;
  std::string_view rest = text;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    Result<Digest> digest = Digest::Parse(rest.substr(at + 1));
    if (!digest.ok()) return Invalid("image name", text, digest.status().message());
    parts.digest = std::move(digest).value();
    rest = rest.substr(0, at);
  }
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (colon != std::string_view::npos) {
    parts.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!IsValidTag(parts.tag)) {
      return Invalid("image name", text,
                     "invalid tag " + Quote(parts.tag) +
                         " (want [A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
    }
  }
  parts.name = rest;
  return parts;
}

// Builds the Reference from validated parts; checks the repository and total name length.
Result<Reference> Finish(std::string_view text, std::string registry, std::string repository,
                         const Parts& parts) {
  if (const char* problem = RepositoryProblem(repository)) {
    return Invalid("image name", text, problem);
  }
  if (registry.size() + 1 + repository.size() > kMaxNameLength) {
    return Invalid("image name", text, "registry/repository is longer than 255 bytes");
  }
  Reference ref;
  ref.registry = std::move(registry);
  ref.repository = std::move(repository);
  ref.tag = std::string(parts.tag);
  ref.digest = parts.digest;
  return ref;
}

}  // namespace

std::string Reference::TagKey() const {
  assert(!tag.empty());
  std::string key;
  key.reserve(registry.size() + repository.size() + tag.size() + 2);
  key += registry;
  key += '/';
  key += repository;
  key += ':';
  key += tag;
  return key;
}

std::string Reference::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

bool IsValidRepository(std::string_view repository) {
  return RepositoryProblem(repository) == nullptr;
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool word = IsLowerAlnum(c) || IsUpper(c) || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

Result<std::string> NormalizeRegistryHost(std::string_view host) {
  if (host.empty()) return Status::InvalidArgument("invalid registry host: empty");
  // Longest valid form: a 253-byte name plus ":65535".
  if (host.size() > kMaxHostLength + 6) {
    return Invalid("registry host", host, "longer than 259 bytes");
  }
  std::string lower(host.size(), '\0');
  for (size_t i = 0; i < host.size(); ++i) lower[i] = ToLower(host[i]);
  std::string_view s = lower;
  std::string_view port;
  if (s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return Invalid("registry host", host, "missing ']'");
    if (CanonicalIp(s.substr(1, close - 1), IpFamily::kV6).empty()) {
      return Invalid("registry host", host, "invalid IPv6 address in brackets");
    }
    const std::string_view after = s.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("registry host", host, "unexpected text after ']'");
      if (!IsValidPort(after.substr(1))) {
        return Invalid("registry host", host, "port must be 1-65535");
      }
    }
    return lower;
  }
  const size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    if (s.find(':', colon + 1) != std::string_view::npos) {
      return Invalid("registry host", host, "an IPv6 address must be in brackets, e.g. [::1]:5000");
    }
    port = s.substr(colon + 1);
    s = s.substr(0, colon);
    if (!IsValidPort(port)) return Invalid("registry host", host, "port must be 1-65535");
  }
  if (const char* problem = HostNameProblem(s)) return Invalid("registry host", host, problem);
  if (port.empty() && (s == "index.docker.io" || s == "registry-1.docker.io")) {
    return std::string(kDockerHub);
  }
  return lower;
}

Result<Reference> ParseImageName(std::string_view name) {
  Result<Parts> parts = SplitTagAndDigest(name);
  if (!parts.ok()) return parts.status();
  const std::string_view path = parts->name;
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos || !LooksLikeHost(path.substr(0, slash))) {
    return Invalid("image name", name,
                   "missing registry (containerd image names are fully qualified, e.g. "
                   "docker.io/library/nginx:latest)");
  }
  Result<std::string> registry = NormalizeRegistryHost(path.substr(0, slash));
  if (!registry.ok()) return Invalid("image name", name, registry.status().message());
  if (parts->tag.empty() && !parts->digest) {
    return Invalid("image name", name, "missing tag or digest");
  }
  return Finish(name, std::move(registry).value(), std::string(path.substr(slash + 1)), *parts);
}

Result<Reference> ParseImageName(std::string_view name, const Digest& target) {
  Result<Reference> ref = ParseImageName(name);
  if (!ref.ok()) return ref;
  if (ref->digest && *ref->digest != target) {
    return Invalid("image name", name,
                   "embedded digest differs from the image target " + target.str());
  }
  ref->digest = target;
  return ref;
}

Result<Reference> ParseNormalizedName(std::string_view name) {
  Result<Parts> parts = SplitTagAndDigest(name);
  if (!parts.ok()) return parts.status();
  const std::string_view path = parts->name;
  const size_t slash = path.find('/');
  std::string registry;
  std::string repository;
  if (slash != std::string_view::npos && LooksLikeHost(path.substr(0, slash))) {
    Result<std::string> host = NormalizeRegistryHost(path.substr(0, slash));
    if (!host.ok()) return Invalid("image name", name, host.status().message());
    registry = std::move(host).value();
    repository = std::string(path.substr(slash + 1));
  } else {
    registry = std::string(kDockerHub);
    repository = std::string(path);
  }
  if (registry == kDockerHub && repository.find('/') == std::string::npos) {
    repository.insert(0, "library/");
  }
  if (parts->tag.empty() && !parts->digest) parts->tag = "latest";
  return Finish(name, std::move(registry), std::move(repository), *parts);
}

}  // namespace spegel::oci
