#include "cluster/member.h"

namespace spegel::cluster {

std::string_view MemberSourceName(MemberSource source) {
  switch (source) {
    case MemberSource::kMdns: return "mdns";
    case MemberSource::kDns: return "dns";
    case MemberSource::kStatic: return "static";
    case MemberSource::kPeer: return "peer";
    case MemberSource::kHttp: return "http";
  }
  return "unknown";
}

bool IsValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > 63 || id[0] == '.' || id[0] == '-') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace spegel::cluster
