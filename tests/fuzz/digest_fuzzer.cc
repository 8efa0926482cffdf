// Fuzzes Digest::Parse and Sha256. Input: the bytes are a digest candidate and also a message
// to hash in two pieces (split point from the first byte).
// Invariants checked: a parsed digest round-trips through str(), algorithm() + ":" + hex() is
// str(), the hex part is lowercase with the algorithm's length, and incremental SHA-256 matches
// the one-shot hash and Digest::FromSha256.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/digest.h"
#include "oci/sha256.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using spegel::oci::Digest;
  using spegel::oci::Sha256;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  spegel::Result<Digest> d = Digest::Parse(input);
  if (d.ok()) {
    Check(d->str() == input);
    Check(std::string(d->algorithm()) + ":" + std::string(d->hex()) == d->str());
    Check(d->hex().size() == (d->algorithm() == "sha256" ? 64u : 128u));
    Check(d->hex().find_first_not_of("0123456789abcdef") == std::string_view::npos);
    Check(Digest::Parse(d->str()).value() == *d);
  } else {
    Check(d.status().code() == spegel::Code::kInvalidArgument);
    Check(!d.status().message().empty());
    // Messages quote the input escaped and bounded, whatever it is.
    Check(d.status().message().size() < 1024);
    Check(d.status().message().find('\n') == std::string::npos);
  }

  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  Sha256 h;
  h.Update(input.substr(0, split));
  h.Update(input.substr(split));
  const std::array<uint8_t, 32> incremental = h.Finish();
  Check(incremental == Sha256::Hash(input));
  const Digest of = Digest::FromSha256(incremental);
  Check(of.hex() == Sha256::HashHex(input));
  Check(Digest::Parse(of.str()).ok());
  return 0;
}
