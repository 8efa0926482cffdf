#include "cluster/http_router_transport.h"

#include "cluster/router_wire.h"

namespace spegel::cluster {

HttpRouterTransport::HttpRouterTransport(Loop* loop, const MemberInfo* self, auth::PeerAuth auth,
                                         PeerClientOptions options)
    : loop_(loop), self_(self), auth_(std::move(auth)), options_(options) {}

HttpRouterTransport::~HttpRouterTransport() { exchanges_.clear(); }

void HttpRouterTransport::Send(const std::string& ip, uint16_t port, std::string method,
                               std::string target, std::string body, http::Headers headers,
                               uint64_t timeout_ms, size_t max_body,
                               std::function<void(Result<http::FetchResult>)> done) {
  http::ClientRequest request;
  request.method = std::move(method);
  request.host = ip;
  request.port = port;
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.headers.push_back({"User-Agent", "spegel"});
  if (auto auth = auth_.Sign(request.method, request.target, body, auth::UnixSeconds())) {
    request.headers.push_back({std::string(auth::kAuthHeader), *auth});
  }
  request.body = std::move(body);
  http::ClientOptions options;
  options.connect_timeout_ms = options_.connect_timeout_ms;
  options.head_timeout_ms = timeout_ms;
  options.idle_timeout_ms = timeout_ms;
  options.pool = options_.pool;
  const uint64_t id = ++next_id_;
  auto exchange = http::Fetch(loop_, std::move(request), options, max_body,
                              [this, id, done = std::move(done)](Result<http::FetchResult> r) {
                                // Keep the exchange alive until this callback returns.
                                auto it = exchanges_.find(id);
                                std::unique_ptr<http::ClientExchange> self_exchange;
                                if (it != exchanges_.end()) {
                                  self_exchange = std::move(it->second);
                                  exchanges_.erase(it);
                                }
                                done(std::move(r));
                              });
  exchanges_.emplace(id, std::move(exchange));
}

void HttpRouterTransport::SendAsSelf(const Member& owner, std::string_view path, std::string body,
                                     uint64_t timeout_ms, size_t max_body,
                                     std::function<void(Result<http::FetchResult>)> done) {
  if (owner.info.addresses.empty() || owner.info.router_port == 0) {
    loop_->Post([done = std::move(done)] { done(Status::Unavailable("owner has no address")); });
    return;
  }
  http::Headers headers{{"X-Spegel-Node", self_->node_id},
                        {"X-Spegel-Registry-Port", std::to_string(self_->registry_port)},
                        {"Content-Type", "text/plain"}};
  Send(owner.info.addresses.front(), owner.info.router_port, "POST", std::string(path),
       std::move(body), std::move(headers), timeout_ms, max_body, std::move(done));
}

void HttpRouterTransport::Claim(const Member& owner, const ClaimRequest& request,
                                uint64_t timeout_ms,
                                std::function<void(Result<ClaimAnswer>)> done) {
  const std::string owner_address = owner.info.addresses.empty() ? std::string()
                                                                 : owner.info.addresses.front();
  SendAsSelf(owner, kClaimPath, FormatClaimRequest(request), timeout_ms, kMaxLookupBodyBytes,
             [owner_id = owner.info.node_id, owner_address,
              done = std::move(done)](Result<http::FetchResult> r) {
               if (!r.ok()) {
                 done(r.status());
                 return;
               }
               if (r->response.status != 200) {
                 done(Status::Unavailable("claim answered " + std::to_string(r->response.status)));
                 return;
               }
               Result<ClaimAnswer> answer = ParseClaimAnswer(r->body);
               if (answer.ok()) ResolveSelfAddress(&answer->nodes, owner_id, owner_address);
               done(std::move(answer));
             });
}

void HttpRouterTransport::Progress(const Member& owner, const std::vector<ProgressReport>& reports,
                                   std::function<void(Result<std::vector<std::string>>)> done) {
  SendAsSelf(owner, kProgressPath, FormatProgress(reports), options_.progress_timeout_ms,
             kMaxProgressBodyBytes, [done = std::move(done)](Result<http::FetchResult> r) {
               if (!r.ok()) {
                 done(r.status());
               } else if (r->response.status != 200) {
                 done(Status::Unavailable("progress answered " +
                                          std::to_string(r->response.status)));
               } else {
                 done(ParseRevoked(r->body));
               }
             });
}

void HttpRouterTransport::Announce(const Member& owner, const AnnounceBatch& batch,
                                   std::function<void(Status)> done) {
  SendAsSelf(owner, kAnnouncePath, FormatAnnounce(batch), options_.announce_timeout_ms, 4096,
             [done = std::move(done)](Result<http::FetchResult> r) {
               if (!r.ok()) {
                 done(r.status());
               } else if (r->response.status != 204 && r->response.status != 200) {
                 done(Status::Unavailable("announce answered " +
                                          std::to_string(r->response.status) + ": " +
                                          r->body.substr(0, 200)));
               } else {
                 done(Status::Ok());
               }
             });
}

void HttpRouterTransport::Lookup(const Member& owner, const std::string& key,
                                 std::function<void(Result<std::vector<Provider>>)> done) {
  if (owner.info.addresses.empty() || owner.info.router_port == 0) {
    loop_->Post([done = std::move(done)] { done(Status::Unavailable("owner has no address")); });
    return;
  }
  Send(owner.info.addresses.front(), owner.info.router_port, "GET",
       std::string(kLookupPath) + "?key=" + http::PercentEncode(key), "", {},
       options_.lookup_timeout_ms, kMaxLookupBodyBytes,
       [owner_id = owner.info.node_id, owner_address = owner.info.addresses.front(),
        done = std::move(done)](Result<http::FetchResult> r) {
         if (!r.ok()) {
           done(r.status());
         } else if (r->response.status == 404) {
           done(std::vector<Provider>{});
         } else if (r->response.status != 200) {
           done(Status::Unavailable("lookup answered " + std::to_string(r->response.status)));
         } else {
           Result<std::vector<Provider>> providers = ParseProviders(r->body);
           if (providers.ok()) ResolveSelfAddress(&*providers, owner_id, owner_address);
           done(std::move(providers));
         }
       });
}

void HttpRouterTransport::Hello(const std::string& ip, uint16_t port,
                                std::function<void(Result<MemberInfo>)> done) {
  Send(ip, port, "POST", std::string(kHelloPath), FormatHello(*self_),
       {{"Content-Type", "text/plain"}}, options_.hello_timeout_ms, kMaxHelloBytes,
       [ip, done = std::move(done)](Result<http::FetchResult> r) {
         if (!r.ok()) {
           done(r.status());
           return;
         }
         if (r->response.status != 200) {
           done(Status::Unavailable("hello answered " + std::to_string(r->response.status)));
           return;
         }
         auto info = ParseHello(r->body);
         if (info.ok()) info->addresses = {ip};
         done(std::move(info));
       });
}

}  // namespace spegel::cluster
