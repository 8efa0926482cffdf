// Syncer: keeps the Index equal to what this node's containerd can serve.
//
//   subscriber thread:  Events.Subscribe (blocking) ──post()──▶ loop: apply event
//   worker thread:      full syncs and single-image walks ──post()──▶ loop: update Index
//
// Life cycle of a connection: subscribe → (loop) connected → full sync on the worker → Index
// replaced → synced (ready). Events that arrive while a full sync runs are applied at once and
// replayed after the snapshot lands, so none is lost. When the stream breaks (containerd
// restarts or is absent) the Syncer marks itself disconnected and not synced (not ready), keeps
// the last view for inspection, and reconnects with backoff (100 ms doubling to 5 s), then
// resyncs. containerd's GC deletes content without events, so a full resync also runs every
// `resync_interval`, and the registry reports blobs it finds missing through BlobMissing().
//
// Threading: construct, Start(), Stop() and every accessor on the loop thread. Callbacks from the
// threads reach the loop only through Loop::Post(); after Stop() none of them touches the Syncer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "containerd/client.h"
#include "containerd/content_store.h"
#include "index/index.h"
#include "index/walker.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "loop/worker.h"

namespace spegel::index {

struct SyncerOptions {
  // Full resync period (GC removes content without events). Default 60 s.
  std::chrono::milliseconds resync_interval{60000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
};

class Syncer {
 public:
  // Each full sync discovers the content directory again (`content`'s Discover(), on the worker),
  // walks with it, and then installs it in `content` (SetDirectory(), on the loop), so the
  // registry reads from the directory the index was built from. `content` must outlive the
  // Syncer.
  Syncer(Loop* loop, containerd::ContainerdClient* client, containerd::ContentStore* content,
         Index* index, SyncerOptions options);
  // REQUIRES: Stop() was called (or Start() never was).
  ~Syncer();
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  void Start();
  // Cancels the subscription, stops both threads (joins them). Idempotent.
  void Stop();

  bool connected() const { return connected_; }
  bool synced() const { return synced_; }
  bool ready() const { return connected_ && synced_; }
  // Readable content directory in use, or empty when blobs must be read through gRPC (the
  // content store's directory()).
  const std::string& content_root() const { return content_->directory().root(); }
  const std::string& containerd_version() const { return containerd_version_; }
  uint64_t full_syncs() const { return full_syncs_; }
  // Blobs the index listed that were gone from the content store when served (containerd's GC
  // deletes without events): each was dropped from the index (so withdrawn from its owners).
  uint64_t blobs_gone() const { return blobs_gone_; }
  uint64_t reconnects() const { return reconnects_; }
  double last_sync_seconds() const { return last_sync_seconds_; }

  // The registry found this blob missing from the content store while serving it.
  void BlobMissing(const oci::Digest& digest);

 private:
  struct SyncOutcome {
    Result<SyncResult> result = Status::Internal("not run");
    containerd::ContentDirectory directory;
    std::string version;
    double seconds = 0;
  };

  void SubscriberMain();
  void OnConnected(uint64_t connection);
  void OnDisconnected(uint64_t connection, const Status& why);
  void OnEvent(uint64_t connection, const containerd::Event& event);
  void ApplyEvent(const containerd::Event& event);
  void RequestFullSync();
  void OnFullSyncDone(uint64_t connection, SyncOutcome outcome);
  void WalkImage(const std::string& name);
  void OnWalkDone(const std::string& name, uint64_t seq, Result<ImageWalk> walk);

  Loop* const loop_;
  containerd::ContainerdClient* const client_;
  containerd::ContentStore* const content_;
  Index* const index_;
  const SyncerOptions options_;

  // Worker-thread state (touched only by jobs on worker_).
  Walker walker_;

  // Loop-thread state.
  Liveness liveness_;
  bool started_ = false;
  bool connected_ = false;
  bool synced_ = false;
  uint64_t connection_ = 0;  // id of the current subscription, 0 = none
  bool sync_in_flight_ = false;
  bool sync_again_ = false;
  std::vector<containerd::Event> replay_;  // events seen while a full sync ran
  uint64_t walk_seq_ = 0;
  std::unordered_map<std::string, uint64_t> walks_in_flight_;  // image name -> newest seq
  std::string containerd_version_;
  uint64_t full_syncs_ = 0;
  uint64_t blobs_gone_ = 0;
  uint64_t reconnects_ = 0;
  double last_sync_seconds_ = 0;
  bool logged_unreachable_ = false;
  Timer resync_timer_;

  // Subscriber-thread coordination.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // Guarded by mu_.
  Worker worker_;
  std::thread subscriber_;
};

}  // namespace spegel::index
