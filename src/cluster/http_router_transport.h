// HttpRouterTransport: the client side of the router API (router_wire.h): the RouterTransport of
// the Router and the ClaimClient over HTTP, and the HelloClient (membership/hello.h) of the
// Bootstrapper and of the ClusterNode's prober.
//
// Each request goes to the owner's first address and router port, signed with the peer secret
// when there is one, and is bounded by its PeerClientOptions timeout; an owner with no address
// fails with Unavailable. A non-2xx answer is an error carrying the status (a lookup's 404 is
// an empty answer).
//
// Ownership and threading: owned by the node wiring; loop thread only. `done` callbacks run
// exactly once on the loop thread, never inline, unless the transport is destroyed first: it owns
// its in-flight exchanges and the destructor cancels them (their callbacks never run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/peer_auth.h"
#include "cluster/router.h"
#include "cluster/router_wire.h"
#include "http/client.h"
#include "http/connection_pool.h"
#include "loop/loop.h"
#include "membership/hello.h"
#include "membership/member.h"

namespace spegel::cluster {

struct PeerClientOptions {
  uint64_t connect_timeout_ms = 200;
  uint64_t announce_timeout_ms = 5000;
  uint64_t lookup_timeout_ms = 1000;
  uint64_t hello_timeout_ms = 2000;
  uint64_t progress_timeout_ms = 2000;
  http::ConnectionPool* pool = nullptr;  // Keep-alive connections to reuse; null = none.
};

class HttpRouterTransport : public RouterTransport, public HelloClient {
 public:
  // `loop` and `self` (this node: its id and registry port go into every announce) must outlive
  // the transport.
  HttpRouterTransport(Loop* loop, const MemberInfo* self, auth::PeerAuth auth,
                      PeerClientOptions options = {});
  ~HttpRouterTransport() override;

  void Announce(const Member& owner, const AnnounceBatch& batch,
                std::function<void(Status)> done) override;
  void Lookup(const Member& owner, const std::string& key,
              std::function<void(Result<std::vector<Provider>>)> done) override;
  // POST kHelloPath with this node's info; a non-200 answer is Unavailable.
  void Hello(const std::string& ip, uint16_t port,
             std::function<void(Result<MemberInfo>)> done) override;
  // The owner's own entry in a claim answer gets the owner's address.
  void Claim(const Member& owner, const ClaimRequest& request, uint64_t timeout_ms,
             std::function<void(Result<ClaimAnswer>)> done) override;
  void Progress(const Member& owner, const std::vector<ProgressReport>& reports,
                std::function<void(Result<std::vector<std::string>>)> done) override;

  size_t in_flight() const { return exchanges_.size(); }

 private:
  // POST with this node's X-Spegel-Node and X-Spegel-Registry-Port to `owner`'s router port.
  void SendAsSelf(const Member& owner, std::string_view path, std::string body, uint64_t timeout_ms,
                  size_t max_body, std::function<void(Result<http::FetchResult>)> done);
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

}  // namespace spegel::cluster
