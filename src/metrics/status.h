// The node's status, as one snapshot that /debug/status serves as JSON and the status page (/ and
// /debug/web/) renders as HTML, so the page and its tests read the same data.
//
// StatusBoard keeps what a snapshot needs beyond the current state: registry traffic per 10 s
// step over the last 15 minutes (History), the last 20 pulls by containerd (RecentPulls), and it
// writes the access log: at DEBUG, one JSON line per registry request when its answer ended
// (method, path, ns, status, bytes, duration, source, peer); probes never reach it.
//
// Ownership and threading: owned by the daemon; the Index, Syncer, Inflight and ClusterView it
// reads must outlive it. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/cluster_view.h"
#include "index/index.h"
#include "index/syncer.h"
#include "loop/loop.h"
#include "metrics/history.h"
#include "registry/inflight.h"

namespace spegel::metrics {

struct NodeInfo {
  std::string version;        // spegel's version
  std::string registry_addr;  // as bound, e.g. "127.0.0.1:5000"
  bool status_page = true;    // --debug-web-enabled: serve / and /debug/web/ (else 404)
  // How the start-up check of containerd's configuration went, and flags accepted but ignored:
  // one line each ("passed", "warning: ...").
  std::vector<std::string> startup_check;
};

struct StatusSnapshot {
  std::string node_id;  // "" without a cluster
  std::string version;
  std::string registry_addr;
  int64_t now_unix_ms = 0;
  double uptime_seconds = 0;

  bool ready = false;
  std::vector<std::string> not_ready;      // why not, when not ready
  std::vector<std::string> startup_check;  // NodeInfo::startup_check
  bool containerd_connected = false;
  std::string containerd_version;
  std::string content_store;  // the directory read, or "" (read through containerd)
  uint64_t full_syncs = 0;
  double last_sync_seconds = 0;
  uint64_t reconnects = 0;

  uint64_t images = 0;
  uint64_t blobs = 0;
  uint64_t tags = 0;
  uint64_t blob_bytes = 0;

  bool clustered = false;
  uint64_t node_id_collisions = 0;           // messages from another node using our id
  uint64_t node_id_renames = 0;              // moves to a fallback id (default id taken)
  uint64_t foreign_refused = 0;              // messages naming a member from an unbound address
  std::vector<cluster::MemberView> members;  // the others, sorted by node id

  int history_step_seconds = 0;
  std::vector<HistoryPoint> history;  // oldest first; the last one is the step in progress
  TrafficTotals totals;               // since start

  std::vector<PullRecord> recent_pulls;  // newest first

  bool measure_enabled = false;  // the page offers the measure form

  bool inflight_sharing = false;
  registry::InflightStats inflight;
  std::vector<registry::InflightCopy> inflight_here;
  std::vector<std::pair<std::string, std::string>> claims_owned;
};

// The snapshot as JSON (an object, one line, newline-terminated).
std::string StatusJson(const StatusSnapshot& s);

// One finished (or aborted) request on the registry address, as the metrics front saw it.
struct RequestRecord {
  std::string method;  // "GET", "HEAD", "OTHER"
  std::string path;
  std::string registry;  // the route's registry (ns or path-style), maybe ""
  std::string repository;
  std::string reference;  // tag or digest
  std::string kind;       // "manifest", "blob", "version", "other"
  std::string source;     // "local", "peer", "inflight", "none"
  std::string peer;       // for peer and inflight: the node the bytes came from
  bool mirrored = false;  // a peer asked (X-Spegel-Mirrored)
  int status = 0;
  uint64_t bytes = 0;
  int64_t start_unix_ms = 0;
  double seconds = 0;
  bool complete = true;
};

class StatusBoard {
 public:
  static constexpr size_t kHistorySteps = 90;  // 15 minutes of 10 s steps
  static constexpr uint64_t kStepMs = 10'000;
  static constexpr size_t kRecentPulls = 20;

  // `inflight` and `cluster` may be null (no pull coalescing, no cluster).
  StatusBoard(Loop* loop, const index::Index* index, const index::Syncer* syncer,
              const registry::Inflight* inflight, cluster::ClusterView* cluster, NodeInfo node);
  ~StatusBoard();
  StatusBoard(const StatusBoard&) = delete;
  StatusBoard& operator=(const StatusBoard&) = delete;

  // Starts the history sampler (a loop timer that does not keep the loop running).
  void Start();

  // A registry request's answer ended: counted, logged at DEBUG, kept when it is a pull.
  void RequestEnded(const RequestRecord& r);

  StatusSnapshot Snapshot() const;
  const NodeInfo& node() const { return node_; }
  cluster::ClusterView* cluster() const { return cluster_; }

 private:
  Loop* loop_;
  const index::Index* index_;
  const index::Syncer* syncer_;
  const registry::Inflight* inflight_;
  cluster::ClusterView* cluster_;
  NodeInfo node_;
  std::chrono::steady_clock::time_point started_;
  TrafficTotals totals_;
  History history_;
  RecentPulls pulls_;
  std::unique_ptr<Timer> sampler_;
};

// Wall-clock milliseconds since the epoch.
int64_t UnixMs();

}  // namespace spegel::metrics
