#include "index/syncer.h"

#include <malloc.h>

#include <algorithm>

#include "base/log.h"

namespace spegel::index {
namespace {

std::string_view EventName(containerd::EventKind kind) {
  switch (kind) {
    case containerd::EventKind::kImageCreate: return "image-create";
    case containerd::EventKind::kImageUpdate: return "image-update";
    case containerd::EventKind::kImageDelete: return "image-delete";
    case containerd::EventKind::kContentCreate: return "content-create";
    case containerd::EventKind::kContentDelete: return "content-delete";
  }
  return "unknown";
}

}  // namespace

Syncer::Syncer(Loop* loop, containerd::ContainerdClient* client, containerd::ContentStore* content,
               Index* index, SyncerOptions options)
    : loop_(loop),
      client_(client),
      content_(content),
      index_(index),
      options_(options),
      walker_(client),
      resync_timer_(loop),
      worker_("spegel-sync") {}

Syncer::~Syncer() { Stop(); }

void Syncer::Start() {
  if (started_) return;
  started_ = true;
  subscriber_ = std::thread([this] { SubscriberMain(); });
  const uint64_t period = static_cast<uint64_t>(options_.resync_interval.count());
  if (period > 0) {
    resync_timer_.Start(period, period, [this] {
      if (connected_) RequestFullSync();
    });
  }
}

void Syncer::Stop() {
  liveness_.Revoke();
  resync_timer_.Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  client_->CancelSubscribe();
  if (subscriber_.joinable()) subscriber_.join();
  worker_.Stop();
}

void Syncer::SubscriberMain() {
  auto backoff = options_.backoff_min;
  for (uint64_t attempt = 1;; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    bool subscribed = false;
    auto alive = liveness_.token();
    Status why = client_->Subscribe(
        [&] {
          subscribed = true;
          loop_->Post([this, alive, attempt] {
            if (alive.alive()) OnConnected(attempt);
          });
        },
        [&](const containerd::Event& event) {
          loop_->Post([this, alive, attempt, event] {
            if (alive.alive()) OnEvent(attempt, event);
          });
        });
    loop_->Post([this, alive, attempt, why] {
      if (alive.alive()) OnDisconnected(attempt, why);
    });
    if (subscribed) backoff = options_.backoff_min;
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

void Syncer::OnConnected(uint64_t connection) {
  connection_ = connection;
  RequestFullSync();
}

void Syncer::OnDisconnected(uint64_t connection, const Status& why) {
  if (connection != connection_ && connection_ != 0) return;
  if (why.code() == Code::kCancelled) return;  // shutting down
  if (connected_) {
    ++reconnects_;
    LOG_WARN("lost containerd event stream; will reconnect and resync")
        .Str("error", why.ToString());
  } else if (!logged_unreachable_) {
    LOG_ERROR("cannot reach containerd; retrying (not ready until connected)")
        .Str("error", why.ToString());
    logged_unreachable_ = true;
  }
  connected_ = false;
  synced_ = false;
  connection_ = 0;
}

void Syncer::RequestFullSync() {
  if (sync_in_flight_) {
    sync_again_ = true;
    return;
  }
  sync_in_flight_ = true;
  sync_again_ = false;
  replay_.clear();
  const uint64_t connection = connection_;
  auto alive = liveness_.token();
  worker_.Push([this, alive, connection] {
    SyncOutcome outcome;
    const auto start = std::chrono::steady_clock::now();
    auto version = client_->Version();
    if (!version.ok()) {
      outcome.result = version.status();
    } else {
      outcome.version = version->version;
      outcome.directory = content_->Discover();
      walker_.set_content_directory(outcome.directory);
      outcome.result = walker_.SyncAll();
    }
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    loop_->Post([this, alive, connection, outcome = std::move(outcome)]() mutable {
      if (alive.alive()) OnFullSyncDone(connection, std::move(outcome));
    });
  });
}

void Syncer::OnFullSyncDone(uint64_t connection, SyncOutcome outcome) {
  sync_in_flight_ = false;
  if (connection != connection_ || connection_ == 0) {
    // The connection this sync ran on is gone; the next OnConnected starts a fresh one.
    sync_again_ = false;
    return;
  }
  if (!outcome.result.ok()) {
    // Before the first success this is just containerd being absent: OnDisconnected says so.
    SPEGEL_LOG(connected_ ? LogLevel::kWarn : LogLevel::kDebug, "full sync failed")
        .Str("error", outcome.result.status().ToString());
    // The stream breaking will reconnect; if it did not break, the next resync retries.
    if (sync_again_) RequestFullSync();
    return;
  }
  SyncResult& result = *outcome.result;
  const size_t walked = result.walks.size();
  index_->Reset(std::move(result.walks));
  // Events seen while the snapshot was taken may be newer than it: apply them again.
  std::vector<containerd::Event> replay;
  replay.swap(replay_);
  for (const auto& event : replay) ApplyEvent(event);
  // A sync allocates and frees a whole listing of the store; hand the freed pages back so the
  // resident size stays that of the index, not of the largest listing ever seen.
  malloc_trim(0);

  content_->SetDirectory(std::move(outcome.directory));
  containerd_version_ = std::move(outcome.version);
  last_sync_seconds_ = outcome.seconds;
  ++full_syncs_;
  if (!connected_) {
    LOG_INFO("connected to containerd").Str("version", containerd_version_);
  }
  connected_ = true;
  logged_unreachable_ = false;
  const bool first = !synced_;
  synced_ = true;
  SPEGEL_LOG(first ? LogLevel::kInfo : LogLevel::kDebug, "index synced")
      .Int("images_listed", static_cast<int64_t>(result.images_listed))
      .Int("images_indexed", static_cast<int64_t>(walked))
      .Int("images_skipped", static_cast<int64_t>(result.images_skipped))
      .Int("content_listed", static_cast<int64_t>(result.content_listed))
      .Int("blobs", static_cast<int64_t>(index_->blob_count()))
      .Int("tags", static_cast<int64_t>(index_->tag_count()))
      .Double("seconds", outcome.seconds);
  if (sync_again_) RequestFullSync();
}

void Syncer::OnEvent(uint64_t connection, const containerd::Event& event) {
  if (connection != connection_) return;
  LOG_DEBUG("containerd event")
      .Str("event", EventName(event.kind))
      .Str("image", event.image_name)
      .Str("digest", event.digest);
  if (sync_in_flight_) replay_.push_back(event);
  ApplyEvent(event);
}

void Syncer::ApplyEvent(const containerd::Event& event) {
  switch (event.kind) {
    case containerd::EventKind::kImageCreate:
    case containerd::EventKind::kImageUpdate: WalkImage(event.image_name); return;
    case containerd::EventKind::kImageDelete: {
      // A walk still in flight for this name is now stale.
      auto it = walks_in_flight_.find(event.image_name);
      if (it != walks_in_flight_.end()) it->second = ++walk_seq_;
      index_->RemoveImage(event.image_name);
      return;
    }
    case containerd::EventKind::kContentDelete: {
      auto digest = oci::Digest::Parse(event.digest);
      if (digest.ok()) index_->RemoveBlob(*digest);
      return;
    }
    case containerd::EventKind::kContentCreate: {
      auto digest = oci::Digest::Parse(event.digest);
      if (!digest.ok()) return;
      for (const auto& name : index_->ImagesWaitingFor(*digest)) WalkImage(name);
      return;
    }
  }
}

void Syncer::WalkImage(const std::string& name) {
  const uint64_t seq = ++walk_seq_;
  walks_in_flight_[name] = seq;
  auto alive = liveness_.token();
  worker_.Push([this, alive, name, seq] {
    auto walk = walker_.WalkImageByName(name);
    loop_->Post([this, alive, name, seq, walk = std::move(walk)]() mutable {
      if (alive.alive()) OnWalkDone(name, seq, std::move(walk));
    });
  });
}

void Syncer::OnWalkDone(const std::string& name, uint64_t seq, Result<ImageWalk> walk) {
  auto it = walks_in_flight_.find(name);
  if (it == walks_in_flight_.end() || it->second != seq) return;  // superseded
  walks_in_flight_.erase(it);
  if (walk.ok()) {
    LOG_DEBUG("image indexed")
        .Str("image", name)
        .Int("blobs", static_cast<int64_t>(walk->blobs.size()));
    index_->PutImage(std::move(*walk));
    return;
  }
  const Code code = walk.status().code();
  if (code == Code::kNotFound || code == Code::kInvalidArgument) {
    LogSkippedImage(name, walk.status());
    index_->RemoveImage(name);
    return;
  }
  LOG_WARN("image walk failed; the next resync retries")
      .Str("image", name)
      .Str("error", walk.status().ToString());
}

void Syncer::BlobMissing(const oci::Digest& digest) {
  if (index_->RemoveBlob(digest)) {
    ++blobs_gone_;
    LOG_INFO("blob missing from content store; dropped from index").Str("digest", digest.str());
  }
}

}  // namespace spegel::index
