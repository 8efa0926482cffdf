// The router API between nodes (on --router-addr), its client side, and the bootstrap that turns
// addresses (DNS answers, static peers) into members.
//
// Wire format (HTTP/1.1; every body is text; with a peer secret every request carries
// X-Spegel-Auth, see peer_auth.h, and one without a valid one gets 401):
//
//   POST /cluster/v1/announce          the sender's key changes
//        X-Spegel-Node: <node id>      X-Spegel-Registry-Port: <port>
//        body:  "ttl=<ms>\n" then one line per key: "+<key>" (add/refresh) or "-<key>" (remove)
//        → 204; 400 (malformed, over kMaxAnnounceKeys lines or 1 MiB, bad sender) with a reason
//        The provider registered is always <TCP peer address>:<X-Spegel-Registry-Port>: a node
//        can only announce itself.
//   GET  /cluster/v1/lookup?key=<percent-encoded key>
//        → 200 text/plain, one "<node id> <ip> <registry port>" line per provider; 404 if none
//   POST /cluster/v1/hello             body: "id=…\ninc=…\nregistry=…\nrouter=…\n" (the sender)
//        → 200 with the same lines for the receiver. The sender becomes a member at its TCP peer
//        address (never an address from the body).
//
// Threading: every class here lives on the loop thread; callbacks run there, never inline.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/member.h"
#include "cluster/membership.h"
#include "auth/peer_auth.h"
#include "cluster/router.h"
#include "http/client.h"
#include "http/handler.h"
#include "loop/liveness.h"
#include "loop/loop.h"

namespace spegel::cluster {

inline constexpr size_t kMaxAnnounceBodyBytes = 1 << 20;
inline constexpr size_t kMaxLookupBodyBytes = 64 << 10;
inline constexpr size_t kMaxProvidersPerAnswer = 64;

// "id=…\ninc=…\nregistry=…\nrouter=…\n" and back. Parse ignores unknown keys; errors name the
// missing or bad key. Addresses are not part of the format.
std::string FormatHello(const MemberInfo& info);
Result<MemberInfo> ParseHello(std::string_view body);
// The announce body and back. Parse enforces kMaxAnnounceKeys and kMaxKeyBytes per line.
std::string FormatAnnounce(const AnnounceBatch& batch);
Result<AnnounceBatch> ParseAnnounce(std::string_view body);
// Lookup answers: "<node id> <ip> <port>" lines. Parse skips nothing: any bad line fails it.
std::string FormatProviders(const std::vector<Provider>& providers);
Result<std::vector<Provider>> ParseProviders(std::string_view body);
// True for an IPv4 or IPv6 literal (no brackets).
bool IsIpLiteral(std::string_view text);

// The server side: an http::Handler for the router address.
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

struct PeerClientOptions {
  uint64_t connect_timeout_ms = 200;
  uint64_t announce_timeout_ms = 5000;
  uint64_t lookup_timeout_ms = 1000;
  uint64_t hello_timeout_ms = 2000;
};

// The client side: RouterTransport over HTTP, plus hello. Owns its in-flight exchanges; the
// destructor cancels them (their callbacks never run).
class HttpRouterTransport : public RouterTransport {
 public:
  HttpRouterTransport(Loop* loop, const MemberInfo* self, auth::PeerAuth auth,
                      PeerClientOptions options = {});
  ~HttpRouterTransport() override;

  void Announce(const Member& owner, const AnnounceBatch& batch,
                std::function<void(Status)> done) override;
  void Lookup(const Member& owner, const std::string& key,
              std::function<void(Result<std::vector<Provider>>)> done) override;
  // Says hello to ip:port; `done` gets the receiver's info (addresses = {ip}).
  void Hello(const std::string& ip, uint16_t port, std::function<void(Result<MemberInfo>)> done);

  size_t in_flight() const { return exchanges_.size(); }

 private:
  void Send(const std::string& ip, uint16_t port, std::string method, std::string target,
            std::string body, http::Headers headers, uint64_t timeout_ms, size_t max_body,
            std::function<void(Result<http::FetchResult>)> done);

  Loop* loop_;
  const MemberInfo* self_;
  auth::PeerAuth auth_;
  PeerClientOptions options_;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<http::ClientExchange>> exchanges_;
};

struct BootstrapOptions {
  uint64_t member_ttl_ms = 60'000;     // A member learned from DNS/static/hello lives this long.
  uint64_t hello_retry_min_ms = 1'000;  // Backoff for seeds that do not answer hello.
  uint64_t hello_retry_max_ms = 30'000;
  size_t max_hellos_in_flight = 64;
};

// Seeds (ip, router port) from DNS answers or the static list → members, through hello.
// A seed whose address is already a member is refreshed without a message when it comes from
// DNS (the DNS answer is the evidence); static seeds are re-hello'd each round (their liveness
// has no other source). A seed that turns out to be this node is remembered and skipped.
class Bootstrapper {
 public:
  Bootstrapper(Loop* loop, Membership* membership, HttpRouterTransport* transport,
               BootstrapOptions options);
  ~Bootstrapper();
  void SetSeeds(MemberSource source, const std::vector<std::pair<std::string, uint16_t>>& seeds);

 private:
  struct SeedState {
    uint64_t next_hello_ms = 0;
    uint64_t backoff_ms = 0;
    bool in_flight = false;
    bool is_self = false;
  };
  void HelloSeed(MemberSource source, const std::string& ip, uint16_t port);

  Loop* loop_;
  Membership* membership_;
  HttpRouterTransport* transport_;
  BootstrapOptions options_;
  std::map<std::string, SeedState> seeds_;  // by "ip|port"
  size_t in_flight_ = 0;
  Liveness liveness_;
};

}  // namespace spegel::cluster
