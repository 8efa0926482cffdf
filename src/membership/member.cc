#include "membership/member.h"

#include <cstdio>

#include "base/hash.h"

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

namespace {

std::string WithSuffix(std::string_view host, std::string_view suffix) {
  constexpr size_t kMaxId = 63;
  const size_t room = kMaxId - suffix.size() - 1;
  std::string id(host.substr(0, room));
  while (!id.empty() && (id.back() == '-' || id.back() == '.')) id.pop_back();
  if (id.empty()) id = "node";
  id.push_back('-');
  id.append(suffix);
  return id;
}

}  // namespace

std::vector<std::string> FallbackNodeIds(std::string_view host, std::string_view machine_id,
                                         std::string_view address) {
  std::vector<std::string> ids;
  if (host.empty()) return ids;
  if (!machine_id.empty()) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(HashString(machine_id)));
    ids.push_back(WithSuffix(host, std::string_view(hex, 8)));
  }
  if (!address.empty() && address.size() <= 45) {
    std::string suffix(address);
    for (char& c : suffix) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!ok) c = '-';
    }
    ids.push_back(WithSuffix(host, suffix));
  }
  std::erase_if(ids, [](const std::string& id) { return !IsValidNodeId(id); });
  return ids;
}

}  // namespace spegel::cluster
