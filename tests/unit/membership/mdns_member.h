// The node the mDNS tests announce: a fixed incarnation and ports, only the id varies.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "membership/member.h"

namespace spegel::cluster {

inline MemberInfo Node(std::string id, uint64_t incarnation = 1700000000000) {
  MemberInfo m;
  m.node_id = std::move(id);
  m.incarnation = incarnation;
  m.registry_port = 5000;
  m.router_port = 5001;
  return m;
}

}  // namespace spegel::cluster
