// Fuzzes what `spegel configuration --prepend-existing` does with a user's hosts.toml
// (ExtractHostTables) and with a registry URL (ParseRegistryUrl): never crash, never hang, and
// what is extracted is a slice of the input made only of whole [host…] tables.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/hosts_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tables = spegel::node::ExtractHostTables(text);
  if (tables.ok()) {
    if (tables->size() > text.size()) abort();
    if (!tables->empty() && (*tables)[0] != '[' && (*tables)[0] != ' ' && (*tables)[0] != '\t' &&
        (*tables)[0] != '\r') {
      abort();
    }
  }
  for (bool wildcard : {false, true}) {
    auto url = spegel::node::ParseRegistryUrl(text, wildcard, !wildcard);
    if (url.ok() && !url->wildcard) {
      // A valid URL round-trips to itself.
      auto again = spegel::node::ParseRegistryUrl(url->ToString(), false, false);
      if (!again.ok() || !(*again == *url)) abort();
    }
  }
  return 0;
}
