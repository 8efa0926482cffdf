#include "membership/hello.h"

#include "base/lines.h"
#include "base/numbers.h"

namespace spegel::cluster {

std::string FormatHello(const MemberInfo& info) {
  return "id=" + info.node_id + "\ninc=" + std::to_string(info.incarnation) +
         "\nregistry=" + std::to_string(info.registry_port) +
         "\nrouter=" + std::to_string(info.router_port) + "\n";
}

Result<MemberInfo> ParseHello(std::string_view body) {
  if (body.size() > kMaxHelloBytes) return Status::InvalidArgument("hello body too large");
  MemberInfo info;
  bool has_inc = false;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      error = "hello line without '='";
      return false;
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "id") {
      info.node_id = std::string(value);
    } else if (key == "inc") {
      has_inc = ParseDecimal(value, &info.incarnation);
      if (!has_inc) error = "bad inc";
    } else if (key == "registry") {
      if (!ParsePort(value, &info.registry_port)) error = "bad registry port";
    } else if (key == "router") {
      if (!ParsePort(value, &info.router_port)) error = "bad router port";
    }
    return error.empty();
  });
  if (!error.empty()) return Status::InvalidArgument("hello: " + error);
  if (!IsValidNodeId(info.node_id)) return Status::InvalidArgument("hello: invalid node id");
  if (!has_inc) return Status::InvalidArgument("hello: missing inc");
  if (info.registry_port == 0 || info.router_port == 0) {
    return Status::InvalidArgument("hello: missing registry or router port");
  }
  return info;
}

}  // namespace spegel::cluster
