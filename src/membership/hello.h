// The hello: how a node turns an address (a DNS answer, a static peer, upstream's bootstrap, a
// bound member to probe) into that node's MemberInfo. The sender tells its own info and the
// receiver answers with its own; the receiver takes the sender as a member at the address the
// message came from, never one from the body.
//
// The body, both ways, is FormatHello's: "id=…\ninc=…\nregistry=…\nrouter=…\n", split into lines
// as base/lines.h says. The exchange itself is a HelloClient's: the Bootstrapper (and the
// ClusterNode's prober) send through this interface, and the router API's HttpRouterTransport
// (src/cluster) implements it as POST kHelloPath (cluster/router_wire.h) on the router port.
//
// FormatHello and ParseHello are pure functions; thread-safe. ParseHello reads bytes from other
// nodes: it never trusts a length and fails with InvalidArgument and a short reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "membership/member.h"

namespace spegel::cluster {

// The largest hello body either side accepts.
inline constexpr size_t kMaxHelloBytes = 4096;

// Parse ignores unknown keys; errors name the missing or bad key. Addresses are not part of the
// format: Format leaves them out and Parse returns none.
std::string FormatHello(const MemberInfo& info);
Result<MemberInfo> ParseHello(std::string_view body);

// Sends hellos on behalf of this node. Loop thread only.
class HelloClient {
 public:
  virtual ~HelloClient() = default;

  // Says hello to ip:port; `done` gets the receiver's info (addresses = {ip}), or an error when
  // it did not answer, answered with an error or with a body ParseHello refuses. `done` runs
  // exactly once on the loop thread, never inline, unless the client is destroyed first: it
  // owns its hellos in flight and its destructor cancels them (their callbacks never run).
  virtual void Hello(const std::string& ip, uint16_t port,
                     std::function<void(Result<MemberInfo>)> done) = 0;
};

}  // namespace spegel::cluster
