// Fuzzes what in-flight sharing reads from containerd's ingest directories (containerd/ingest.h):
// the `ref` and `total` files. Byte 0 picks the namespace the ref is checked against. Invariants:
// a parsed ref names a sha256 digest, comes from a ref in that namespace, and parsing the same
// input twice agrees; a parsed total is above zero and its decimal text is the input's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "containerd/ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr std::string_view kNamespaces[] = {"k8s.io", "moby", "default", "k"};
  const std::string_view ns = kNamespaces[data[0] % 4];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto digest = spegel::containerd::ParseIngestRef(text, ns);
  if (digest) {
    if (digest->algorithm() != "sha256") abort();
    if (text.substr(0, ns.size()) != ns || text[ns.size()] != '/') abort();
    if (text.substr(text.size() - digest->str().size()) != digest->str()) abort();
    if (spegel::containerd::ParseIngestRef(text, ns) != digest) abort();
  }
  const auto total = spegel::containerd::ParseIngestTotal(text);
  if (total) {
    if (*total == 0) abort();
    std::string_view digits = text;
    if (!digits.empty() && digits.back() == '\n') digits.remove_suffix(1);
    std::string_view canonical = digits;
    while (canonical.size() > 1 && canonical.front() == '0') canonical.remove_prefix(1);
    if (std::to_string(*total) != canonical) abort();
  }
  return 0;
}
