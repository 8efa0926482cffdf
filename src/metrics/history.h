// What the status page remembers, in fixed memory: registry traffic per time step (History) and
// the last pulls (RecentPulls).
//
// Pure data structures; thread-compatible (the StatusBoard uses them on the loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spegel::metrics {

// Content requests (manifests and blobs) by where their answer came from, since start.
struct TrafficTotals {
  uint64_t local = 0;      // this node's committed content
  uint64_t peer = 0;       // streamed from a peer's committed copy
  uint64_t inflight = 0;   // a download in flight: a peer's (followed) or this node's (to a peer)
  uint64_t not_found = 0;  // 404 to containerd: it goes to the upstream
  // Body bytes containerd got from other nodes, which the upstream did not have to send.
  uint64_t peer_bytes = 0;      // from peers' committed copies
  uint64_t inflight_bytes = 0;  // from peers' downloads in flight (pull coalescing)

  TrafficTotals Minus(const TrafficTotals& earlier) const;
};

struct HistoryPoint {
  int64_t end_unix_s = 0;  // the step ended then (the last point: now, a step in progress)
  TrafficTotals delta;     // what happened during the step
};

// The last `capacity` steps of TrafficTotals as deltas. Record() closes a step; the first call
// only sets the baseline.
class History {
 public:
  explicit History(size_t capacity);

  void Record(int64_t unix_s, const TrafficTotals& totals);
  // Oldest first; then, when `now_totals` is given, the step in progress (since the last Record)
  // ending at `now_unix_s`.
  std::vector<HistoryPoint> Points(int64_t now_unix_s, const TrafficTotals* now_totals) const;
  size_t capacity() const { return ring_.size(); }

 private:
  std::vector<HistoryPoint> ring_;
  size_t next_ = 0;
  size_t count_ = 0;
  bool has_baseline_ = false;
  TrafficTotals last_;
};

// One pull by containerd of a manifest or a blob.
struct PullRecord {
  int64_t unix_ms = 0;    // when the request came
  std::string image;      // registry/repository ("docker.io/library/nginx"); registry may be ""
  std::string reference;  // the tag or digest asked for
  std::string kind;       // "manifest" or "blob"
  std::string source;     // "local", "peer", "inflight" or "none"
  std::string peer;       // the node the bytes came from (peer, inflight), else ""
  int status = 0;
  uint64_t bytes = 0;    // body bytes promised by the answer
  double seconds = 0;    // request to the last byte sent (or to the abort)
  bool complete = true;  // false: the client or the source went away mid-answer
};

// The last `capacity` PullRecords.
class RecentPulls {
 public:
  explicit RecentPulls(size_t capacity);
  void Add(PullRecord record);
  // Newest first.
  std::vector<PullRecord> Newest() const;

 private:
  std::vector<PullRecord> ring_;
  size_t next_ = 0;
  size_t count_ = 0;
};

}  // namespace spegel::metrics
