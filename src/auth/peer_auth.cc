#include "auth/peer_auth.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "oci/sha256.h"

namespace spegel::auth {
namespace {

constexpr size_t kMinSecretBytes = 16;
constexpr size_t kMaxSecretBytes = 4096;
constexpr size_t kBlockBytes = 64;

std::string Hex(const std::array<uint8_t, 32>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  std::string block(kBlockBytes, '\0');
  if (key.size() > kBlockBytes) {
    const auto hashed = oci::Sha256::Hash(key);
    std::copy(hashed.begin(), hashed.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::string inner_pad(kBlockBytes, '\0');
  std::string outer_pad(kBlockBytes, '\0');
  for (size_t i = 0; i < kBlockBytes; ++i) {
    inner_pad[i] = static_cast<char>(block[i] ^ 0x36);
    outer_pad[i] = static_cast<char>(block[i] ^ 0x5c);
  }
  oci::Sha256 inner;
  inner.Update(inner_pad);
  inner.Update(message);
  const auto inner_hash = inner.Finish();
  oci::Sha256 outer;
  outer.Update(outer_pad);
  outer.Update(
      std::string_view(reinterpret_cast<const char*>(inner_hash.data()), inner_hash.size()));
  return Hex(outer.Finish());
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<PeerAuth> PeerAuth::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("--peer-secret-file: cannot read " + path);
  std::string secret(kMaxSecretBytes + 1, '\0');
  in.read(secret.data(), static_cast<std::streamsize>(secret.size()));
  secret.resize(static_cast<size_t>(in.gcount()));
  if (secret.size() > kMaxSecretBytes) {
    return Status::InvalidArgument("--peer-secret-file: " + path + " is larger than 4 KiB");
  }
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                             secret.back() == ' ' || secret.back() == '\t')) {
    secret.pop_back();
  }
  if (secret.size() < kMinSecretBytes) {
    return Status::InvalidArgument("--peer-secret-file: " + path +
                                   " holds fewer than 16 bytes; use a longer secret");
  }
  return PeerAuth(std::move(secret));
}

std::string PeerAuth::Mac(std::string_view method, std::string_view target, std::string_view body,
                          int64_t seconds) const {
  std::string message;
  message.reserve(method.size() + target.size() + 96);
  message.append(method).append("\n").append(target).append("\n");
  message.append(std::to_string(seconds)).append("\n").append(oci::Sha256::HashHex(body));
  return HmacSha256Hex(secret_, message);
}

std::optional<std::string> PeerAuth::Sign(std::string_view method, std::string_view target,
                                          std::string_view body, int64_t now_seconds) const {
  if (!enabled()) return std::nullopt;
  return std::to_string(now_seconds) + ":" + Mac(method, target, body, now_seconds);
}

Result<int64_t> PeerAuth::ParseHeader(std::optional<std::string_view> header,
                                      int64_t now_seconds) const {
  if (!header) return Status::PermissionDenied("missing X-Spegel-Auth");
  const size_t colon = header->find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 12 ||
      header->size() - colon - 1 != 64) {
    return Status::PermissionDenied("malformed X-Spegel-Auth");
  }
  int64_t seconds = 0;
  for (char c : header->substr(0, colon)) {
    if (c < '0' || c > '9') return Status::PermissionDenied("malformed X-Spegel-Auth");
    seconds = seconds * 10 + (c - '0');
  }
  const int64_t skew = seconds > now_seconds ? seconds - now_seconds : now_seconds - seconds;
  if (skew > kMaxSkewSeconds) return Status::PermissionDenied("stale X-Spegel-Auth");
  return seconds;
}

Status PeerAuth::CheckHeader(std::optional<std::string_view> header, int64_t now_seconds) const {
  if (!enabled()) return Status::Ok();
  return ParseHeader(header, now_seconds).status();
}

Status PeerAuth::Verify(std::string_view method, std::string_view target, std::string_view body,
                        std::optional<std::string_view> header, int64_t now_seconds) const {
  if (!enabled()) return Status::Ok();
  const Result<int64_t> seconds = ParseHeader(header, now_seconds);
  if (!seconds.ok()) return seconds.status();
  const size_t colon = header->find(':');
  if (!ConstantTimeEquals(header->substr(colon + 1), Mac(method, target, body, *seconds))) {
    return Status::PermissionDenied("wrong X-Spegel-Auth");
  }
  return Status::Ok();
}

}  // namespace spegel::auth
