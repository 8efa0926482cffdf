#include "membership/http_bootstrap.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "base/json_escape.h"
#include "base/log.h"
#include "http/address.h"

namespace spegel::cluster {
namespace {

constexpr size_t kMaxDocumentBytes = 64 << 10;
constexpr uint64_t kFetchTimeoutMs = 10'000;

std::string Quote(std::string_view text) {
  std::string out;
  AppendJsonString(&out, text.substr(0, 200));
  return out;
}

}  // namespace

Result<BootstrapUrl> ParseBootstrapUrl(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Status::Unimplemented(
        "https bootstrap URLs need a TLS client, which this build has "
        "not; use http:// (the document is not secret)");
  }
  if (url.rfind(kHttp, 0) != 0) {
    return Status::InvalidArgument("bootstrap URL " + Quote(url) +
                                   ": expected http://IP[:PORT]/PATH");
  }
  std::string_view rest = url.substr(kHttp.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  BootstrapUrl out;
  out.target = slash == std::string_view::npos ? "/id" : std::string(rest.substr(slash));
  if (out.target.find_first_of(" \t\r\n#") != std::string::npos) {
    return Status::InvalidArgument("bootstrap URL " + Quote(url) + ": bad path");
  }
  // The authority is what --static-bootstrap-peers takes, the port optional.
  Result<http::HostPort> host = http::ParseHostPort(authority, /*allow_bare_v6=*/false);
  if (!host.ok()) {
    return Status::InvalidArgument("bootstrap URL " + Quote(url) + ": " + host.status().message());
  }
  out.host = std::move(host->ip);
  if (host->has_port) out.port = host->port;
  return out;
}

Result<std::vector<std::pair<std::string, uint16_t>>> ParseBootstrapPeers(std::string_view json,
                                                                          size_t max_entries) {
  if (json.size() > kMaxDocumentBytes) {
    return Status::InvalidArgument("bootstrap document larger than 64 KiB");
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) {
    return Status::InvalidArgument("bootstrap document is not a JSON array of AddrInfo");
  }
  std::vector<std::pair<std::string, uint16_t>> peers;
  size_t entries = 0;
  for (const rapidjson::Value& entry : doc.GetArray()) {
    if (entries >= max_entries) break;
    if (!entry.IsObject()) continue;
    auto addrs = entry.FindMember("Addrs");
    if (addrs == entry.MemberEnd() || !addrs->value.IsArray()) continue;
    ++entries;
    for (const rapidjson::Value& addr : addrs->value.GetArray()) {
      if (!addr.IsString()) continue;
      auto parsed = http::ParseTcpMultiaddr(
          std::string_view(addr.GetString(), addr.GetStringLength()));
      if (!parsed) continue;
      if (std::find(peers.begin(), peers.end(), *parsed) == peers.end()) {
        peers.push_back(std::move(*parsed));
      }
    }
  }
  if (peers.empty()) {
    return Status::InvalidArgument("bootstrap document names no /ip4 or /ip6 tcp address");
  }
  return peers;
}

std::string BootstrapIdDocument(const std::vector<BootstrapEntry>& entries) {
  std::string out = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    const BootstrapEntry& e = entries[i];
    if (i) out.push_back(',');
    out.append("{\"ID\":");
    AppendJsonString(&out, e.node_id);
    out.append(",\"Addrs\":[");
    if (!e.ip.empty()) {
      AppendJsonString(&out, std::string(e.ip.find(':') == std::string::npos ? "/ip4/" : "/ip6/") +
                                 e.ip + "/tcp/" + std::to_string(e.router_port));
    }
    out.append("]}");
  }
  out.append("]\n");
  return out;
}

void HttpBootstrapHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  if (request.path() != "/id") {
    writer.Respond(404, {{"Content-Type", "text/plain"}}, "not found\n");
    return;
  }
  if (request.method() != http::Method::kGet && request.method() != http::Method::kHead) {
    writer.Respond(405, {{"Allow", "GET, HEAD"}, {"Content-Type", "text/plain"}},
                   "method not allowed\n");
    return;
  }
  std::vector<BootstrapEntry> entries{{*node_id_, request.local_address(), router_port_}};
  if (members_) {
    for (BootstrapEntry& m : members_()) {
      if (entries.size() >= kMaxBootstrapEntries) break;
      entries.push_back(std::move(m));
    }
  }
  std::string body = BootstrapIdDocument(entries);
  http::Headers headers{{"Content-Type", "application/json"}};
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(200, std::move(headers), body.size());
  } else {
    writer.Respond(200, std::move(headers), std::move(body));
  }
}

HttpBootstrapClient::HttpBootstrapClient(Loop* loop, BootstrapUrl url, uint64_t interval_ms,
                                         OnPeers on_peers)
    : loop_(loop),
      url_(std::move(url)),
      interval_ms_(interval_ms),
      on_peers_(std::move(on_peers)) {}

HttpBootstrapClient::~HttpBootstrapClient() {
  liveness_.Revoke();
  exchange_.reset();
}

void HttpBootstrapClient::Start() {
  timer_ = std::make_unique<Timer>(loop_);
  timer_->Start(0, interval_ms_, [this] { Round(); });
}

void HttpBootstrapClient::Round() {
  if (exchange_) return;  // The previous GET is still running (it has its own timeout).
  http::ClientRequest request;
  request.host = url_.host;
  request.port = url_.port;
  request.target = url_.target;
  http::ClientOptions options;
  options.connect_timeout_ms = kFetchTimeoutMs;
  options.head_timeout_ms = kFetchTimeoutMs;
  options.idle_timeout_ms = kFetchTimeoutMs;
  exchange_ = http::Fetch(loop_, std::move(request), options, kMaxDocumentBytes,
                          [this, alive = liveness_.token()](Result<http::FetchResult> r) {
                            if (!alive.alive()) return;
                            exchange_.reset();
                            if (!r.ok()) return Failed(r.status().message());
                            if (r->response.status != 200) {
                              return Failed("status " + std::to_string(r->response.status));
                            }
                            auto peers = ParseBootstrapPeers(r->body);
                            if (!peers.ok()) return Failed(peers.status().message());
                            ++answers_;
                            if (failing_) {
                              LOG_INFO("http bootstrap answers again").Str("host", url_.host);
                            }
                            failing_ = false;
                            on_peers_(*peers);
                          });
}

void HttpBootstrapClient::Failed(const std::string& why) {
  ++failures_;
  if (failing_) return;
  failing_ = true;
  LOG_WARN("http bootstrap failed; keeping known members")
      .Str("url", "http://" + url_.host + ":" + std::to_string(url_.port) + url_.target)
      .Str("error", why);
}

}  // namespace spegel::cluster
