// MetricsHandler: every route on --metrics-addr.
//
//   GET|HEAD /metrics          Prometheus text format 0.0.4 (Registry::Expose)
//   GET|HEAD /, /debug/web/    a small HTML status page (no JavaScript): readiness, containerd
//                              version and state, index counts, last sync, requests served,
//                              pull coalescing (claims, copies in flight, claims owned here)
//   GET|HEAD /readyz, /livez   as on the registry address (200 / 503, always 200)
//   GET|HEAD /debug/index      JSON: readiness, containerd state and the whole index
//   GET|HEAD /debug/members    JSON: this node and every known cluster member (sources, expiry)
//   GET|HEAD /debug/routing    JSON: routing counters; ?key=K adds K's owners, this node's
//                              provider entries for K and a live lookup (≤ 500 ms)
//                              (without a cluster: this node only)
//   other methods              405;  other paths 404
//
// Never authenticated (basic auth protects the registry API only).
//
// Ownership and threading: owned by main; the Registry, SpegelMetrics, Index and Syncer must
// outlive it. Loop thread only (an http::Handler).
#pragma once

#include <chrono>
#include <string>

#include "cluster/cluster_node.h"
#include "http/handler.h"
#include "index/index.h"
#include "index/syncer.h"
#include "metrics/registry.h"
#include "metrics/spegel_metrics.h"

namespace spegel::metrics {

struct NodeInfo {
  std::string version;        // spegel's version
  std::string registry_addr;  // as bound, e.g. "127.0.0.1:5000"
  bool status_page = true;    // --debug-web-enabled: serve / and /debug/web/ (else 404)
};

class MetricsHandler : public http::Handler {
 public:
  // With `cluster` (cluster mode), /debug/members and /debug/routing describe it; it must
  // outlive the handler.
  MetricsHandler(Registry* registry, SpegelMetrics* metrics, const index::Index* index,
                 const index::Syncer* syncer, NodeInfo node,
                 cluster::ClusterNode* cluster = nullptr);

  void Handle(http::Request& request, http::ResponseWriter& writer) override;

  // The status page body (exposed for tests).
  std::string StatusPage() const;

 private:
  // Status page rows on pull coalescing: claims, bytes, the copies in flight here and the claims
  // this node owns (at most 20 of each).
  void InFlight(std::string* out) const;
  std::string DebugIndex() const;
  std::string DebugMembers() const;
  std::string DebugRouting() const;

  void ClusterRouting(http::Request& request, http::ResponseWriter& writer);

  cluster::ClusterNode* cluster_;
  Registry* registry_;
  SpegelMetrics* metrics_;
  const index::Index* index_;
  const index::Syncer* syncer_;
  NodeInfo node_;
  std::chrono::steady_clock::time_point started_;
};

// `text` with &, <, >, " and ' replaced by entities.
std::string HtmlEscape(std::string_view text);

}  // namespace spegel::metrics
