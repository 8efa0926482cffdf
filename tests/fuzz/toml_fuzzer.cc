// Fuzzes the TOML subset reader (node/toml.h) and preflight's use of a config file.
// Invariants checked: errors are InvalidArgument "line N: ..." on one bounded line; on success
// every value has a non-empty path and a line within the input, Find() returns it, and each
// string value survives being written back as a basic string under FormatTomlPath(path) and
// re-read. The same bytes as a containerd config file never make preflight crash, and a refusal
// always carries a message.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "node/preflight.h"
#include "node/toml.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

std::string BasicString(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using spegel::node::TomlValue;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t lines = 1;
  for (char c : input) lines += c == '\n';

  auto doc = spegel::node::ParseToml(input);
  if (!doc.ok()) {
    const spegel::Status st = doc.status();
    Check(st.code() == spegel::Code::kInvalidArgument);
    const std::string& m = st.message();
    Check(m.rfind("line ", 0) == 0);
    Check(m.size() < 512);
    Check(m.find('\n') == std::string::npos);
  } else {
    for (const auto& [path, value] : doc->values()) {
      Check(!path.empty());
      Check(value.line >= 1 && static_cast<size_t>(value.line) <= lines);
      Check(doc->Find(path) == &value);
      if (value.kind != TomlValue::Kind::kString) continue;
      const std::string again = spegel::node::FormatTomlPath(path) + " = " +
                                BasicString(value.text) + "\n";
      auto reparsed = spegel::node::ParseToml(again);
      Check(reparsed.ok());
      Check(reparsed->FindString(path) == value.text);
    }
  }

  spegel::node::ContainerdFacts facts;
  facts.version = std::string(size > 0 && data[0] % 2 ? "2.1.3" : "1.6.20~ds1");
  facts.cri_info = std::map<std::string, std::string>{{"config", std::string(input)}};
  facts.config_text = std::string(input);
  auto r = spegel::node::EvaluatePreflight(facts, spegel::node::PreflightOptions());
  Check(r.verdict != spegel::node::PreflightVerdict::kUnverified);
  Check((r.verdict == spegel::node::PreflightVerdict::kRefuse) == !r.message.empty());
  return 0;
}
