// RouterService: the server side of the router API (router_wire.h) on --router-addr.
//
// Announces go to the Router's provider table, lookups are answered from it, and a hello makes
// its sender a member at the request's TCP peer address (never an address from a body). With a
// peer secret, a request without a valid X-Spegel-Auth (over method, target and body) is refused
// with 401 before anything in it is acted on.
//
// Ownership and threading: owned by the node wiring (ClusterNode); loop thread only. Every
// request is answered inline in Handle(); the service keeps no state per request.
#pragma once

#include <cstdint>
#include <string>

#include "auth/peer_auth.h"
#include "cluster/member.h"
#include "cluster/membership.h"
#include "cluster/router.h"
#include "http/handler.h"

namespace spegel::cluster {

class RouterService : public http::Handler {
 public:
  // All must outlive the service. `member_ttl_ms`: how long a hello keeps its sender a member.
  RouterService(Router* router, Membership* membership, const MemberInfo* self, auth::PeerAuth auth,
                uint64_t member_ttl_ms);
  void Handle(http::Request& request, http::ResponseWriter& writer) override;

  // Requests refused (400, 401, 405, 413…; a lookup miss is not a refusal).
  uint64_t rejected() const { return rejected_; }

 private:
  void Reply(http::Request& request, http::ResponseWriter& writer, int status, std::string body);
  Router* router_;
  Membership* membership_;
  const MemberInfo* self_;
  auth::PeerAuth auth_;
  uint64_t member_ttl_ms_;
  uint64_t rejected_ = 0;
};

}  // namespace spegel::cluster
