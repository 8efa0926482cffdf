#include "registry/errors.h"

#include "base/json_escape.h"

namespace spegel::registry {

int HttpStatus(OciError error) {
  switch (error) {
#define SPEGEL_X(name, status, code) \
  case OciError::name: return status;
    SPEGEL_OCI_ERRORS(SPEGEL_X)
#undef SPEGEL_X
  }
  return 500;
}

std::string_view OciCode(OciError error) {
  switch (error) {
#define SPEGEL_X(name, status, code) \
  case OciError::name: return code;
    SPEGEL_OCI_ERRORS(SPEGEL_X)
#undef SPEGEL_X
  }
  return "UNKNOWN";
}

std::string ErrorBody(OciError error, std::string_view message, std::string_view detail) {
  std::string body = "{\"errors\":[{\"code\":";
  AppendJsonString(&body, OciCode(error));
  body.append(",\"message\":");
  AppendJsonString(&body, message);
  if (!detail.empty()) {
    body.append(",\"detail\":");
    AppendJsonString(&body, detail);
  }
  body.append("}]}\n");
  return body;
}

}  // namespace spegel::registry
