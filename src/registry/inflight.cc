#include "registry/inflight.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "base/log.h"
#include "cluster/router_wire.h"
#include "http/range.h"
#include "oci/manifest.h"
#include "oci/sha256.h"
#include "registry/blob_range.h"
#include "registry/request_context.h"

namespace spegel::registry {
namespace {

constexpr uint64_t kMaxChunkBytes = 8 << 20;  // One SendFile answer at most.
constexpr size_t kHashReadBytes = 1 << 20;
// A reading not updated this long belongs to a stream that ended without telling (its fetcher
// was destroyed): well past the peer fetch's idle timeout, after which a live stream ends.
constexpr uint64_t kStaleReadingMs = 30'000;

}  // namespace

// One in-flight copy: the open ingest and what is known of it. Shared by the Inflight and the
// bodies reading it (they keep its descriptor open); `hasher` is the hash worker's, the rest the
// loop thread's.
struct Inflight::Source {
  Source(containerd::IngestFile f, cluster::ProgressState r) : file(std::move(f)), role(r) {}

  bool released() const { return verified || committed; }
  uint64_t total() const { return file.total(); }

  containerd::IngestFile file;
  cluster::ProgressState role;
  uint64_t size = 0;
  bool committed = false;  // containerd renamed the inode into blobs/.
  bool verified = false;   // Our own SHA-256 of the whole file matched.
  bool dead = false;
  std::string why;
  bool revoked = false;  // The owner gave the fetch to another node: no new readers.
  bool reported_end = false;
  bool report = true;  // Offered after a claim; an ingest found on a peer's GET is not reported.
  uint64_t done_at_ms = 0;
  oci::Sha256 hasher;
  uint64_t hashed = 0;
  bool hashing = false;
  uint64_t full_since_ms = 0;  // When size first reached total.
  FileWatcher watcher;         // On the data file; closed once the copy is dead or dropped.
  std::vector<Body*> readers;
};

// A peer's response body from a Source: [next_, end_) of the blob, sent as the file grows.
class Inflight::Body : public http::BodySource {
 public:
  Body(Inflight* owner, std::shared_ptr<Source> source, uint64_t first, uint64_t end)
      : owner_(owner), source_(std::move(source)), next_(first), end_(end) {
    source_->readers.push_back(this);
  }
  ~Body() override { Detach(); }

  void Proceed(http::BodySink& sink) override {
    sink_ = &sink;
    waiting_since_ms_ = owner_ != nullptr ? owner_->loop_->NowMs() : 0;
    Pump();
  }
  void Stop() override {
    sink_ = nullptr;
    Detach();
  }
  // Sends what may go now, or fails the response, or keeps waiting. Nothing unless a Proceed()
  // waits for its answer.
  void Pump() {
    if (sink_ == nullptr) return;
    if (owner_ == nullptr) return Fail("in-flight sharing stopped");
    if (source_->dead) return Fail("in-flight source ended: " + source_->why);
    const uint64_t total = source_->total();
    const uint64_t limit = source_->released() ? total : total - 1;
    uint64_t avail = std::min({source_->size, limit, end_});
    if (next_ >= avail && source_->size < total) {
      owner_->Observe(*source_);  // One fstat: maybe it grew since the last poll.
      if (source_->dead) return Fail("in-flight source ended: " + source_->why);
      avail = std::min({source_->size, source_->released() ? total : total - 1, end_});
    }
    if (next_ < avail) {
      const uint64_t n = std::min(avail - next_, kMaxChunkBytes);
      http::BodySink* sink = sink_;
      sink_ = nullptr;
      owner_->stats_.bytes_served += n;
      const uint64_t at = next_;
      next_ += n;
      sink->SendFile(source_->file.fd(), at, n);
      return;
    }
    // The owner gave the fetch to another node (this one stalled or crawled): a reader that has
    // everything there is re-claims at once, and follows the new fetcher, rather than wait.
    if (source_->revoked) return Fail("in-flight fetch revoked");
    if (owner_->loop_->NowMs() - waiting_since_ms_ >= owner_->options_.reader_stall_ms) {
      Fail("in-flight source stalled");
    }
  }
  // The Inflight is going away: fail a waiting reader now, and any later Proceed(). Failing may
  // destroy this body inline, so it detaches first and touches nothing after.
  void Orphan() {
    Detach();
    Pump();
  }

 private:
  void Fail(const std::string& why) {
    if (sink_ == nullptr) return;
    http::BodySink* sink = sink_;
    sink_ = nullptr;
    if (owner_ != nullptr) ++owner_->stats_.readers_failed;
    LOG_INFO("in-flight reader ended").Str("digest", source_->file.digest().str()).Str("why", why);
    sink->Fail(why);  // The server closes the connection: the peer sees a short body.
  }
  void Detach() {
    if (owner_ == nullptr) return;
    std::erase(source_->readers, this);
    owner_ = nullptr;
  }

  Inflight* owner_;
  std::shared_ptr<Source> source_;
  uint64_t next_;
  uint64_t end_;
  http::BodySink* sink_ = nullptr;
  uint64_t waiting_since_ms_ = 0;
};

Inflight::Inflight(Loop* loop, cluster::PullCoordinator* coordinator,
                   const containerd::ContentStore* content, InflightOptions options)
    : loop_(loop),
      coordinator_(coordinator),
      content_(content),
      options_(std::move(options)),
      hasher_(std::make_unique<Worker>("ingest-sha256")) {}

Inflight::~Inflight() {
  liveness_.Revoke();
  for (auto& [key, source] : sources_) {
    source->watcher.Close();
    const std::vector<Body*> readers = source->readers;
    for (Body* body : readers) body->Orphan();
  }
  hasher_->Stop();
}

void Inflight::Claim(const oci::Digest& digest, std::function<void(cluster::ClaimAnswer)> done) {
  std::vector<std::string> avoid = Avoided(digest.str());
  coordinator_->Claim(digest.str(), can_serve(), avoid,
                      [this, alive = liveness_.token(), avoid,
                       done = std::move(done)](cluster::ClaimAnswer answer) {
                        if (!alive.alive()) return;
                        // An owner that predates complaints may name them again.
                        if (answer.verdict == cluster::ClaimVerdict::kFollow) {
                          std::erase_if(answer.nodes, [&](const cluster::Provider& p) {
                            return std::find(avoid.begin(), avoid.end(), p.node_id) != avoid.end();
                          });
                          if (answer.nodes.empty())
                            answer.verdict = cluster::ClaimVerdict::kDecline;
                        }
                        switch (answer.verdict) {
                          case cluster::ClaimVerdict::kFetch: ++stats_.claims_fetch; break;
                          case cluster::ClaimVerdict::kFollow: ++stats_.claims_follow; break;
                          case cluster::ClaimVerdict::kHave: ++stats_.claims_have; break;
                          case cluster::ClaimVerdict::kDecline: ++stats_.claims_decline; break;
                        }
                        done(std::move(answer));
                      });
}

ClaimedSources Inflight::Watch(const oci::Digest& digest, bool in_flight) {
  ClaimedSources watch;
  watch.in_flight = in_flight;
  const std::string& key = digest.str();
  watch.on_failed = [this, alive = liveness_.token(), key](const cluster::Provider& peer,
                                                           std::string_view why) {
    if (alive.alive()) Avoid(key, peer.node_id, why);
  };
  if (!in_flight) return watch;
  const uint64_t stream = next_stream_++;
  watch.on_received = [this, alive = liveness_.token(), key, stream](const cluster::Provider& peer,
                                                                     uint64_t received,
                                                                     uint64_t total, bool waiting) {
    if (!alive.alive()) return;
    Reading& reading = readings_[key];
    if (reading.stream > stream) return;  // A later stream of the key reports for it.
    reading = Reading{stream, peer.node_id, received, total, waiting, loop_->NowMs()};
    EnsureTimers();
  };
  watch.on_finished = [this, alive = liveness_.token(), key, stream] {
    if (!alive.alive()) return;
    auto it = readings_.find(key);
    if (it != readings_.end() && it->second.stream == stream) readings_.erase(it);
  };
  return watch;
}

std::vector<std::string> Inflight::Avoided(const std::string& key) const {
  auto it = avoided_.find(key);
  if (it == avoided_.end() || loop_->NowMs() >= it->second.until_ms) return {};
  return it->second.nodes;
}

void Inflight::Avoid(const std::string& key, const std::string& node_id, std::string_view why) {
  const uint64_t now = loop_->NowMs();
  if (!avoided_.contains(key) && avoided_.size() >= options_.max_avoided_keys) {
    std::erase_if(avoided_, [&](const auto& entry) { return now >= entry.second.until_ms; });
    if (avoided_.size() >= options_.max_avoided_keys) {
      auto oldest = std::min_element(avoided_.begin(), avoided_.end(),
                                     [](const auto& a, const auto& b) {
                                       return a.second.until_ms < b.second.until_ms;
                                     });
      avoided_.erase(oldest);
    }
  }
  AvoidedSources& avoided = avoided_[key];
  if (now >= avoided.until_ms) avoided.nodes.clear();
  avoided.until_ms = now + options_.avoid_ms;
  if (std::find(avoided.nodes.begin(), avoided.nodes.end(), node_id) != avoided.nodes.end()) {
    return;
  }
  if (avoided.nodes.size() >= cluster::kMaxClaimAvoid) avoided.nodes.erase(avoided.nodes.begin());
  avoided.nodes.push_back(node_id);
  ++stats_.sources_avoided;
  LOG_INFO("source avoided for this key: its stream broke or stalled here")
      .Str("digest", key)
      .Str("node", node_id)
      .Str("why", why);
}

void Inflight::Offer(const oci::Digest& digest, cluster::ProgressState role) {
  if (!can_serve() || digest.algorithm() != "sha256") return;
  if (auto it = sources_.find(digest.str()); it != sources_.end() && !it->second->dead) {
    // Found on a peer's GET first, or offered in another role (a follower whose source broke
    // now fetches): ours to report, in the new role.
    Source& source = *it->second;
    source.report = true;
    source.reported_end = false;
    source.revoked = false;
    source.role = role;
    return;
  }
  TryOpen(digest, role, options_.open_attempts);
}

void Inflight::TryOpen(const oci::Digest& digest, cluster::ProgressState role, int attempts_left) {
  if (auto it = sources_.find(digest.str()); it != sources_.end() && !it->second->dead) return;
  Result<containerd::IngestFile> file = OpenIngest(digest);
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound && attempts_left > 1) {
      std::unique_ptr<Timer>& timer = open_retries_[digest.str()];
      timer = std::make_unique<Timer>(loop_);
      timer->Start(options_.open_retry_ms, 0, [this, digest, role, attempts_left] {
        open_retries_.erase(digest.str());  // Destroys this timer: allowed from its callback.
        TryOpen(digest, role, attempts_left - 1);
      });
      return;
    }
    LOG_INFO("no in-flight copy to offer")
        .Str("digest", digest.str())
        .Str("why", file.status().message());
    coordinator_->ReportProgress({{digest.str(), cluster::ProgressState::kFailed, 0, 0}},
                                 [](const std::string&) {});
    return;
  }
  const std::shared_ptr<Source>& source = AddSource(digest, std::move(file).value(), role);
  Observe(*source);
  LOG_INFO("offering in-flight copy to peers")
      .Str("digest", digest.str())
      .Str("role", cluster::ProgressStateName(role))
      .Int("total", static_cast<int64_t>(source->total()));
  EnsureTimers();
}

Result<containerd::IngestFile> Inflight::OpenIngest(const oci::Digest& digest) const {
  return containerd::IngestFile::Open(content_->directory(), options_.containerd_namespace, digest);
}

const std::shared_ptr<Inflight::Source>& Inflight::AddSource(const oci::Digest& digest,
                                                             containerd::IngestFile file,
                                                             cluster::ProgressState role) {
  ++stats_.sources;
  std::shared_ptr<Source>& slot = sources_[digest.str()];  // A dead one's readers keep theirs.
  if (slot) slot->watcher.Close();
  slot = std::make_shared<Source>(std::move(file), role);
  const Status watched = slot->watcher.Open(loop_, slot->file.ingest_dir() + "/data",
                                            [this, alive = liveness_.token(),
                                             key = digest.str()](int /*status*/) {
                                              if (alive.alive()) OnChange(key);
                                            });
  if (!watched.ok()) {
    LOG_INFO("in-flight copy polled, not watched").Str("why", watched.message());
  }
  return slot;
}

void Inflight::OnChange(const std::string& key) {
  auto it = sources_.find(key);
  if (it == sources_.end()) return;
  std::shared_ptr<Source> source = it->second;
  Observe(*source);
  const std::vector<Body*> readers = source->readers;
  for (Body* body : readers) body->Pump();
}

void Inflight::EnsureTimers() {
  if (!poll_) {
    poll_ = std::make_unique<Timer>(loop_);
    report_ = std::make_unique<Timer>(loop_);
  }
  uint64_t interval = options_.poll_ms;
  for (const auto& [key, source] : sources_) {
    if (!source->dead && !source->watcher.open()) interval = options_.unwatched_poll_ms;
  }
  if (!poll_->active() || poll_interval_ms_ != interval) {
    poll_interval_ms_ = interval;
    poll_->Start(interval, interval, [this] { Poll(); });
  }
  if (!report_->active()) {
    report_->Start(options_.report_ms / 4, options_.report_ms, [this] { Report(); });
  }
}

void Inflight::Observe(Source& source) {
  if (source.dead) return;
  const containerd::IngestFile::Observation o = source.file.Observe();
  if (o.state == containerd::IngestFile::State::kDead) {
    Kill(source, o.why);
    return;
  }
  source.size = std::max(source.size, o.size);
  if (source.size == source.total() && source.full_since_ms == 0) {
    source.full_since_ms = loop_->NowMs();
  }
  if (o.state == containerd::IngestFile::State::kCommitted && !source.committed) {
    source.committed = true;
    if (source.done_at_ms == 0) source.done_at_ms = loop_->NowMs();
  }
}

void Inflight::Kill(Source& source, std::string why) {
  if (source.dead) return;
  source.dead = true;
  source.why = std::move(why);
  source.watcher.Close();
  LOG_INFO("in-flight copy ended")
      .Str("digest", source.file.digest().str())
      .Str("why", source.why)
      .Int("size", static_cast<int64_t>(source.size));
  // Tell the owner at once: the readers about to ask again must not be sent back here. Also
  // after `done` (a commit seen before our own hash found the bytes wrong): it is withdrawn.
  if (source.report) {
    source.reported_end = true;
    coordinator_->ReportProgress({{source.file.digest().str(), cluster::ProgressState::kFailed,
                                   source.size, source.total()}},
                                 [](const std::string&) {});
  }
}

void Inflight::Poll() {
  const uint64_t now = loop_->NowMs();
  for (auto it = sources_.begin(); it != sources_.end();) {
    std::shared_ptr<Source> source = it->second;
    Observe(*source);
    // containerd's commit usually comes within milliseconds of the last write and releases
    // the end; only a full file without it is hashed (one pass, instead of a third SHA-256 of
    // every blob on every node next to containerd's and the peer stream's).
    if (!source->dead && !source->released() && source->full_since_ms != 0 &&
        now - source->full_since_ms >= options_.hash_after_full_ms) {
      StartHash(source);
    }
    const std::vector<Body*> readers = source->readers;
    for (Body* body : readers) body->Pump();
    const bool finished = source->dead ||
                          (source->released() && now - source->done_at_ms >= options_.keep_done_ms);
    if (finished && source->readers.empty() && source->reported_end) {
      source->watcher.Close();
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
  PollManifestWaits(now);
  if (sources_.empty() && manifest_waits_.empty() && readings_.empty()) {
    poll_->Stop();
    report_->Stop();
  }
}

void Inflight::ExpectManifest(const oci::Digest& digest) {
  if (!can_serve()) return;
  expected_manifests_[digest.str()] = loop_->NowMs() + options_.manifest_wait_ms;
}

bool Inflight::ServeManifest(http::Request& request, http::ResponseWriter& writer,
                             const oci::Digest& digest, std::function<void()> not_found) {
  const uint64_t now = loop_->NowMs();
  auto it = expected_manifests_.find(digest.str());
  if (it == expected_manifests_.end() || now >= it->second || !can_serve()) return false;
  ManifestWait wait{digest,
                    &request,
                    &writer,
                    std::move(not_found),
                    now + options_.manifest_wait_ms,
                    writer.LivenessToken()};
  if (TryAnswerManifest(wait)) return true;
  manifest_waits_.push_back(std::move(wait));
  EnsureTimers();
  return true;
}

bool Inflight::TryAnswerManifest(ManifestWait& wait) {
  if (!wait.client.alive()) return true;  // The client went away: drop the wait unanswered.
  Result<containerd::BlobFile> file = content_->directory().Open(wait.digest);
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound && loop_->NowMs() < wait.deadline_ms) return false;
    ++stats_.manifests_expired;
    wait.not_found();
    return true;
  }
  Result<std::string> bytes = file->size() <= static_cast<int64_t>(oci::kMaxManifestBytes)
                                  ? file->ReadAll()
                                  : Result<std::string>(Status::ResourceExhausted("too large"));
  Result<oci::ParsedManifest> parsed = bytes.ok() ? oci::ParseManifest(*bytes, "")
                                                  : Result<oci::ParsedManifest>(bytes.status());
  if (!parsed.ok() || oci::Digest::FromSha256(oci::Sha256::Hash(*bytes)) != wait.digest) {
    LOG_INFO("committed content is no manifest we can serve")
        .Str("digest", wait.digest.str())
        .Str("why", parsed.ok() ? "digest mismatch" : parsed.status().message());
    ++stats_.manifests_expired;
    wait.not_found();
    return true;
  }
  ++stats_.manifests_served;
  RequestContext::Of(*wait.request).origin.source = AnswerSource::kInflightHere;
  http::Headers headers{{"Docker-Content-Digest", wait.digest.str()},
                        {"Content-Type", parsed->media_type}};
  if (wait.request->method() == http::Method::kHead) {
    wait.writer->RespondHead(200, std::move(headers), bytes->size());
  } else {
    wait.writer->Respond(200, std::move(headers), std::move(*bytes));
  }
  return true;
}

void Inflight::PollManifestWaits(uint64_t now_ms) {
  std::erase_if(expected_manifests_, [&](const auto& entry) { return now_ms >= entry.second; });
  if (manifest_waits_.empty()) return;
  // Answering may start the client's next request, which may add a wait: take the list first.
  std::vector<ManifestWait> waits;
  waits.swap(manifest_waits_);
  std::vector<ManifestWait> still;
  for (ManifestWait& wait : waits) {
    if (!TryAnswerManifest(wait)) still.push_back(std::move(wait));
  }
  for (ManifestWait& wait : still) manifest_waits_.push_back(std::move(wait));
}

void Inflight::StartHash(const std::shared_ptr<Source>& source) {
  if (source->hashing || source->dead || source->hashed >= source->size) return;
  source->hashing = true;
  const uint64_t from = source->hashed;
  const uint64_t to = source->size;
  hasher_->Push([this, alive = liveness_.token(), source, from, to, loop = loop_] {
    std::string buffer(kHashReadBytes, '\0');
    uint64_t at = from;
    while (at < to) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kHashReadBytes, to - at));
      const ssize_t n = ::pread(source->file.fd(), buffer.data(), want, static_cast<off_t>(at));
      if (n <= 0) break;
      source->hasher.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      at += static_cast<uint64_t>(n);
    }
    std::optional<oci::Digest> digest;
    if (at == source->total()) digest = oci::Digest::FromSha256(source->hasher.Finish());
    loop->Post([this, alive, source, at, digest = std::move(digest)]() mutable {
      if (alive.alive()) OnHashed(source, at, std::move(digest));
    });
  });
}

void Inflight::OnHashed(const std::shared_ptr<Source>& source, uint64_t hashed,
                        std::optional<oci::Digest> digest) {
  source->hashing = false;
  if (hashed < source->hashed || hashed > source->size) {
    Kill(*source, "ingest changed under the hash");
    return;
  }
  source->hashed = hashed;
  if (digest) {
    if (*digest != source->file.digest()) {
      ++stats_.digest_mismatches;
      LOG_WARN("in-flight copy does not match its digest; not serving its end")
          .Str("digest", source->file.digest().str())
          .Str("got", digest->str());
      Kill(*source, "digest mismatch");
      return;
    }
    source->verified = true;
    if (source->done_at_ms == 0) source->done_at_ms = loop_->NowMs();
    const std::vector<Body*> readers = source->readers;
    for (Body* body : readers) body->Pump();  // The held last byte may go now.
  }
}

void Inflight::Report() {
  std::vector<cluster::ProgressReport> reports;
  for (auto& [key, source] : sources_) {
    if (source->reported_end) continue;
    cluster::ProgressReport r{key, source->role, source->size, source->total()};
    if (source->dead) {
      r.state = cluster::ProgressState::kFailed;
      source->reported_end = true;
    } else if (source->released()) {
      r.state = cluster::ProgressState::kDone;
      source->reported_end = true;
      if (source->role == cluster::ProgressState::kFollowing) stats_.upstream_avoided += r.total;
    } else if (source->revoked) {
      continue;  // Not the fetcher any more: the owner knows.
    }
    reports.push_back(std::move(r));
  }
  const uint64_t now = loop_->NowMs();
  for (auto it = readings_.begin(); it != readings_.end();) {
    const Reading& reading = it->second;
    if (now - reading.updated_ms >= kStaleReadingMs) {
      it = readings_.erase(it);
      continue;
    }
    // A stream that waits for its own client says nothing of its source.
    if (reading.waiting) {
      reports.push_back({it->first, cluster::ProgressState::kReading, reading.received,
                         reading.total, reading.source});
    }
    ++it;
  }
  if (reports.empty()) return;
  coordinator_->ReportProgress(std::move(reports), [this, alive = liveness_.token()](
                                                       const std::string& key) {
    if (!alive.alive()) return;
    auto it = sources_.find(key);
    if (it == sources_.end() || it->second->revoked) return;
    it->second->revoked = true;
    LOG_INFO("in-flight fetch revoked by the key's owner").Str("digest", key);
  });
}

bool Inflight::Serve(http::Request& request, http::ResponseWriter& writer,
                     const oci::Digest& digest) {
  auto it = sources_.find(digest.str());
  if (it == sources_.end()) {
    // Not offered (yet): the peer may have heard of our download before we did (the owner's
    // answers race), or our containerd pulls without a claim. Its ingest, if there is one, is as
    // good; it is served, not reported.
    if (!can_serve() || digest.algorithm() != "sha256") return false;
    Result<containerd::IngestFile> file = OpenIngest(digest);
    if (!file.ok()) return false;
    Source& found = *AddSource(digest, std::move(file).value(), cluster::ProgressState::kFollowing);
    found.report = false;
    found.reported_end = true;
    it = sources_.find(digest.str());
  }
  std::shared_ptr<Source> source = it->second;
  Observe(*source);
  if (source->dead || (source->revoked && !source->released()) ||
      source->readers.size() >= options_.fanout) {
    ++stats_.refused;
    return false;
  }
  const uint64_t total = source->total();
  http::Headers headers{{"Docker-Content-Digest", digest.str()},
                        {"Content-Type", "application/octet-stream"},
                        {"Accept-Ranges", "bytes"}};
  const auto window = BlobWindowFor(request.Header("Range"), total, &headers);
  if (!window) {
    // The same 416 as a complete copy gives (the size is known: the fetcher's total).
    RespondRangeNotSatisfiable(request.method() == http::Method::kHead, writer, digest, total);
    return true;
  }
  const int status = window->status;
  const uint64_t first = window->first;
  const uint64_t end = first + window->length;
  ++stats_.readers;
  RequestContext::Of(request).origin.source = AnswerSource::kInflightHere;
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), end - first);
    return true;
  }
  writer.RespondStream(status, std::move(headers), end - first,
                       std::make_unique<Body>(this, std::move(source), first, end));
  EnsureTimers();
  return true;
}

InflightStats Inflight::stats() const {
  InflightStats s = stats_;
  s.live_sources = 0;
  for (const auto& [key, source] : sources_) {
    s.live_sources += source->dead ? 0 : 1;
    s.live_readers += source->readers.size();
  }
  return s;
}

std::vector<InflightCopy> Inflight::Copies(size_t max) const {
  std::vector<InflightCopy> out;
  for (const auto& [key, source] : sources_) {
    if (out.size() >= max) break;
    InflightCopy c{key,
                   std::string(cluster::ProgressStateName(source->role)),
                   source->size,
                   source->total(),
                   source->readers.size(),
                   "growing"};
    if (source->dead) {
      c.state = "dead: " + source->why;
    } else if (source->committed) {
      c.state = "committed";
    } else if (source->verified) {
      c.state = "verified";
    } else if (source->revoked) {
      c.state = "revoked";
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace spegel::registry
