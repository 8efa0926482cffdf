#include "cluster/router_service.h"

#include <arpa/inet.h>

#include <algorithm>

#include "base/log.h"
#include "base/numbers.h"

namespace spegel::cluster {
namespace {

constexpr std::string_view kAnnouncePath = "/cluster/v1/announce";
constexpr std::string_view kLookupPath = "/cluster/v1/lookup";
constexpr std::string_view kHelloPath = "/cluster/v1/hello";
constexpr size_t kMaxHelloBytes = 4096;

// Splits `body` into lines ("\n" or "\r\n"); a final line without "\n" counts.
template <typename Fn>
bool ForEachLine(std::string_view body, Fn&& fn) {
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!fn(line)) return false;
  }
  return true;
}

}  // namespace

bool IsIpLiteral(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string s(text);
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, s.c_str(), &v4) == 1 || inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

std::string FormatHello(const MemberInfo& info) {
  return "id=" + info.node_id + "\ninc=" + std::to_string(info.incarnation) +
         "\nregistry=" + std::to_string(info.registry_port) +
         "\nrouter=" + std::to_string(info.router_port) + "\n";
}

Result<MemberInfo> ParseHello(std::string_view body) {
  if (body.size() > kMaxHelloBytes) return Status::InvalidArgument("hello body too large");
  MemberInfo info;
  bool has_inc = false;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      error = "hello line without '='";
      return false;
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "id") {
      info.node_id = std::string(value);
    } else if (key == "inc") {
      has_inc = ParseDecimal(value, &info.incarnation);
      if (!has_inc) error = "bad inc";
    } else if (key == "registry") {
      if (!ParsePort(value, &info.registry_port)) error = "bad registry port";
    } else if (key == "router") {
      if (!ParsePort(value, &info.router_port)) error = "bad router port";
    }
    return error.empty();
  });
  if (!error.empty()) return Status::InvalidArgument("hello: " + error);
  if (!IsValidNodeId(info.node_id)) return Status::InvalidArgument("hello: invalid node id");
  if (!has_inc) return Status::InvalidArgument("hello: missing inc");
  if (info.registry_port == 0 || info.router_port == 0) {
    return Status::InvalidArgument("hello: missing registry or router port");
  }
  return info;
}

std::string FormatAnnounce(const AnnounceBatch& batch) {
  std::string out = "ttl=" + std::to_string(batch.ttl_ms) + "\n";
  for (const auto& key : batch.add) out.append("+").append(key).append("\n");
  for (const auto& key : batch.remove) out.append("-").append(key).append("\n");
  return out;
}

Result<AnnounceBatch> ParseAnnounce(std::string_view body) {
  if (body.size() > kMaxAnnounceBodyBytes) {
    return Status::InvalidArgument("announce body larger than 1 MiB");
  }
  AnnounceBatch batch;
  std::string error;
  bool first = true;
  size_t keys = 0;
  ForEachLine(body, [&](std::string_view line) {
    if (first) {
      first = false;
      if (line.substr(0, 4) != "ttl=" || !ParseDecimal(line.substr(4), &batch.ttl_ms)) {
        error = "announce must start with ttl=<ms>";
        return false;
      }
      return true;
    }
    if (++keys > kMaxAnnounceKeys) {
      error = "announce with more than " + std::to_string(kMaxAnnounceKeys) + " keys";
      return false;
    }
    const std::string_view key = line.substr(1);
    if (key.size() > kMaxKeyBytes) {
      error = "announce key longer than " + std::to_string(kMaxKeyBytes) + " bytes";
      return false;
    }
    if (line[0] == '+') {
      batch.add.emplace_back(key);
    } else if (line[0] == '-') {
      batch.remove.emplace_back(key);
    } else {
      error = "announce line must start with + or -";
      return false;
    }
    return true;
  });
  if (first && error.empty()) error = "empty announce";
  if (!error.empty()) return Status::InvalidArgument(error);
  return batch;
}

std::string FormatProviders(const std::vector<Provider>& providers) {
  std::string out;
  size_t n = 0;
  for (const auto& p : providers) {
    if (++n > kMaxProvidersPerAnswer) break;
    out.append(p.node_id).append(" ").append(p.address).append(" ");
    out.append(std::to_string(p.registry_port)).append("\n");
  }
  return out;
}

Result<std::vector<Provider>> ParseProviders(std::string_view body) {
  std::vector<Provider> out;
  std::string error;
  ForEachLine(body, [&](std::string_view line) {
    if (out.size() >= kMaxProvidersPerAnswer) {
      error = "too many providers";
      return false;
    }
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) {
      error = "malformed provider line";
      return false;
    }
    Provider p;
    p.node_id = std::string(line.substr(0, a));
    p.address = std::string(line.substr(a + 1, b - a - 1));
    if (!IsValidNodeId(p.node_id) || !IsIpLiteral(p.address) ||
        !ParsePort(line.substr(b + 1), &p.registry_port)) {
      error = "malformed provider line";
      return false;
    }
    out.push_back(std::move(p));
    return true;
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  return out;
}

// ---------------------------------------------------------------------------------------------
// RouterService

RouterService::RouterService(Router* router, Membership* membership, const MemberInfo* self,
                             auth::PeerAuth auth, uint64_t member_ttl_ms)
    : router_(router),
      membership_(membership),
      self_(self),
      auth_(std::move(auth)),
      member_ttl_ms_(member_ttl_ms) {}

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

void RouterService::Handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = request.path();
  const bool known = path == kAnnouncePath || path == kLookupPath || path == kHelloPath;
  if (!known) {
    Reply(request, writer, 404, "not found\n");
    return;
  }
  const bool want_post = path != kLookupPath;
  const bool method_ok = want_post ? request.method() == http::Method::kPost
                                   : request.method() == http::Method::kGet;
  if (!method_ok) {
    Reply(request, writer, 405, std::string(want_post ? "use POST" : "use GET") + "\n");
    return;
  }
  if (Status auth = auth_.Verify(request.method_name(), request.target(), request.body(),
                                 request.Header(auth::kAuthHeader), auth::UnixSeconds());
      !auth.ok()) {
    LOG_WARN("router: refused unauthenticated request")
        .Str("peer", request.peer_address())
        .Str("path", path)
        .Str("why", auth.message());
    Reply(request, writer, 401, auth.message() + "\n");
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
    if (info->node_id != self_->node_id) {
      membership_->Observe(*info, MemberSource::kPeer, member_ttl_ms_);
    }
    Reply(request, writer, 200, FormatHello(*self_));
    return;
  }
  // Announce.
  auto node = request.Header("X-Spegel-Node");
  auto port_text = request.Header("X-Spegel-Registry-Port");
  uint16_t port = 0;
  if (!node || !IsValidNodeId(*node) || !port_text || !ParsePort(*port_text, &port)) {
    Reply(request, writer, 400, "missing or invalid X-Spegel-Node / X-Spegel-Registry-Port\n");
    return;
  }
  if (*node == self_->node_id) {
    Reply(request, writer, 400, "announce from this node's own id\n");
    return;
  }
  auto batch = ParseAnnounce(request.body());
  if (!batch.ok()) {
    Reply(request, writer, 400, batch.status().message() + "\n");
    return;
  }
  Provider sender{std::string(*node), request.peer_address(), port};
  if (Status s = router_->HandleAnnounce(sender, *batch); !s.ok()) {
    Reply(request, writer, 400, s.message() + "\n");
    return;
  }
  writer.Respond(204, {}, "");
}

// ---------------------------------------------------------------------------------------------
// HttpRouterTransport

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

void HttpRouterTransport::Announce(const Member& owner, const AnnounceBatch& batch,
                                   std::function<void(Status)> done) {
  if (owner.info.addresses.empty() || owner.info.router_port == 0) {
    loop_->Post([done = std::move(done)] { done(Status::Unavailable("owner has no address")); });
    return;
  }
  http::Headers headers{{"X-Spegel-Node", self_->node_id},
                        {"X-Spegel-Registry-Port", std::to_string(self_->registry_port)},
                        {"Content-Type", "text/plain"}};
  Send(owner.info.addresses.front(), owner.info.router_port, "POST", std::string(kAnnouncePath),
       FormatAnnounce(batch), std::move(headers), options_.announce_timeout_ms, 4096,
       [done = std::move(done)](Result<http::FetchResult> r) {
         if (!r.ok()) {
           done(r.status());
         } else if (r->response.status != 204 && r->response.status != 200) {
           done(Status::Unavailable("announce answered " + std::to_string(r->response.status) +
                                    ": " + r->body.substr(0, 200)));
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
       [done = std::move(done)](Result<http::FetchResult> r) {
         if (!r.ok()) {
           done(r.status());
         } else if (r->response.status == 404) {
           done(std::vector<Provider>{});
         } else if (r->response.status != 200) {
           done(Status::Unavailable("lookup answered " + std::to_string(r->response.status)));
         } else {
           done(ParseProviders(r->body));
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

// ---------------------------------------------------------------------------------------------
// Bootstrapper

Bootstrapper::Bootstrapper(Loop* loop, Membership* membership, HttpRouterTransport* transport,
                           BootstrapOptions options)
    : loop_(loop), membership_(membership), transport_(transport), options_(options) {}

Bootstrapper::~Bootstrapper() { liveness_.Revoke(); }

void Bootstrapper::SetSeeds(MemberSource source,
                            const std::vector<std::pair<std::string, uint16_t>>& seeds) {
  const uint64_t now = loop_->NowMs();
  for (const auto& [ip, port] : seeds) {
    const std::string seed_key = ip + "|" + std::to_string(port);
    SeedState& state = seeds_[seed_key];
    if (state.is_self || state.in_flight) continue;
    const Member* known = membership_->FindByAddress(ip);
    if (known != nullptr && known->info.router_port == port && source == MemberSource::kDns) {
      membership_->Observe(known->info, source, options_.member_ttl_ms);
      continue;
    }
    if (now < state.next_hello_ms) continue;
    if (in_flight_ >= options_.max_hellos_in_flight) break;  // The next round continues.
    HelloSeed(source, ip, port);
  }
  // Forget seeds that are gone so the map stays the size of the current answers.
  if (seeds_.size() > 4 * seeds.size() + 64) {
    for (auto it = seeds_.begin(); it != seeds_.end();) {
      const bool listed = std::any_of(seeds.begin(), seeds.end(), [&](const auto& s) {
        return it->first == s.first + "|" + std::to_string(s.second);
      });
      it = (!listed && !it->second.in_flight) ? seeds_.erase(it) : std::next(it);
    }
  }
}

void Bootstrapper::HelloSeed(MemberSource source, const std::string& ip, uint16_t port) {
  const std::string seed_key = ip + "|" + std::to_string(port);
  seeds_[seed_key].in_flight = true;
  ++in_flight_;
  transport_->Hello(ip, port, [this, alive = liveness_.token(), source, seed_key](Result<MemberInfo> info) {
    if (!alive.alive()) return;
    --in_flight_;
    SeedState& state = seeds_[seed_key];
    state.in_flight = false;
    const uint64_t now = loop_->NowMs();
    if (!info.ok()) {
      state.backoff_ms = state.backoff_ms == 0
                             ? options_.hello_retry_min_ms
                             : std::min(state.backoff_ms * 2, options_.hello_retry_max_ms);
      state.next_hello_ms = now + state.backoff_ms;
      LOG_DEBUG("bootstrap: hello failed").Str("seed", seed_key).Str("error", info.status().message());
      return;
    }
    state.backoff_ms = 0;
    state.next_hello_ms = now + options_.hello_retry_min_ms;
    if (info->node_id == membership_->self_id()) {
      state.is_self = true;  // Our own address in the DNS answer or the static list.
      return;
    }
    if (membership_->Observe(*info, source, options_.member_ttl_ms)) {
      LOG_INFO("member joined")
          .Str("node", info->node_id)
          .Str("address", info->addresses.front())
          .Str("source", MemberSourceName(source));
    }
  });
}

}  // namespace spegel::cluster
