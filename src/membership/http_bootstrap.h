// HTTP bootstrap, upstream Spegel's `--bootstrap-kind=http`, for hosts that share no DNS name and
// no multicast: one node serves `GET /id` (--http-bootstrap-addr), the others GET that URL
// (--http-bootstrap-url, or v0.7.4's --http-bootstrap-peer) and say hello to the addresses in it.
//
// The document is upstream's: a JSON array of AddrInfo objects,
//   [{"ID":"<peer id>","Addrs":["/ip4/10.0.0.1/tcp/5001", ...]}, ...]
// Here ID is the node id (upstream's libp2p peer ids are accepted and ignored), and an address is
// a multiaddr /ip4/<a>/tcp/<port> or /ip6/<a>/tcp/<port>, optionally followed by /p2p/<id>
// (http::ParseTcpMultiaddr). The port is the router port. Other multiaddrs (dns4, udp, quic) are
// skipped. Upstream nodes serve one entry (themselves) and read at most 3; ours serve themselves
// and their members, and read up to kMaxBootstrapEntries.
//
// Only plain http:// URLs whose host is an IP literal: this build has no TLS client
// (--http-bootstrap-cert-dir is accepted and ignored with a warning) and resolves no names here.
//
// Threading: the parsers are pure functions; HttpBootstrapClient and the handler are loop-thread
// only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/client.h"
#include "http/handler.h"
#include "loop/liveness.h"
#include "loop/loop.h"

namespace spegel::cluster {

struct BootstrapUrl {
  std::string host;  // An IP literal, without brackets.
  uint16_t port = 80;
  std::string target;  // "/id" when the URL has no path.
};

// "http://<ipv4>[:port][/path]" or "http://[<ipv6>][:port][/path]". InvalidArgument naming the
// problem otherwise (https is Unimplemented: no TLS here).
Result<BootstrapUrl> ParseBootstrapUrl(std::string_view url);

// The router addresses (ip, port) of upstream's AddrInfo JSON array (see above), at most
// `max_entries` entries, in document order, duplicates dropped. InvalidArgument when the document
// is not such an array or holds no usable address. At most 64 KiB is parsed.
inline constexpr size_t kMaxBootstrapEntries = 256;
Result<std::vector<std::pair<std::string, uint16_t>>> ParseBootstrapPeers(
    std::string_view json, size_t max_entries = kMaxBootstrapEntries);

struct BootstrapEntry {
  std::string node_id;
  std::string ip;  // An IP literal; an entry without one is written with no address.
  uint16_t router_port = 0;
};

// An /id document: one AddrInfo per entry, "/ip4|ip6/<ip>/tcp/<router_port>".
std::string BootstrapIdDocument(const std::vector<BootstrapEntry>& entries);

// Serves GET|HEAD /id: this node first (at the address the request came in on, so a node bound to
// all interfaces names the one the asker reached), then the members `members()` lists, so that
// nodes that all point at one bootstrap node also find each other (upstream's libp2p learns them
// from the DHT; here membership does not spread by itself). 404 elsewhere, 405 for other
// methods. `members` runs on the loop thread, inside Handle.
class HttpBootstrapHandler : public http::Handler {
 public:
  // `node_id` is read at every request (a node renamed after a collision serves its new id); it
  // must outlive the handler.
  HttpBootstrapHandler(const std::string* node_id, uint16_t router_port,
                       std::function<std::vector<BootstrapEntry>()> members)
      : node_id_(node_id), router_port_(router_port), members_(std::move(members)) {}
  void Handle(http::Request& request, http::ResponseWriter& writer) override;

 private:
  const std::string* node_id_;
  uint16_t router_port_;
  std::function<std::vector<BootstrapEntry>()> members_;
};

// GETs the bootstrap URL now and every `interval_ms`, each with a 10 s timeout, and hands the
// addresses found to `on_peers` (on the loop thread, never inline). A failure is logged at WARN
// once per run of failures; known members stay (the caller's seeds are only replaced by an
// answer).
class HttpBootstrapClient {
 public:
  using OnPeers = std::function<void(const std::vector<std::pair<std::string, uint16_t>>& peers)>;
  HttpBootstrapClient(Loop* loop, BootstrapUrl url, uint64_t interval_ms, OnPeers on_peers);
  ~HttpBootstrapClient();
  HttpBootstrapClient(const HttpBootstrapClient&) = delete;
  HttpBootstrapClient& operator=(const HttpBootstrapClient&) = delete;

  void Start();
  uint64_t answers() const { return answers_; }
  uint64_t failures() const { return failures_; }

 private:
  void Round();
  void Failed(const std::string& why);

  Loop* loop_;
  BootstrapUrl url_;
  uint64_t interval_ms_;
  OnPeers on_peers_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<http::ClientExchange> exchange_;
  bool failing_ = false;
  uint64_t answers_ = 0;
  uint64_t failures_ = 0;
  Liveness liveness_;
};

}  // namespace spegel::cluster
