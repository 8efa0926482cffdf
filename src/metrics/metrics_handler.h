// MetricsHandler: routes the metrics address.
//
//   GET|HEAD /metrics          Prometheus text format 0.0.4 (Registry::Expose)
//   GET|HEAD /, /debug/web/    the status page (status_page.h), unless --debug-web-enabled=false
//   GET|HEAD /debug/status     the same snapshot as JSON (status.h)
//   GET /debug/measure         ?image=REF pulls REF through the peers and shows where each part
//                              came from (measure.h); without it, the form. Only with the status
//                              page and a Measure. 400 for a bad query, 429 while one runs.
//   GET|HEAD /readyz, /livez   as on the registry address (200 / 503, always 200)
//   GET|HEAD /debug/index      JSON: readiness, containerd state and the whole index
//   GET|HEAD /debug/members    JSON: this node and every known cluster member (sources, expiry)
//   GET|HEAD /debug/routing    JSON: routing counters; ?key=K adds K's owners, this node's
//                              provider entries for K and a live lookup (<= 500 ms)
//                              (without a cluster: this node only)
//   other methods              405;  other paths 404
//
// Never authenticated (basic auth protects the registry API only).
//
// Ownership and threading: owned by the daemon; the Registry, StatusBoard, Index and Syncer must
// outlive it. Loop thread only (an http::Handler).
#pragma once

#include <string>

#include "http/handler.h"
#include "index/index.h"
#include "index/syncer.h"
#include "metrics/measure.h"
#include "metrics/registry.h"
#include "metrics/status.h"

namespace spegel::metrics {

class MetricsHandler : public http::Handler {
 public:
  // `measure` may be null (no /debug/measure).
  MetricsHandler(Registry* registry, StatusBoard* board, const index::Index* index,
                 const index::Syncer* syncer, Measure* measure = nullptr);

  void Handle(http::Request& request, http::ResponseWriter& writer) override;

 private:
  std::string DebugIndex() const;
  std::string DebugMembers() const;
  std::string DebugRouting() const;
  void ClusterRouting(http::Request& request, http::ResponseWriter& writer);
  void MeasureRoute(http::Request& request, http::ResponseWriter& writer);
  StatusSnapshot Snapshot() const;

  Registry* registry_;
  StatusBoard* board_;
  const index::Index* index_;
  const index::Syncer* syncer_;
  Measure* measure_;
};

}  // namespace spegel::metrics
