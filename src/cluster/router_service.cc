#include "cluster/router_service.h"

#include <string_view>
#include <utility>

#include "base/log.h"
#include "base/numbers.h"
#include "cluster/router_wire.h"
#include "membership/hello.h"

namespace spegel::cluster {

namespace {

constexpr std::string_view kBadSender = "missing or invalid X-Spegel-Node / X-Spegel-Registry-Port";

// The calls made under a node's name (X-Spegel-Node), which Handle refuses without it.
bool NamesSender(std::string_view path) {
  return path == kAnnouncePath || path == kClaimPath || path == kProgressPath;
}

}  // namespace

http::ServerOptions RouterServerOptions() {
  http::ServerOptions options;
  options.keep_request_body = true;
  options.max_request_body_bytes = kMaxAnnounceBodyBytes;
  options.max_buffered_body_bytes = 32 * kMaxAnnounceBodyBytes;
  options.max_connections = 4096;
  return options;
}

RouterService::RouterService(Router* router, Membership* membership, const MemberInfo* self,
                             auth::PeerAuth auth, uint64_t member_ttl_ms, ClaimTable* claims,
                             Scheduler* clock)
    : router_(router),
      membership_(membership),
      self_(self),
      auth_(std::move(auth)),
      member_ttl_ms_(member_ttl_ms),
      claims_(clock != nullptr ? claims : nullptr),
      clock_(clock) {}

std::optional<Provider> RouterService::Sender(const http::Request& request) const {
  auto node = request.Header("X-Spegel-Node");
  auto port_text = request.Header("X-Spegel-Registry-Port");
  uint16_t port = 0;
  if (!node || !IsValidNodeId(*node) || !port_text || !ParsePort(*port_text, &port)) {
    return std::nullopt;
  }
  return Provider{std::string(*node), request.peer_address(), port};
}

void RouterService::HandleClaim(http::Request& request, http::ResponseWriter& writer,
                                const Provider& sender) {
  auto claim = ParseClaimRequest(request.body());
  if (!claim.ok()) {
    Reply(request, writer, 400, claim.status().message() + "\n");
    return;
  }
  ClaimAnswer answer = AnswerClaim(claim->key, sender, claim->can_serve, claim->avoid);
  // This node's own entry has no address (nobody told it how others reach it): the asker
  // reached it at one, and substitutes it for kSelfAddress (HttpRouterTransport::Claim).
  MarkSelfAddress(&answer.nodes);
  Reply(request, writer, 200, FormatClaimAnswer(answer));
}

ClaimAnswer RouterService::AnswerClaim(const std::string& key, const Provider& asker,
                                       bool can_serve, const std::vector<std::string>& avoid) {
  if (claims_ == nullptr) return {};
  std::vector<Provider> holders = router_->HandleLookup(key);
  std::erase_if(holders, [&](const Provider& p) { return p.node_id == asker.node_id; });
  return claims_->Claim(key, asker, holders, can_serve, clock_->NowMs(), avoid);
}

void RouterService::HandleProgress(http::Request& request, http::ResponseWriter& writer,
                                   const Provider& sender) {
  auto reports = ParseProgress(request.body());
  if (!reports.ok()) {
    Reply(request, writer, 400, reports.status().message() + "\n");
    return;
  }
  std::vector<std::string> revoked;
  if (claims_ != nullptr) {
    const uint64_t now = clock_->NowMs();
    for (const ProgressReport& report : *reports) {
      if (!claims_->Report(report, sender, now)) revoked.push_back(report.key);
    }
  }
  Reply(request, writer, 200, FormatRevoked(revoked));
}

void RouterService::Reply(http::Request& request, http::ResponseWriter& writer, int status,
                          std::string body) {
  if (status >= 400 && status != 404) ++rejected_;
  http::Headers headers{{"Content-Type", "text/plain"}};
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), body.size());
  } else {
    writer.Respond(status, std::move(headers), std::move(body));
  }
}

std::optional<http::HeadVerdict> RouterService::CheckRoute(const http::Request& request) {
  const std::string_view path = request.path();
  const bool known = path == kAnnouncePath || path == kLookupPath || path == kHelloPath ||
                     path == kClaimPath || path == kProgressPath;
  if (!known) return http::HeadVerdict::Refuse(404, "not found");
  const bool want_post = path != kLookupPath;
  const bool method_ok = want_post ? request.method() == http::Method::kPost
                                   : request.method() == http::Method::kGet;
  if (!method_ok) return http::HeadVerdict::Refuse(405, want_post ? "use POST" : "use GET");
  return std::nullopt;
}

std::optional<http::HeadVerdict> RouterService::CheckAuth(
    const http::Request& request, std::optional<std::string_view> body) const {
  const std::optional<std::string_view> header = request.Header(auth::kAuthHeader);
  const int64_t now = auth::UnixSeconds();
  const Status auth = body ? auth_.Verify(request.method_name(), request.target(), *body, header,
                                          now)
                           : auth_.CheckHeader(header, now);
  if (auth.ok()) return std::nullopt;
  LOG_WARN("router: refused unauthenticated request")
      .Str("peer", request.peer_address())
      .Str("path", request.path())
      .Str("why", auth.message());
  return http::HeadVerdict::Refuse(401, auth.message());
}

http::HeadVerdict RouterService::AcceptHead(const http::Request& head) {
  std::optional<http::HeadVerdict> refused = CheckRoute(head);
  if (!refused) refused = CheckAuth(head, std::nullopt);
  if (!refused && NamesSender(head.path()) && !Sender(head)) {
    refused = http::HeadVerdict::Refuse(400, std::string(kBadSender));
  }
  if (!refused) return {};
  if (refused->status != 404) ++rejected_;  // As Reply counts.
  return std::move(*refused);
}

void RouterService::Handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = request.path();
  std::optional<http::HeadVerdict> refused = CheckRoute(request);
  if (!refused) refused = CheckAuth(request, request.body());
  if (refused) {
    Reply(request, writer, refused->status, refused->reason + "\n");
    return;
  }
  if (path == kLookupPath) {
    auto key = http::QueryParam(request.query(), "key");
    if (!key.ok() || !*key || !IsValidRoutingKey(**key)) {
      Reply(request, writer, 400, "missing or invalid key\n");
      return;
    }
    auto providers = router_->HandleLookup(**key);
    if (providers.empty()) {
      Reply(request, writer, 404, "");
      return;
    }
    MarkSelfAddress(&providers);  // as in a claim answer (HttpRouterTransport::Lookup)
    Reply(request, writer, 200, FormatProviders(providers));
    return;
  }
  if (request.peer_address().empty()) {
    Reply(request, writer, 400, "no peer address\n");
    return;
  }
  if (path == kHelloPath) {
    auto info = ParseHello(request.body());
    if (!info.ok()) {
      Reply(request, writer, 400, info.status().message() + "\n");
      return;
    }
    info->addresses = {request.peer_address()};
    // Membership decides: our own hello, a member, a new node, another node with our id, or a
    // member's id from an address it is not bound to.
    switch (
        membership_->Observe(*info, MemberSource::kPeer, member_ttl_ms_, request.peer_address())) {
      case Observed::kRefused:
        Reply(request, writer, 409,
              "hello refused: a node id collision, an incarnation ahead of "
              "the clock, or a member's id from an address it is not bound "
              "to\n");
        return;
      case Observed::kUnlisted:
        if (on_unlisted_hello_) on_unlisted_hello_();
        Reply(request, writer, 403,
              "hello refused: no discovery source of this node names your address (yet)\n");
        return;
      case Observed::kJoined:
      case Observed::kRefreshed:
      case Observed::kIgnored: break;
    }
    Reply(request, writer, 200, FormatHello(*self_));
    return;
  }
  // Announce, claim and progress: from another node, named in the headers.
  const std::optional<Provider> sender = Sender(request);
  if (!sender) {
    Reply(request, writer, 400, std::string(kBadSender) + "\n");
    return;
  }
  // A router call carries no incarnation, and this node never sends one to itself: one under
  // our id is a collision (or a forgery). One under a member's id must come from an address that
  // member is bound to, or anyone could move or withdraw its keys.
  switch (membership_->CheckSender(sender->node_id, request.peer_address())) {
    case SenderCheck::kCollision: {
      MemberInfo other;
      other.node_id = sender->node_id;
      other.addresses = {request.peer_address()};
      membership_->ReportCollision(other, "router call");
      Reply(request, writer, 409, "request under this node's own id: a node id collision\n");
      return;
    }
    case SenderCheck::kForeign:
      membership_->ReportForeign(sender->node_id, request.peer_address(), "router call");
      Reply(request, writer, 409,
            "request under a member's id from an address that member is not bound to\n");
      return;
    case SenderCheck::kBound:
    case SenderCheck::kUnknown: break;
  }
  if (path == kClaimPath) {
    HandleClaim(request, writer, *sender);
    return;
  }
  if (path == kProgressPath) {
    HandleProgress(request, writer, *sender);
    return;
  }
  auto batch = ParseAnnounce(request.body());
  if (!batch.ok()) {
    Reply(request, writer, 400, batch.status().message() + "\n");
    return;
  }
  if (Status s = router_->HandleAnnounce(*sender, *batch); !s.ok()) {
    Reply(request, writer, 400, s.message() + "\n");
    return;
  }
  writer.Respond(204, {}, "");
}

}  // namespace spegel::cluster
