// hash_bench: SHA-256 throughput of oci::Sha256 (the hash every peer-fetched byte goes through),
// measured against OpenSSL's `openssl dgst -sha256` on the same bytes in the same invocation.
//
//   hash_bench [--mib N] [--rounds R] [--chunk-kib K]
//
// Writes N MiB of pseudo-random bytes to a temporary file (in $TMPDIR or /tmp), then alternates
// R rounds of: oci::Sha256 over the bytes in memory, K KiB per Update (as the peer path feeds it),
// and `openssl dgst -sha256 <file>` (its time includes reading the cached file). Prints each
// round and the medians, with the ratio ours/openssl. Both digests must agree, or it exits 1.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "oci/sha256.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `openssl dgst -sha256 -r path` and returns the hex digest ("" on failure).
std::string OpensslDigest(const std::string& path) {
  const std::string command = "openssl dgst -sha256 -r '" + path + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char line[256] = {};
  const bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  if (::pclose(pipe) != 0 || !got) return "";
  return std::string(line, strnlen(line, 64));
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 256;
  int rounds = 5;
  size_t chunk_kib = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 10);
    if (value <= 0 || value > (1 << 20)) {
      std::fprintf(stderr, "hash_bench: %s wants a positive number, got %s\n", argv[i],
                   argv[i + 1]);
      return 2;
    }
    if (flag == "--mib") {
      mib = static_cast<size_t>(value);
    } else if (flag == "--rounds") {
      rounds = static_cast<int>(value);
    } else if (flag == "--chunk-kib") {
      chunk_kib = static_cast<size_t>(value);
    } else {
      std::fprintf(stderr, "usage: hash_bench [--mib N] [--rounds R] [--chunk-kib K]\n");
      return 2;
    }
  }
  std::string bytes(mib << 20, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : bytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/hash_bench.XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    std::fprintf(stderr, "hash_bench: cannot write %s\n", path.c_str());
    return 1;
  }
  ::close(fd);

  std::vector<double> ours;
  std::vector<double> openssl;
  const size_t chunk = chunk_kib << 10;
  const double mb = static_cast<double>(bytes.size()) / 1e6;
  int status = 0;
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    spegel::oci::Sha256 hasher;
    for (size_t at = 0; at < bytes.size(); at += chunk) {
      hasher.Update(std::string_view(bytes).substr(at, chunk));
    }
    const std::string our_digest = hasher.FinishHex();
    ours.push_back(mb / Seconds(start));
    start = std::chrono::steady_clock::now();
    const std::string their_digest = OpensslDigest(path);
    openssl.push_back(mb / Seconds(start));
    if (our_digest != their_digest) {
      std::fprintf(stderr, "hash_bench: digests differ: ours %s, openssl %s\n", our_digest.c_str(),
                   their_digest.c_str());
      status = 1;
      break;
    }
    std::printf("round %d: spegel %.0f MB/s, openssl %.0f MB/s\n", r + 1, ours.back(),
                openssl.back());
  }
  ::unlink(path.c_str());
  if (status != 0) return status;
  std::printf(
      "median over %d rounds of %zu MiB, %zu KiB per update: spegel %.0f MB/s, "
      "openssl %.0f MB/s, ratio %.2f\n",
      rounds, mib, chunk_kib, Median(ours), Median(openssl), Median(ours) / Median(openssl));
  return 0;
}
