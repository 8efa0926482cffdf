// RouterService: the server side of the router API (router_wire.h) on --router-addr.
//
// Announces go to the Router's provider table, lookups are answered from it, and a hello makes
// its sender a member at the request's TCP peer address (never an address from a body). Claims
// and progress reports go to the ClaimTable, when there is one (else claims are declined). With a
// peer secret, a request without a valid X-Spegel-Auth (over method, target and body) is refused
// with 401 before anything in it is acted on.
//
// Bodies are read only for heads that pass AcceptHead: a known route and method, an X-Spegel-Auth
// that is present, well formed and fresh (with a secret; its HMAC covers the body, so Handle
// checks it), and the sender headers where the call needs them. Everything else is refused
// before a byte of its body is kept (issue 30: unauthenticated 1 MiB announces filled memory).
//
// Ownership and threading: owned by the node wiring (ClusterNode); loop thread only. Every
// request is answered inline in Handle(); the service keeps no state per request.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/peer_auth.h"
#include "cluster/claim_table.h"
#include "cluster/router.h"
#include "http/handler.h"
#include "http/server.h"
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
  // The checks of Handle that need no body, in its order; Handle makes them again.
  http::HeadVerdict AcceptHead(const http::Request& head) override;

  // The owner's answer to `asker`'s claim of `key`: the provider table's holders (never the
  // asker) and the ClaimTable decide (`avoid`: the sources the asker complains of). kDecline
  // without a ClaimTable. Also for this node's own claims of keys it owns (the ClaimClient's
  // local owner).
  ClaimAnswer AnswerClaim(const std::string& key, const Provider& asker, bool can_serve,
                          const std::vector<std::string>& avoid = {});

  // Runs inline, on the loop thread, when a hello was refused because no discovery source names
  // its address (403): DNS discovery asks again (rate-limited by the callee).
  void SetOnUnlistedHello(std::function<void()> callback) {
    on_unlisted_hello_ = std::move(callback);
  }

  // Requests refused (400, 401, 405, 413…; a lookup miss is not a refusal).
  uint64_t rejected() const { return rejected_; }

 private:
  void Reply(http::Request& request, http::ResponseWriter& writer, int status, std::string body);
  // The sending node from X-Spegel-Node and X-Spegel-Registry-Port at the TCP peer address, or
  // nullopt when the headers are missing or invalid.
  std::optional<Provider> Sender(const http::Request& request) const;
  // 404 for an unknown path, 405 for the wrong method; nullopt when both are right.
  static std::optional<http::HeadVerdict> CheckRoute(const http::Request& request);
  // 401 for a request without a good X-Spegel-Auth: with `body`, the whole signature; without,
  // what the head alone shows. Logged. nullopt when it passes.
  std::optional<http::HeadVerdict> CheckAuth(const http::Request& request,
                                             std::optional<std::string_view> body) const;
  void HandleClaim(http::Request& request, http::ResponseWriter& writer, const Provider& sender);
  void HandleProgress(http::Request& request, http::ResponseWriter& writer, const Provider& sender);
  Router* router_;
  Membership* membership_;
  const MemberInfo* self_;
  auth::PeerAuth auth_;
  uint64_t member_ttl_ms_;
  ClaimTable* claims_;
  Scheduler* clock_;
  std::function<void()> on_unlisted_hello_;
  uint64_t rejected_ = 0;
};

// The options of the router port's http::Server. What it can hold in request bodies (issue 30):
// a body is read only once RouterService::AcceptHead passed its head, into room charged to a
// budget of 32 MiB (32 bodies of kMaxAnnounceBodyBytes); a head not yet accepted fills at most
// its connection's 16 KiB read buffer. So at most 32 MiB + 4096 connections × 16 KiB = 96 MiB,
// whatever peers send.
http::ServerOptions RouterServerOptions();

}  // namespace spegel::cluster
