#include "oci/digest.h"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>

namespace spegel::oci {
namespace {

const std::string kHex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kHex128 = std::string(128, 'a');

// Returns the error message of Parse(text), or "OK".
std::string ParseError(std::string_view text) {
  Result<Digest> d = Digest::Parse(text);
  if (d.ok()) return "OK";
  CHECK(d.status().code() == Code::kInvalidArgument);
  return d.status().message();
}

TEST_CASE("Digest::Parse accepts sha256 and sha512") {
  Result<Digest> d = Digest::Parse("sha256:" + kHex64);
  REQUIRE(d.ok());
  CHECK(d->str() == "sha256:" + kHex64);
  CHECK(d->algorithm() == "sha256");
  CHECK(d->hex() == kHex64);

  Result<Digest> d512 = Digest::Parse("sha512:" + kHex128);
  REQUIRE(d512.ok());
  CHECK(d512->algorithm() == "sha512");
  CHECK(d512->hex() == kHex128);
}

TEST_CASE("Digest::Parse rejects malformed digests with precise messages") {
  CHECK(ParseError("") == "invalid digest: empty");
  CHECK(ParseError(kHex64).find("missing algorithm prefix") != std::string::npos);
  CHECK(ParseError("md5:d41d8cd98f00b204e9800998ecf8427e").find("unsupported algorithm \"md5\"") !=
        std::string::npos);
  CHECK(ParseError("SHA256:" + kHex64).find("unsupported algorithm") != std::string::npos);
  CHECK(ParseError("sha256:").find("sha256 hex must be 64 characters, got 0") != std::string::npos);
  CHECK(ParseError("sha256:" + kHex64.substr(1)).find("got 63") != std::string::npos);
  CHECK(ParseError("sha256:" + kHex64 + "0").find("got 65") != std::string::npos);
  CHECK(ParseError("sha512:" + kHex64).find("sha512 hex must be 128 characters, got 64") !=
        std::string::npos);
  std::string upper = kHex64;
  upper[10] = 'C';
  CHECK(ParseError("sha256:" + upper).find("uppercase hex at offset 17") != std::string::npos);
}

TEST_CASE("Digest::Parse rejects path and control characters") {
  for (const std::string& bad :
       {"sha256:../" + kHex64.substr(3), "sha256:" + kHex64.substr(0, 60) + "%2f0",
        "sha256:/" + kHex64.substr(1), "sha256:" + kHex64.substr(1) + "/",
        "sha256:" + kHex64.substr(0, 63) + std::string(1, '\0'), "sha256:" + kHex64 + "\n",
        " sha256:" + kHex64, "sha256: " + kHex64.substr(1),
        "sha256:" + kHex64.substr(0, 32) + "\\" + kHex64.substr(33), std::string("sha256:.."),
        "sha256:" + std::string(64, 'g')}) {
    INFO("input: ", bad);
    const std::string error = ParseError(bad);
    CHECK(error != "OK");
  }
  // The NUL byte is escaped in the message, never copied raw.
  const std::string with_nul = ParseError("sha256:" + kHex64.substr(0, 63) + std::string(1, '\0'));
  CHECK(with_nul.find('\0') == std::string::npos);
  CHECK(with_nul.find("\\x00") != std::string::npos);
}

TEST_CASE("Digest::Parse bounds the quoted input in messages") {
  const std::string error = ParseError("sha256:" + std::string(100000, 'a'));
  CHECK(error.find("got 100000") != std::string::npos);
  CHECK(error.size() < 400);
}

TEST_CASE("Digest compares and hashes by value") {
  Digest a = Digest::Parse("sha256:" + std::string(64, 'a')).value();
  Digest a2 = Digest::Parse("sha256:" + std::string(64, 'a')).value();
  Digest b = Digest::Parse("sha256:" + std::string(64, 'b')).value();
  CHECK(a == a2);
  CHECK_FALSE(a == b);
  CHECK(a < b);
  CHECK_FALSE(b < a);
  CHECK(std::hash<Digest>()(a) == std::hash<Digest>()(a2));
  std::unordered_set<Digest> set{a, a2, b};
  CHECK(set.size() == 2);
}

TEST_CASE("Digest::FromSha256 renders lowercase hex") {
  std::array<uint8_t, 32> raw{};
  raw[0] = 0xab;
  raw[31] = 0x0f;
  Digest d = Digest::FromSha256(raw);
  CHECK(d.str() == "sha256:ab" + std::string(60, '0') + "0f");
  CHECK(d.algorithm() == "sha256");
  CHECK(Digest::Parse(d.str()).value() == d);
}

}  // namespace
}  // namespace spegel::oci
