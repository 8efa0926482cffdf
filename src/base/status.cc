#include "base/status.h"

namespace spegel {

std::string_view CodeName(Code code) {
  switch (code) {
#define SPEGEL_X(name)          \
  case Code::name: {            \
    std::string_view n = #name; \
    return n.substr(1);         \
  }
    SPEGEL_STATUS_CODES(SPEGEL_X)
#undef SPEGEL_X
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace spegel
