// Fuzzes dns::ParseMessage (the mDNS agent's input from the network) and BuildMessage.
// Invariants checked: parsing never crashes and fails only with InvalidArgument; a parsed message
// builds again (with and without compression) unless the uncompressed form would exceed 64 KiB,
// the built bytes parse, and building that parse gives the same bytes (a stable fixed point).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "membership/dns_message.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace dns = spegel::cluster::dns;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  spegel::Result<dns::Message> m = dns::ParseMessage(input);
  if (!m.ok()) {
    Check(m.status().code() == spegel::Code::kInvalidArgument);
    Check(m.status().message().size() < 256);
    return 0;
  }
  for (bool compress : {true, false}) {
    spegel::Result<std::string> wire = dns::BuildMessage(*m, compress);
    if (!wire.ok()) {
      Check(wire.status().message().find("65535") != std::string::npos);
      continue;
    }
    spegel::Result<dns::Message> again = dns::ParseMessage(*wire);
    Check(again.ok());
    Check(again->questions.size() == m->questions.size());
    Check(again->answers.size() == m->answers.size());
    Check(again->authorities.size() == m->authorities.size());
    Check(again->additionals.size() == m->additionals.size());
    for (size_t i = 0; i < m->questions.size(); ++i) {
      Check(again->questions[i].name == m->questions[i].name);
    }
    for (size_t i = 0; i < m->answers.size(); ++i) {
      Check(again->answers[i].name == m->answers[i].name);
      Check(again->answers[i].target == m->answers[i].target);
      Check(again->answers[i].txt == m->answers[i].txt);
    }
    spegel::Result<std::string> rebuilt = dns::BuildMessage(*again, compress);
    Check(rebuilt.ok());
    Check(*rebuilt == *wire);
  }
  return 0;
}
