#include "registry/peer_attempts.h"

#include <algorithm>

#include "auth/peer_auth.h"
#include "base/log.h"
#include "http/range.h"
#include "oci/media_types.h"
#include "oci/sha256.h"
#include "registry/blob_range.h"
#include "registry/errors.h"
#include "registry/peer_fetch.h"
#include "registry/request_context.h"

namespace spegel::registry {
namespace {

// One read from a peer socket into the client's own buffer (read_chunk_bytes): a manifest body,
// or a blob's response head (blob body reads go into the stream's ring instead, up to
// VerifiedStream::kMaxReadBytes each, and the client then frees its buffer).
constexpr size_t kPeerManifestReadBytes = 64 << 10;
constexpr size_t kPeerBlobHeadReadBytes = 16 << 10;

}  // namespace

PeerAttempts::PeerAttempts(PeerFetcher* fetcher, http::Request& request,
                           http::ResponseWriter& writer, const Route& route, std::string key)
    : fetcher_(fetcher),
      loop_(fetcher->loop_),
      writer_(&writer),
      origin_(&RequestContext::Of(request).origin),
      client_(writer.LivenessToken()),
      head_request_(request.method() == http::Method::kHead),
      is_manifest_(route.kind == RouteKind::kManifest),
      key_(std::move(key)),
      digest_(route.digest) {
  peer_target_ = "/v2/" + route.repository + (is_manifest_ ? "/manifests/" : "/blobs/") +
                 (route.digest ? route.digest->str() : route.tag);
  if (!route.registry.empty()) peer_target_ += "?ns=" + http::PercentEncode(route.registry);
  if (auto range = request.Header("Range"); range && !is_manifest_ && !head_request_) {
    client_range_ = std::string(*range);
  }
  // The client going away cancels the peer calls made for it at once, not at their next event.
  writer.SetAbortCallback([this, alive = liveness_.token()] {
    if (alive.alive()) Finish();
  });
}

PeerAttempts::~PeerAttempts() {
  if (stream_) fetcher_->stats_.peer_bytes_copied += stream_->copied_bytes();
  liveness_.Revoke();
  attempts_.clear();
}

void PeerAttempts::Start(std::optional<std::vector<cluster::Provider>> peers,
                         ClaimedSources claimed) {
  max_attempts_ = fetcher_->options_.max_attempts;
  if (peers) claimed_ = std::move(claimed);
  from_inflight_ = peers && claimed_.in_flight;
  if (from_inflight_) max_attempts_ = std::min<int>(max_attempts_, static_cast<int>(peers->size()));
  ++fetcher_->stats_.fetches;
  if (digest_ && digest_->algorithm() != "sha256") {
    // Only SHA-256 can be verified here; never pass on bytes we cannot check.
    loop_->Post([this, alive = liveness_.token()] {
      if (alive.alive()) SendNotFound("only sha256 content is fetched from peers");
    });
    return;
  }
  if (peers) {
    loop_->Post([this, alive = liveness_.token(), peers = std::move(*peers)]() mutable {
      if (alive.alive() && !finished_) OnPeers(std::move(peers));
    });
    return;
  }
  fetcher_->locator_->FindProviders(key_, [this, alive = liveness_.token()](
                                              std::vector<cluster::Provider> peers) {
    if (!alive.alive() || finished_) return;
    OnPeers(std::move(peers));
  });
}

void PeerAttempts::OnPeers(std::vector<cluster::Provider> peers) {
  if (finished_) return;
  peers_ = std::move(peers);
  if (peers_.size() > fetcher_->options_.max_peers) peers_.resize(fetcher_->options_.max_peers);
  if (peers_.empty()) {
    SendNotFound(kNoNodeHasIt);
    return;
  }
  if (!Launch()) SendNotFound("no usable peer");
}

bool PeerAttempts::Launch() {
  if (peers_.empty() || attempts_started_ >= max_attempts_) return false;
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
    request.headers.push_back({"Accept", std::string(oci::kOciImageManifest) + ", " +
                                             std::string(oci::kDockerManifest) + ", " +
                                             std::string(oci::kOciImageIndex) + ", " +
                                             std::string(oci::kDockerManifestList)});
  }
  if (StreamOffset() > 0) {
    request.headers.push_back({"Range", "bytes=" + std::to_string(StreamOffset()) + "-"});
  }
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
  options.read_chunk_bytes = is_manifest_ ? kPeerManifestReadBytes : kPeerBlobHeadReadBytes;
  options.pool = fetcher_->options_.pool;

  http::ClientCallbacks callbacks;
  callbacks.on_head = [this, raw](const http::ClientResponse& r) { OnHead(raw, r); };
  callbacks.on_data = [this, raw](std::string_view d) { OnData(raw, d); };
  callbacks.on_done = [this, raw](const Status& s) { OnDone(raw, s); };
  if (!is_manifest_ && !head_request_) {
    // The winner's body reads go straight into the stream's ring (see VerifiedStream).
    callbacks.body_buffer = [this, raw]() -> std::span<char> {
      if (raw != winner_ || !stream_) return {};
      return stream_->WritableRegion();
    };
  }
  attempts_.push_back(std::move(attempt));
  raw->exchange = http::ClientExchange::Start(loop_, std::move(request), options,
                                              std::move(callbacks));
  if (winner_ == nullptr) ArmHedge();
  return true;
}

void PeerAttempts::ArmHedge() {
  if (attempts_started_ >= max_attempts_ ||
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

void PeerAttempts::DropAttempt(Attempt* attempt, bool report, std::string_view why) {
  if (report) fetcher_->locator_->ReportBadProvider(attempt->peer, why);
  if (report && claimed_.on_failed) claimed_.on_failed(attempt->peer, why);
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

void PeerAttempts::OnHead(Attempt* attempt, const http::ClientResponse& response) {
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
    auto parsed = cr ? http::ParseContentRange(*cr) : std::nullopt;
    if (!parsed || parsed->first != stream_->offset() || parsed->size != stream_->size()) {
      problem = "peer's Content-Range does not continue the stream";
    }
  } else if (!is_manifest_) {
    if (!response.content_length) {
      problem = "peer sent no Content-Length";
    } else {
      size = *response.content_length;
    }
  } else {
    if (response.content_length &&
        *response.content_length > fetcher_->options_.max_manifest_bytes) {
      problem = "manifest from peer too large";
    }
    if (!digest_) {
      auto claimed = response.Header("Docker-Content-Digest");
      auto parsed = claimed ? oci::Digest::Parse(*claimed)
                            : Result<oci::Digest>(Status::NotFound(""));
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
    Served(*attempt);
    writer_->RespondHead(200, std::move(headers), size);
    Finish();
    return;
  }
  if (resuming) {
    ++fetcher_->stats_.resumes;
    stream_->Deliver();
    NoteReceived();
    return;
  }
  StartBlobResponse(attempt, size);
}

void PeerAttempts::StartBlobResponse(Attempt* attempt, uint64_t size) {
  uint64_t window_first = 0;
  uint64_t window_last = size == 0 ? 0 : size - 1;
  int status = 200;
  http::Headers headers{{"Docker-Content-Digest", digest_->str()}, {"Accept-Ranges", "bytes"}};
  if (client_range_) {
    const auto window = BlobWindowFor(std::string_view(*client_range_), size, &headers);
    if (!window) {
      answered_ = true;
      RespondRangeNotSatisfiable(head_request_, *writer_, *digest_, size);
      Finish();
      return;
    }
    if (window->status == 206) {
      status = 206;
      window_first = window->first;
      window_last = window->first + window->length - 1;
      headers.push_back({"Content-Type", "application/octet-stream"});
    }
  }
  if (status == 200) {
    headers.push_back({"Content-Type", attempt->content_type.empty() ? "application/octet-stream"
                                                                     : attempt->content_type});
  }
  const uint64_t length = size == 0 ? 0 : window_last - window_first + 1;
  answered_ = true;
  if (length == 0) {
    // An empty blob: verify now (nothing to stream).
    if (oci::Digest::FromSha256(oci::Sha256::Hash("")) != *digest_) {
      ++fetcher_->stats_.digest_mismatches;
      fetcher_->locator_->ReportBadProvider(attempt->peer, "empty body does not match digest");
      answered_ = false;
      DropAttempt(attempt, false, "digest mismatch");
      AfterFailure();
      return;
    }
    Served(*attempt);
    writer_->Respond(status, std::move(headers), "");
    Finish();
    return;
  }
  VerifiedStream::Feeder* feeder = this;
  stream_ = std::make_unique<VerifiedStream>(feeder, *digest_, size, window_first, window_last,
                                             &fetcher_->read_ahead_, fetcher_->HashWorkerFor());
  Served(*attempt);
  writer_->RespondStream(status, std::move(headers), length, stream_->OpenBody());
  stream_->Deliver();
  NoteReceived();
}

void PeerAttempts::OnData(Attempt* attempt, std::string_view data) {
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
  waiting_read_more_ = true;
  const VerifiedStream::AppendResult appended = stream_->Append(data);
  if (stream_->complete()) last_bytes_from_ = attempt->peer;
  switch (appended) {
    case VerifiedStream::AppendResult::kAccepted:
    case VerifiedStream::AppendResult::kVerified: break;
    case VerifiedStream::AppendResult::kTooLong:
      ++fetcher_->stats_.digest_mismatches;
      DropAttempt(attempt, true, "peer sent more bytes than the blob has");
      GiveUp("peer sent more bytes than the blob has");
      return;
    case VerifiedStream::AppendResult::kOutOfMemory:
      DropAttempt(attempt, false, "no memory for the read-ahead");
      GiveUp("no memory for the read-ahead");
      return;
    case VerifiedStream::AppendResult::kDigestMismatch:
      ++fetcher_->stats_.digest_mismatches;
      LOG_WARN("peer fetch: bytes from peer do not match the digest; aborting the client")
          .Str("digest", digest_->str())
          .Str("got", stream_->hashed()->str())
          .Str("peer", attempt->peer.node_id);
      DropAttempt(attempt, true, "digest mismatch");
      GiveUp("digest mismatch");
      return;
  }
  stream_->Deliver();
  NoteReceived();
}

void PeerAttempts::Pump() {
  // Read ahead from the peer while the stream has room for it.
  if (winner_ != nullptr && waiting_read_more_ && stream_->HasRoom()) {
    waiting_read_more_ = false;
    winner_->exchange->ReadMore();
    NoteReceived();
  } else if (StreamStalled()) {
    // The stream broke: continue from its offset on another peer.
    if (!Launch()) GiveUp("no peer could resume the blob");
  }
}

void PeerAttempts::Delivered(size_t bytes) { fetcher_->stats_.peer_bytes += bytes; }

void PeerAttempts::OnDone(Attempt* attempt, const Status& status) {
  if (finished_) return;
  if (is_manifest_ && attempt == winner_ && status.ok()) {
    AnswerManifest(attempt);
    return;
  }
  if (!is_manifest_ && attempt == winner_ && status.ok() &&
      (head_request_ || !StreamIncomplete())) {
    winner_ = nullptr;
    // Keep the completed attempt until Finish(); nothing more to read.
    return;
  }
  const bool was_winner = attempt == winner_;
  DropAttempt(attempt, !status.ok() || was_winner,
              status.ok() ? "body ended early" : status.message());
  if (!answered_) {
    AfterFailure();
    return;
  }
  // The stream broke, or a resume failed before its head: with nothing left in flight, continue
  // from the stream's offset at once (another peer if there is one). Nothing else would start
  // the next attempt while the client waits.
  if (StreamStalled()) {
    LOG_INFO("peer fetch: stream broke; resuming")
        .Str("digest", digest_->str())
        .Int("offset", stream_->offset());
    waiting_read_more_ = false;
    if (!Launch()) GiveUp("no peer could resume the blob");
  }
}

void PeerAttempts::AnswerManifest(Attempt* attempt) {
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
  Served(*attempt);
  if (head_request_) {
    writer_->RespondHead(200, std::move(headers), attempt->body.size());
  } else {
    fetcher_->stats_.peer_bytes += attempt->body.size();
    writer_->Respond(200, std::move(headers), std::move(attempt->body));
  }
  Finish();
}

void PeerAttempts::Served(const Attempt& attempt) {
  origin_->source = from_inflight_ ? AnswerSource::kInflightPeer : AnswerSource::kPeer;
  origin_->peer_id = attempt.peer.node_id;
  fetcher_->Served();
}

void PeerAttempts::NoteReceived() {
  if (finished_ || !claimed_.on_received || winner_ == nullptr || !stream_) return;
  claimed_.on_received(winner_->peer, stream_->offset(), stream_->size(), !waiting_read_more_);
}

void PeerAttempts::BodyClosed() { Finish(); }

void PeerAttempts::DigestMismatch() {
  if (finished_) return;
  ++fetcher_->stats_.digest_mismatches;
  LOG_WARN("peer fetch: bytes from peer do not match the digest; aborting the client")
      .Str("digest", digest_->str())
      .Str("got", stream_->hashed()->str())
      .Str("peer", last_bytes_from_ ? last_bytes_from_->node_id : std::string());
  if (last_bytes_from_) fetcher_->locator_->ReportBadProvider(*last_bytes_from_, "digest mismatch");
  GiveUp("digest mismatch");
}

void PeerAttempts::AfterFailure() {
  if (winner_ != nullptr || finished_) return;
  // Before an answer each peer gets one attempt: one that 404'd, timed out or sent wrong bytes is
  // not asked again (going round again only serves resumes), so a miss is answered in one round.
  if (next_peer_ < peers_.size() && Launch()) return;
  if (attempts_.empty()) GiveUp("no peer could serve it");  // Else wait for the one in flight.
}

void PeerAttempts::GiveUp(std::string_view why) {
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
  // The server aborts the client; its stopping or destroying the body finishes us.
  if (stream_) stream_->Fail(why);
}

void PeerAttempts::SendNotFound(std::string_view why) {
  if (finished_ || answered_) return;
  ++fetcher_->stats_.not_found;
  answered_ = true;
  const OciError error = is_manifest_ ? OciError::kManifestUnknown : OciError::kBlobUnknown;
  std::string body = ErrorBody(error, PeerNotFoundMessage(is_manifest_, why));
  if (client_.alive()) {
    if (head_request_) {
      writer_->RespondHead(404, {{"Content-Type", "application/json"}}, body.size());
    } else {
      writer_->Respond(404, {{"Content-Type", "application/json"}}, std::move(body));
    }
  }
  Finish();
}

void PeerAttempts::Finish() {
  if (finished_) return;
  finished_ = true;
  if (stream_) stream_->Stop();
  attempts_.clear();
  winner_ = nullptr;
  hedge_timer_.reset();
  fetcher_->Finished(this);
  ClaimedSources claimed = std::move(claimed_);
  claimed_ = {};  // No callback after on_finished.
  if (claimed.on_finished) claimed.on_finished();
}

}  // namespace spegel::registry
