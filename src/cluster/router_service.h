// RouterService: the server side of the router API (router_wire.h) on --router-addr.
//
// Announces go to the Router's provider table, lookups are answered from it, and a hello makes
// its sender a member at the request's TCP peer address (never an address from a body). Claims
// and progress reports go to the ClaimTable, when there is one (else claims are declined). With a
// peer secret, a request without a valid X-Spegel-Auth (over method, target and body) is refused
// with 401 before anything in it is acted on.
//
// Ownership and threading: owned by the node wiring (ClusterNode); loop thread only. Every
// request is answered inline in Handle(); the service keeps no state per request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/peer_auth.h"
#include "cluster/claim_table.h"
#include "cluster/router.h"
#include "http/handler.h"
#include "membership/member.h"
#include "membership/membership.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

class RouterService : public http::Handler {
 public:
  // All must outlive the service. `member_ttl_ms`: how long a hello keeps its sender a member.
  // `claims` and `clock` may be null (no coalescing).
  RouterService(Router* router, Membership* membership, const MemberInfo* self, auth::PeerAuth auth,
                uint64_t member_ttl_ms, ClaimTable* claims = nullptr, Scheduler* clock = nullptr);
  void Handle(http::Request& request, http::ResponseWriter& writer) override;

  // The owner's answer to `asker`'s claim of `key`: the provider table's holders (never the
  // asker) and the ClaimTable decide. kDecline without a ClaimTable. Also for this node's own
  // claims of keys it owns (the ClaimClient's local owner).
  ClaimAnswer AnswerClaim(const std::string& key, const Provider& asker, bool can_serve);

  // Requests refused (400, 401, 405, 413…; a lookup miss is not a refusal).
  uint64_t rejected() const { return rejected_; }

 private:
  void Reply(http::Request& request, http::ResponseWriter& writer, int status, std::string body);
  // The sending node from X-Spegel-Node and X-Spegel-Registry-Port at the TCP peer address, or
  // nullopt when the headers are missing or invalid.
  std::optional<Provider> Sender(http::Request& request) const;
  void HandleClaim(http::Request& request, http::ResponseWriter& writer, const Provider& sender);
  void HandleProgress(http::Request& request, http::ResponseWriter& writer, const Provider& sender);
  Router* router_;
  Membership* membership_;
  const MemberInfo* self_;
  auth::PeerAuth auth_;
  uint64_t member_ttl_ms_;
  ClaimTable* claims_;
  Scheduler* clock_;
  uint64_t rejected_ = 0;
};

}  // namespace spegel::cluster
