// Sha256: incremental SHA-256 (FIPS 180-4), used to verify bytes streamed from peers against the
// digest they were requested by. Written here so the core needs no crypto library.
//
// Uses the x86 SHA extensions when the CPU has them (checked once at run time), else portable
// code; both give the same result.
//
// Owned by whoever hashes; not thread-safe (one stream per object). Update() may be called with
// any split of the input; the result equals hashing the concatenation in one call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spegel::oci {

class Sha256 {
 public:
  Sha256() { Reset(); }

  // Appends `data` to the message.
  void Update(std::string_view data);
  // Returns the hash of everything passed to Update() since construction or the last Finish(),
  // then resets, so the object can hash a new message.
  std::array<uint8_t, 32> Finish();
  // Finish() as 64 lowercase hex characters.
  std::string FinishHex();

  // One-shot helpers.
  static std::array<uint8_t, 32> Hash(std::string_view data);
  static std::string HashHex(std::string_view data);

 private:
  void Reset();
  // Processes `blocks` consecutive 64-byte blocks (SHA-NI instructions when the CPU has them).
  void Compress(const uint8_t* data, size_t blocks);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_;       // Bytes in buffer_, always < 64 between calls.
  uint64_t total_bytes_;  // Message length so far; SHA-256 limits messages to 2^64 - 1 bits.
};

}  // namespace spegel::oci
