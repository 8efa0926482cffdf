#include "oci/sha256.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::oci {
namespace {

// FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the classic long-message vector.
TEST_CASE("Sha256 standard vectors") {
  CHECK(Sha256::HashHex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::HashHex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256::HashHex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Sha256::HashHex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjk"
                        "lmnopqklmnopqrlmnopqrsmnopqrstnopqrstu") ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_CASE("Sha256 of a million 'a's, fed in uneven chunks") {
  const std::string million(1000000, 'a');
  CHECK(Sha256::HashHex(million) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 h;
  size_t fed = 0;
  for (size_t chunk = 1; fed < million.size(); chunk = chunk * 3 % 1000 + 1) {
    const size_t n = std::min(chunk, million.size() - fed);
    h.Update(std::string_view(million).substr(fed, n));
    fed += n;
  }
  CHECK(h.FinishHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("Sha256 incremental updates split at every offset give the one-shot hash") {
  // 130 bytes crosses two block boundaries and both padding cases (55/56 bytes in the last block).
  std::string input;
  for (int i = 0; i < 130; ++i) input += static_cast<char>('0' + i % 75);
  for (size_t len : {size_t{0}, size_t{1}, size_t{55}, size_t{56}, size_t{63}, size_t{64},
                     size_t{65}, size_t{119}, size_t{120}, size_t{130}}) {
    const std::string_view message = std::string_view(input).substr(0, len);
    const std::string expected = Sha256::HashHex(message);
    for (size_t i = 0; i <= len; ++i) {
      for (size_t j = i; j <= len; j += 7) {
        Sha256 h;
        h.Update(message.substr(0, i));
        h.Update(message.substr(i, j - i));
        h.Update(message.substr(j));
        INFO("len=", len, " splits at ", i, " and ", j);
        REQUIRE(h.FinishHex() == expected);
      }
    }
  }
}

TEST_CASE("Sha256 at the padding boundaries (55, 56 and 64 bytes)") {
  CHECK(Sha256::HashHex(std::string(55, 'a')) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(Sha256::HashHex(std::string(56, 'a')) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(Sha256::HashHex(std::string(64, 'a')) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("Sha256::Finish resets the object for the next message") {
  Sha256 h;
  h.Update("abc");
  CHECK(h.FinishHex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(h.FinishHex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.Update("");
  h.Update("a");
  h.Update("bc");
  const std::array<uint8_t, 32> raw = h.Finish();
  CHECK(raw[0] == 0xba);
  CHECK(raw[31] == 0xad);
}

}  // namespace
}  // namespace spegel::oci
