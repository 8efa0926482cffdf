#include "registry/peer_fetch.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "base/numbers.h"
#include "http/range.h"
#include "oci/media_types.h"
#include "oci/sha256.h"
#include "registry/errors.h"
#include "registry/request_context.h"

namespace spegel::registry {
namespace {

constexpr size_t kLatencySamples = 64;
constexpr size_t kMinSamplesForHedge = 8;
// Blob bytes read from the peer ahead of the client, at most (plus one read chunk).
constexpr size_t kReadAheadBytes = 1 << 20;
// One read from a peer socket (the client's read_chunk_bytes).
constexpr size_t kPeerReadChunkBytes = 256 << 10;

// "bytes FIRST-LAST/SIZE" → {first, size}; nullopt when malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseContentRange(std::string_view v) {
  if (v.substr(0, 6) != "bytes ") return std::nullopt;
  v.remove_prefix(6);
  const size_t dash = v.find('-');
  const size_t slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  uint64_t first = 0, last = 0, size = 0;
  if (!ParseDecimal(v.substr(0, dash), &first) ||
      !ParseDecimal(v.substr(dash + 1, slash - dash - 1), &last) ||
      !ParseDecimal(v.substr(slash + 1), &size) || last < first || last >= size) {
    return std::nullopt;
  }
  return std::make_pair(first, size);
}

}  // namespace

// One client request being answered through peers. See peer_fetch.h for the protocol.
class PeerFetch {
 public:
  PeerFetch(PeerFetcher* fetcher, http::Request& request, http::ResponseWriter& writer,
            const Route& route, std::string key);
  ~PeerFetch();

  void Start();

  // Body source side (blob GET).
  void Proceed(http::BodySink& sink);
  void SourceStopped();
  void SourceDestroyed();

 private:
  struct Attempt {
    cluster::Provider peer;
    std::unique_ptr<http::ClientExchange> exchange;
    uint64_t started_ms = 0;
    bool head_seen = false;
    std::string body;  // Manifests only.
    std::optional<oci::Digest> served_digest;  // Manifests by tag: the peer's claim.
    std::string content_type;
  };
  class Source;

  void OnPeers(std::vector<cluster::Provider> peers);
  // Starts the next attempt (hedge or replacement). False when no attempt can start.
  bool Launch();
  void ArmHedge();
  void OnHead(Attempt* attempt, const http::ClientResponse& response);
  void OnData(Attempt* attempt, std::string_view data);
  void OnDone(Attempt* attempt, const Status& status);
  void DropAttempt(Attempt* attempt, bool report, std::string_view why);
  void AnswerManifest(Attempt* attempt);
  void StartBlobResponse(Attempt* attempt, const http::ClientResponse& response, uint64_t size);
  void Deliver();  // Hands pending_ to a waiting sink, or asks the peer for more.
  void GiveUp(std::string_view why);
  // After an attempt failed before any answer: try the next peer at once (also while another
  // attempt is still in flight); give up when none is left and nothing is in flight.
  void AfterFailure();
  void SendNotFound(std::string_view why);
  void Finish();
  bool Answered() const { return answered_; }

  PeerFetcher* fetcher_;
  Loop* loop_;
  http::ResponseWriter* writer_;
  bool writer_valid_ = true;
  bool head_request_;
  bool is_manifest_;
  std::string key_;
  std::optional<oci::Digest> digest_;  // What the bytes must hash to (blobs, manifests by digest).
  std::string peer_target_;            // "/v2/<repo>/<kind>/<ref>?ns=<registry>"
  std::optional<std::string> client_range_;
  std::string registry_;

  std::vector<cluster::Provider> peers_;
  size_t next_peer_ = 0;
  int attempts_started_ = 0;
  std::vector<std::unique_ptr<Attempt>> attempts_;
  Attempt* winner_ = nullptr;
  std::unique_ptr<Timer> hedge_timer_;
  bool answered_ = false;  // A Respond* call was made.
  bool finished_ = false;

  // Blob GET streaming state.
  uint64_t size_ = 0;         // Whole blob.
  uint64_t offset_ = 0;       // Bytes of the blob received and hashed so far.
  uint64_t window_first_ = 0; // The client's bytes: [window_first_, window_last_].
  uint64_t window_last_ = 0;
  uint64_t delivered_ = 0;    // Bytes handed to the sink.
  std::string pending_;       // Window bytes received, not yet handed to the sink.
  oci::Sha256 hasher_;
  bool verified_ = false;
  bool waiting_read_more_ = false;  // The winner's exchange waits for ReadMore().
  http::BodySink* sink_ = nullptr;  // Set while a Proceed() waits for an answer.
  Source* source_ = nullptr;
  bool stream_failed_ = false;
  // Cleared when this fetch is destroyed; callbacks that may outlive it check it first.
  Liveness liveness_;
};

class PeerFetch::Source : public http::BodySource {
 public:
  explicit Source(PeerFetch* fetch) : fetch_(fetch) {}
  ~Source() override {
    if (fetch_ != nullptr) fetch_->SourceDestroyed();
  }
  void Proceed(http::BodySink& sink) override {
    if (fetch_ != nullptr) {
      fetch_->Proceed(sink);
    } else {
      sink.Fail("peer fetch ended");
    }
  }
  void Stop() override {
    if (fetch_ != nullptr) fetch_->SourceStopped();
    fetch_ = nullptr;
  }
  void Detach() { fetch_ = nullptr; }

 private:
  PeerFetch* fetch_;
};

PeerFetch::PeerFetch(PeerFetcher* fetcher, http::Request& request, http::ResponseWriter& writer,
                     const Route& route, std::string key)
    : fetcher_(fetcher),
      loop_(fetcher->loop_),
      writer_(&writer),
      head_request_(request.method() == http::Method::kHead),
      is_manifest_(route.kind == RouteKind::kManifest),
      key_(std::move(key)),
      digest_(route.digest),
      registry_(route.registry) {
  peer_target_ = "/v2/" + route.repository + (is_manifest_ ? "/manifests/" : "/blobs/") +
                 (route.digest ? route.digest->str() : route.tag);
  if (!route.registry.empty()) peer_target_ += "?ns=" + http::PercentEncode(route.registry);
  if (auto range = request.Header("Range"); range && !is_manifest_ && !head_request_) {
    client_range_ = std::string(*range);
  }
  writer.SetAbortCallback([this, alive = liveness_.token()] {
    if (!alive.alive()) return;
    writer_valid_ = false;
    Finish();
  });
}

PeerFetch::~PeerFetch() {
  liveness_.Revoke();
  if (source_ != nullptr) source_->Detach();
  attempts_.clear();
}

void PeerFetch::Start() {
  ++fetcher_->stats_.fetches;
  if (digest_ && digest_->algorithm() != "sha256") {
    // Only SHA-256 can be verified here; never pass on bytes we cannot check.
    loop_->Post([this, alive = liveness_.token()] {
      if (alive.alive()) SendNotFound("only sha256 content is fetched from peers");
    });
    return;
  }
  fetcher_->locator_->FindProviders(key_, [this, alive = liveness_.token()](std::vector<cluster::Provider> peers) {
    if (!alive.alive() || finished_) return;
    OnPeers(std::move(peers));
  });
}

void PeerFetch::OnPeers(std::vector<cluster::Provider> peers) {
  if (finished_) return;
  peers_ = std::move(peers);
  if (peers_.empty()) {
    SendNotFound("no node in the cluster has it");
    return;
  }
  if (!Launch()) SendNotFound("no usable peer");
}

bool PeerFetch::Launch() {
  if (peers_.empty() || attempts_started_ >= fetcher_->options_.max_attempts) return false;
  // Prefer peers not tried yet; after every peer had its turn, go round again (a peer that broke
  // once may well serve a resume).
  cluster::Provider peer = peers_[next_peer_ % peers_.size()];
  ++next_peer_;
  ++attempts_started_;

  auto attempt = std::make_unique<Attempt>();
  attempt->peer = peer;
  attempt->started_ms = loop_->NowMs();
  Attempt* raw = attempt.get();

  http::ClientRequest request;
  // Manifests are always fetched whole, also for HEAD: a digest can only be checked on bytes.
  request.method = (head_request_ && !is_manifest_) ? "HEAD" : "GET";
  request.host = peer.address;
  request.port = peer.registry_port;
  request.target = peer_target_;
  request.headers.push_back({std::string(kMirroredHeader), "true"});
  request.headers.push_back({"User-Agent", "spegel"});
  if (is_manifest_) {
    request.headers.push_back(
        {"Accept", std::string(oci::kOciImageManifest) + ", " + std::string(oci::kDockerManifest) +
                       ", " + std::string(oci::kOciImageIndex) + ", " +
                       std::string(oci::kDockerManifestList)});
  }
  if (offset_ > 0) request.headers.push_back({"Range", "bytes=" + std::to_string(offset_) + "-"});
  if (!fetcher_->options_.authorization.empty()) {
    request.headers.push_back({"Authorization", fetcher_->options_.authorization});
  }
  if (auto auth = fetcher_->auth_.Sign(request.method, request.target, "", auth::UnixSeconds())) {
    request.headers.push_back({std::string(auth::kAuthHeader), *auth});
  }

  http::ClientOptions options;
  options.connect_timeout_ms = fetcher_->options_.connect_timeout_ms;
  options.head_timeout_ms = is_manifest_ ? fetcher_->options_.manifest_timeout_ms
                                         : fetcher_->options_.blob_head_timeout_ms;
  options.idle_timeout_ms = is_manifest_ ? fetcher_->options_.manifest_timeout_ms
                                         : fetcher_->options_.idle_timeout_ms;
  options.read_chunk_bytes = kPeerReadChunkBytes;

  http::ClientCallbacks callbacks;
  callbacks.on_head = [this, raw](const http::ClientResponse& r) { OnHead(raw, r); };
  callbacks.on_data = [this, raw](std::string_view d) { OnData(raw, d); };
  callbacks.on_done = [this, raw](const Status& s) { OnDone(raw, s); };
  attempts_.push_back(std::move(attempt));
  raw->exchange = http::ClientExchange::Start(loop_, std::move(request), options,
                                              std::move(callbacks));
  if (winner_ == nullptr) ArmHedge();
  return true;
}

void PeerFetch::ArmHedge() {
  if (attempts_started_ >= fetcher_->options_.max_attempts ||
      next_peer_ >= peers_.size()) {  // Hedge only to a peer not tried yet.
    hedge_timer_.reset();
    return;
  }
  if (!hedge_timer_) hedge_timer_ = std::make_unique<Timer>(loop_);
  hedge_timer_->Start(fetcher_->HedgeDelayMs(), 0, [this] {
    if (finished_ || winner_ != nullptr) return;
    ++fetcher_->stats_.hedges;
    Launch();
  });
}

void PeerFetch::DropAttempt(Attempt* attempt, bool report, std::string_view why) {
  if (report) fetcher_->locator_->ReportBadProvider(attempt->peer, why);
  LOG_DEBUG("peer fetch: attempt failed")
      .Str("key", key_)
      .Str("peer", attempt->peer.node_id)
      .Str("why", why);
  if (winner_ == attempt) winner_ = nullptr;
  // Destroying the exchange from inside its own callback is allowed (client.h).
  auto it = std::find_if(attempts_.begin(), attempts_.end(),
                         [attempt](const auto& a) { return a.get() == attempt; });
  if (it != attempts_.end()) attempts_.erase(it);
}

void PeerFetch::OnHead(Attempt* attempt, const http::ClientResponse& response) {
  if (finished_) return;
  if (winner_ != nullptr && winner_ != attempt) {  // Lost the race.
    DropAttempt(attempt, false, "another peer answered first");
    return;
  }
  fetcher_->RecordHeadLatency(loop_->NowMs() - attempt->started_ms);
  const bool resuming = answered_ && !is_manifest_;
  const int expected = resuming ? 206 : 200;
  std::string problem;
  uint64_t size = 0;
  if (response.status != expected) {
    problem = "peer answered " + std::to_string(response.status);
  } else if (resuming) {
    auto cr = response.Header("Content-Range");
    auto parsed = cr ? ParseContentRange(*cr) : std::nullopt;
    if (!parsed || parsed->first != offset_ || parsed->second != size_) {
      problem = "peer's Content-Range does not continue the stream";
    }
    size = size_;
  } else if (!is_manifest_) {
    if (!response.content_length) {
      problem = "peer sent no Content-Length";
    } else {
      size = *response.content_length;
    }
  } else {
    if (response.content_length && *response.content_length > fetcher_->options_.max_manifest_bytes) {
      problem = "manifest from peer too large";
    }
    if (!digest_) {
      auto claimed = response.Header("Docker-Content-Digest");
      auto parsed = claimed ? oci::Digest::Parse(*claimed) : Result<oci::Digest>(Status::NotFound(""));
      if (!parsed.ok() || parsed->algorithm() != "sha256") {
        problem = "peer sent no usable Docker-Content-Digest for a tag";
      } else {
        attempt->served_digest = *parsed;
      }
    }
  }
  if (!problem.empty()) {
    // A 404 only means the peer no longer has it (GC, delete): not a fault.
    DropAttempt(attempt, response.status != 404, problem);
    if (answered_ && !is_manifest_) {
      if (!Launch()) GiveUp("no peer could resume the blob");
    } else {
      AfterFailure();
    }
    return;
  }
  attempt->head_seen = true;
  if (auto type = response.Header("Content-Type")) attempt->content_type = std::string(*type);
  winner_ = attempt;
  hedge_timer_.reset();
  // Cancel the other attempts: the first usable head wins.
  for (auto it = attempts_.begin(); it != attempts_.end();) {
    if (it->get() != attempt) {
      it = attempts_.erase(it);
    } else {
      ++it;
    }
  }
  if (is_manifest_) {
    attempt->exchange->ReadMore();  // No-op before data; the body follows.
    return;
  }
  if (head_request_) {
    http::Headers headers{{"Content-Type", attempt->content_type.empty()
                                               ? "application/octet-stream"
                                               : attempt->content_type},
                          {"Docker-Content-Digest", digest_->str()},
                          {"Accept-Ranges", "bytes"}};
    answered_ = true;
    fetcher_->Served();
    writer_->RespondHead(200, std::move(headers), size);
    Finish();
    return;
  }
  if (resuming) {
    ++fetcher_->stats_.resumes;
    Deliver();
    return;
  }
  StartBlobResponse(attempt, response, size);
}

void PeerFetch::StartBlobResponse(Attempt* attempt, const http::ClientResponse&, uint64_t size) {
  size_ = size;
  window_first_ = 0;
  window_last_ = size == 0 ? 0 : size - 1;
  int status = 200;
  http::Headers headers{{"Docker-Content-Digest", digest_->str()}, {"Accept-Ranges", "bytes"}};
  if (client_range_) {
    const http::RangeResult range = http::ParseRange(*client_range_, static_cast<int64_t>(size));
    if (range.outcome == http::RangeOutcome::kUnsatisfiable) {
      answered_ = true;
      std::string body = ErrorBody(OciError::kRangeInvalid, "range not satisfiable");
      writer_->Respond(416,
                       {{"Content-Type", "application/json"},
                        {"Content-Range", http::UnsatisfiedContentRange(static_cast<int64_t>(size))}},
                       std::move(body));
      Finish();
      return;
    }
    if (range.outcome == http::RangeOutcome::kSatisfiable) {
      status = 206;
      window_first_ = static_cast<uint64_t>(range.range.first);
      window_last_ = static_cast<uint64_t>(range.range.last);
      headers.push_back({"Content-Range", http::ContentRange(range.range, static_cast<int64_t>(size))});
      headers.push_back({"Content-Type", "application/octet-stream"});
    }
  }
  if (status == 200) {
    headers.push_back({"Content-Type", attempt->content_type.empty() ? "application/octet-stream"
                                                                     : attempt->content_type});
  }
  const uint64_t length = size == 0 ? 0 : window_last_ - window_first_ + 1;
  answered_ = true;
  if (length == 0) {
    // An empty blob: verify now (nothing to stream).
    if (oci::Digest::FromSha256(hasher_.Finish()) != *digest_) {
      ++fetcher_->stats_.digest_mismatches;
      fetcher_->locator_->ReportBadProvider(attempt->peer, "empty body does not match digest");
      answered_ = false;
      DropAttempt(attempt, false, "digest mismatch");
      AfterFailure();
      return;
    }
    fetcher_->Served();
    writer_->Respond(status, std::move(headers), "");
    Finish();
    return;
  }
  auto source = std::make_unique<Source>(this);
  source_ = source.get();
  fetcher_->Served();
  writer_->RespondStream(status, std::move(headers), length, std::move(source));
  Deliver();
}

void PeerFetch::OnData(Attempt* attempt, std::string_view data) {
  if (finished_) return;
  if (attempt != winner_) {
    DropAttempt(attempt, false, "data from a losing attempt");
    return;
  }
  if (is_manifest_) {
    if (attempt->body.size() + data.size() > fetcher_->options_.max_manifest_bytes) {
      DropAttempt(attempt, true, "manifest from peer too large");
      AfterFailure();
      return;
    }
    attempt->body.append(data);
    attempt->exchange->ReadMore();
    return;
  }
  if (offset_ + data.size() > size_) {
    ++fetcher_->stats_.digest_mismatches;
    DropAttempt(attempt, true, "peer sent more bytes than the blob has");
    GiveUp("peer sent more bytes than the blob has");
    return;
  }
  hasher_.Update(data);
  const uint64_t chunk_first = offset_;
  offset_ += data.size();
  // The part of this chunk inside the client's window.
  const uint64_t from = std::max(chunk_first, window_first_);
  const uint64_t to = std::min(offset_, window_last_ + 1);
  waiting_read_more_ = true;
  if (from < to) {
    const std::string_view part = data.substr(from - chunk_first, to - from);
    const uint64_t window_length = window_last_ - window_first_ + 1;
    const bool completes = delivered_ + part.size() == window_length;
    if (sink_ != nullptr && pending_.empty() && !completes) {
      // The client is waiting and nothing is queued: hand the bytes over without a copy here.
      http::BodySink* sink = sink_;
      sink_ = nullptr;
      delivered_ += part.size();
      fetcher_->stats_.peer_bytes += part.size();
      sink->Write(part);
    } else {
      pending_.append(part);
    }
  }
  if (offset_ == size_) {
    const oci::Digest got = oci::Digest::FromSha256(hasher_.Finish());
    if (got != *digest_) {
      ++fetcher_->stats_.digest_mismatches;
      LOG_WARN("peer fetch: bytes from peer do not match the digest; aborting the client")
          .Str("digest", digest_->str())
          .Str("got", got.str())
          .Str("peer", attempt->peer.node_id);
      DropAttempt(attempt, true, "digest mismatch");
      GiveUp("digest mismatch");
      return;
    }
    verified_ = true;
  }
  Deliver();
}

void PeerFetch::Deliver() {
  if (finished_ || stream_failed_) return;
  const uint64_t window_length = window_last_ - window_first_ + 1;
  // The last byte of the client's answer waits until the whole blob hashed to its digest, so a
  // client can never receive a complete response with wrong bytes.
  const bool holds_end = delivered_ + pending_.size() == window_length && !verified_;
  const size_t deliverable = pending_.size() - (holds_end && !pending_.empty() ? 1 : 0);
  if (sink_ != nullptr && deliverable > 0) {
    http::BodySink* sink = sink_;
    sink_ = nullptr;
    std::string out;
    if (deliverable == pending_.size()) {
      out.swap(pending_);
    } else {
      out = pending_.substr(0, deliverable);
      pending_.erase(0, deliverable);
    }
    delivered_ += out.size();
    fetcher_->stats_.peer_bytes += out.size();
    sink->Write(out);
  }
  // Read ahead from the peer while less than kReadAheadBytes wait for the client.
  if (winner_ != nullptr && waiting_read_more_ && pending_.size() < kReadAheadBytes) {
    waiting_read_more_ = false;
    winner_->exchange->ReadMore();
  } else if (winner_ == nullptr && answered_ && offset_ < size_ && attempts_.empty()) {
    // The stream broke: continue from offset_ on another peer.
    if (!Launch()) GiveUp("no peer could resume the blob");
  }
}

void PeerFetch::OnDone(Attempt* attempt, const Status& status) {
  if (finished_) return;
  if (is_manifest_ && attempt == winner_ && status.ok()) {
    AnswerManifest(attempt);
    return;
  }
  if (!is_manifest_ && attempt == winner_ && status.ok() && (head_request_ || offset_ == size_)) {
    winner_ = nullptr;
    // Keep the completed attempt until Finish(); nothing more to read.
    return;
  }
  const bool was_winner = attempt == winner_;
  DropAttempt(attempt, status.code() != Code::kOk || was_winner,
              status.ok() ? "body ended early" : status.message());
  if (!answered_) {
    AfterFailure();
    return;
  }
  if (!is_manifest_ && was_winner && offset_ < size_) {
    // Resume where the stream broke, from another peer if there is one.
    LOG_INFO("peer fetch: stream broke; resuming").Str("digest", digest_->str()).Int("offset",
                                                                                     offset_);
    waiting_read_more_ = false;
    if (!Launch()) GiveUp("no peer could resume the blob");
  }
}

void PeerFetch::AnswerManifest(Attempt* attempt) {
  const oci::Digest got = oci::Digest::FromSha256(oci::Sha256::Hash(attempt->body));
  const oci::Digest& want = digest_ ? *digest_ : *attempt->served_digest;
  if (got != want) {
    ++fetcher_->stats_.digest_mismatches;
    LOG_WARN("peer fetch: manifest from peer does not match its digest")
        .Str("want", want.str())
        .Str("got", got.str())
        .Str("peer", attempt->peer.node_id);
    DropAttempt(attempt, true, "manifest digest mismatch");
    AfterFailure();
    return;
  }
  std::string type = attempt->content_type;
  if (type.empty()) type = std::string(oci::kOciImageManifest);
  http::Headers headers{{"Content-Type", type}, {"Docker-Content-Digest", want.str()}};
  answered_ = true;
  fetcher_->Served();
  if (head_request_) {
    writer_->RespondHead(200, std::move(headers), attempt->body.size());
  } else {
    fetcher_->stats_.peer_bytes += attempt->body.size();
    writer_->Respond(200, std::move(headers), std::move(attempt->body));
  }
  Finish();
}

void PeerFetch::Proceed(http::BodySink& sink) {
  if (stream_failed_) {
    sink.Fail("peer fetch failed");
    return;
  }
  sink_ = &sink;
  Deliver();
}

void PeerFetch::SourceStopped() {
  source_ = nullptr;
  sink_ = nullptr;
  Finish();
}

void PeerFetch::SourceDestroyed() {
  source_ = nullptr;
  sink_ = nullptr;
  Finish();
}

void PeerFetch::AfterFailure() {
  if (winner_ != nullptr || finished_) return;
  // Before an answer each peer gets one attempt: one that 404'd, timed out or sent wrong bytes is
  // not asked again (going round again only serves resumes), so a miss is answered in one round.
  if (next_peer_ < peers_.size() && Launch()) return;
  if (attempts_.empty()) GiveUp("no peer could serve it");  // Else wait for the one in flight.
}

void PeerFetch::GiveUp(std::string_view why) {
  if (finished_) return;
  attempts_.clear();
  winner_ = nullptr;
  hedge_timer_.reset();
  if (!answered_) {
    SendNotFound(why);
    return;
  }
  ++fetcher_->stats_.failed;
  LOG_WARN("peer fetch: giving up mid-answer; aborting the client connection")
      .Str("key", key_)
      .Str("why", why);
  stream_failed_ = true;
  if (sink_ != nullptr) {
    http::BodySink* sink = sink_;
    sink_ = nullptr;
    sink->Fail(why);  // The server aborts; Stop() or the source's destruction finishes us.
  }
}

void PeerFetch::SendNotFound(std::string_view why) {
  if (finished_ || answered_) return;
  ++fetcher_->stats_.not_found;
  answered_ = true;
  const OciError error = is_manifest_ ? OciError::kManifestUnknown : OciError::kBlobUnknown;
  std::string body = ErrorBody(error, std::string(is_manifest_ ? "manifest" : "blob") +
                                          " unknown to this node and its peers: " + std::string(why));
  if (writer_valid_) {
    if (head_request_) {
      writer_->RespondHead(404, {{"Content-Type", "application/json"}}, body.size());
    } else {
      writer_->Respond(404, {{"Content-Type", "application/json"}}, std::move(body));
    }
  }
  Finish();
}

void PeerFetch::Finish() {
  if (finished_) return;
  finished_ = true;
  attempts_.clear();
  winner_ = nullptr;
  hedge_timer_.reset();
  fetcher_->Finished(this);
}

PeerFetcher::PeerFetcher(Loop* loop, cluster::ContentLocator* locator, auth::PeerAuth auth,
                         PeerFetchOptions options)
    : loop_(loop), locator_(locator), auth_(std::move(auth)), options_(std::move(options)) {}

PeerFetcher::~PeerFetcher() {
  liveness_.Revoke();
  fetches_.clear();
}

void PeerFetcher::Serve(http::Request& request, http::ResponseWriter& writer, const Route& route,
                        std::string key) {
  auto fetch = std::make_unique<PeerFetch>(this, request, writer, route, std::move(key));
  PeerFetch* raw = fetch.get();
  fetches_.emplace(raw, std::move(fetch));
  raw->Start();
}

void PeerFetcher::Finished(PeerFetch* fetch) {
  // Deleted later: the fetch may be deep inside its own or a client callback.
  Liveness::Token alive = liveness_.token();
  loop_->Post([this, fetch, alive] {
    if (!alive.alive()) return;
    fetches_.erase(fetch);
  });
}

void PeerFetcher::Served() {
  ++stats_.served;
  stats_.last_success_unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void PeerFetcher::RecordHeadLatency(uint64_t ms) {
  if (latencies_.size() < kLatencySamples) {
    latencies_.push_back(ms);
  } else {
    latencies_[latency_next_] = ms;
    latency_next_ = (latency_next_ + 1) % kLatencySamples;
  }
}

uint64_t PeerFetcher::HedgeDelayMs() const {
  if (latencies_.size() < kMinSamplesForHedge) return kDefaultHedgeMs;
  std::vector<uint64_t> sorted = latencies_;
  const size_t index = sorted.size() * 9 / 10;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index), sorted.end());
  return std::clamp(sorted[index], kMinHedgeMs, kMaxHedgeMs);
}

}  // namespace spegel::registry
