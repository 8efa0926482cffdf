// PeerAuth: the optional shared secret (--peer-secret-file) that signs every request between
// nodes: router API calls and peer fetches.
//
//   X-Spegel-Auth: <unix seconds>:<64 hex HMAC-SHA256(secret, METHOD "\n" TARGET "\n" SECONDS "\n"
//                                                      hex SHA-256(body))>
//
// A request is accepted when the header parses, the time is within ±kMaxSkewSeconds of ours and
// the HMAC matches (compared in constant time). TARGET is the raw request-target ("/path?query"),
// so a signature cannot be replayed on another path or key. Replays of the same request inside
// the skew window are possible and harmless: every signed request is idempotent (announce, lookup,
// hello, GET/HEAD of content-addressed data).
//
// Thread-compatible; immutable after construction. Without a secret (disabled()) Sign() returns
// nothing and Verify() accepts everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace spegel::auth {

inline constexpr std::string_view kAuthHeader = "X-Spegel-Auth";

class PeerAuth {
 public:
  static constexpr int64_t kMaxSkewSeconds = 60;

  PeerAuth() = default;  // disabled
  explicit PeerAuth(std::string secret) : secret_(std::move(secret)) {}

  // Reads the secret from `path`: its bytes with trailing whitespace removed; at least 16 bytes,
  // at most 4 KiB. Errors name the file and the problem.
  static Result<PeerAuth> FromFile(const std::string& path);

  bool enabled() const { return !secret_.empty(); }

  // The X-Spegel-Auth value for this request at `now_seconds`; nullopt when disabled.
  std::optional<std::string> Sign(std::string_view method, std::string_view target,
                                  std::string_view body, int64_t now_seconds) const;
  // Ok, or PermissionDenied naming why (missing, malformed, stale, wrong).
  Status Verify(std::string_view method, std::string_view target, std::string_view body,
                std::optional<std::string_view> header, int64_t now_seconds) const;
  // What Verify checks before the body: the header is present, well formed and within the skew
  // window. Ok, or PermissionDenied as Verify (missing, malformed, stale); Ok when disabled. A
  // cheap filter for heads whose body is not worth reading; only Verify proves the sender.
  Status CheckHeader(std::optional<std::string_view> header, int64_t now_seconds) const;

 private:
  std::string Mac(std::string_view method, std::string_view target, std::string_view body,
                  int64_t seconds) const;
  // The header's seconds, or PermissionDenied (missing, malformed, stale).
  Result<int64_t> ParseHeader(std::optional<std::string_view> header, int64_t now_seconds) const;
  std::string secret_;
};

// HMAC-SHA256 (RFC 2104) as 64 lowercase hex characters.
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// Seconds since the epoch (wall clock).
int64_t UnixSeconds();

}  // namespace spegel::auth
