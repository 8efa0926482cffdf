// PeerAttempts: one client request answered through peers (see peer_fetch.h for the protocol).
//
// This is the attempts side of a peer fetch: which provider to ask next, the hedge timer that
// starts a second attempt when the first is slow, the race between attempts (the first usable
// head wins, the others are cancelled), manifests checked whole against their digest, and, for a
// blob GET, the resume with `Range: bytes=<offset>-` after a provider broke mid-stream. The bytes
// of a blob GET go through a VerifiedStream, which this class feeds.
//
// Rules for choosing providers: before an answer started each provider gets one attempt, so a
// miss is answered in one round; a resume may go round again (a provider that broke once may
// well serve the rest). At most PeerFetchOptions::max_attempts requests per client request,
// hedges and resumes included.
//
// Ownership and threading: loop thread only. Created and owned by the PeerFetcher, which must
// outlive it; Finish() hands it back to the fetcher, which deletes it in a later loop turn.
// Callbacks from the locator, the writer, timers and client exchanges check a Liveness token or
// are owned by this object, so none runs after it is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/content_locator.h"
#include "http/client.h"
#include "http/handler.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "oci/digest.h"
#include "registry/peer_fetch.h"
#include "registry/request_context.h"
#include "registry/route.h"
#include "registry/verified_stream.h"

namespace spegel::registry {

class PeerFetcher;

class PeerAttempts final : private VerifiedStream::Feeder {
 public:
  // `request` and `writer` as given to Handler::Handle; `route` already validated; `key` is what
  // to look providers up by (the digest, or "registry/repo:tag" for a manifest by tag).
  PeerAttempts(PeerFetcher* fetcher, http::Request& request, http::ResponseWriter& writer,
               const Route& route, std::string key);
  ~PeerAttempts();
  PeerAttempts(const PeerAttempts&) = delete;
  PeerAttempts& operator=(const PeerAttempts&) = delete;

  // Asks the locator for providers, or takes `peers` when given; either way the fetch goes on
  // asynchronously (never inline). `claimed` (with `peers` only): what the claim said of them
  // (in flight: every peer is asked once at most, no resume from one that broke, since a broken
  // stream is better re-claimed) and who hears how they do.
  void Start(std::optional<std::vector<cluster::Provider>> peers = std::nullopt,
             ClaimedSources claimed = {});

 private:
  struct Attempt {
    cluster::Provider peer;
    std::unique_ptr<http::ClientExchange> exchange;
    uint64_t started_ms = 0;
    bool head_seen = false;
    std::string body;                          // Manifests only.
    std::optional<oci::Digest> served_digest;  // Manifests by tag: the peer's claim.
    std::string content_type;
  };

  void OnPeers(std::vector<cluster::Provider> peers);
  // Starts the next attempt (hedge or replacement). False when no attempt can start.
  bool Launch();
  void ArmHedge();
  void OnHead(Attempt* attempt, const http::ClientResponse& response);
  void OnData(Attempt* attempt, std::string_view data);
  void OnDone(Attempt* attempt, const Status& status);
  void DropAttempt(Attempt* attempt, bool report, std::string_view why);
  void AnswerManifest(Attempt* attempt);
  void StartBlobResponse(Attempt* attempt, uint64_t size);
  void GiveUp(std::string_view why);
  // After an attempt failed before any answer: try the next peer at once (also while another
  // attempt is still in flight); give up when none is left and nothing is in flight.
  void AfterFailure();
  void SendNotFound(std::string_view why);
  void Finish();
  // Where a blob GET's next bytes start (0 before the stream exists).
  uint64_t StreamOffset() const { return stream_ ? stream_->offset() : 0; }
  bool StreamIncomplete() const { return stream_ && !stream_->complete(); }
  // A blob GET's stream broke and no attempt is left to continue it: resume at its offset.
  bool StreamStalled() const {
    return StreamIncomplete() && winner_ == nullptr && attempts_.empty();
  }

  // VerifiedStream::Feeder
  void Pump() override;
  void Delivered(size_t bytes) override;
  void BodyClosed() override;
  void DigestMismatch() override;

  // An answer from `attempt` starts: counted, and its origin noted on the request.
  void Served(const Attempt& attempt);
  // Tells claimed_.on_received how far the winner's bytes reached (a blob GET's stream only).
  void NoteReceived();

  PeerFetcher* fetcher_;
  Loop* loop_;
  http::ResponseWriter* writer_;
  AnswerOrigin* origin_;        // The request's; valid until the answer (or the abort).
  bool from_inflight_ = false;  // claimed_.in_flight: the peers named are downloads in flight.
  ClaimedSources claimed_;
  Liveness::Token client_;  // writer_'s: dead once the client went away.
  bool head_request_;
  bool is_manifest_;
  std::string key_;
  std::optional<oci::Digest> digest_;  // What the bytes must hash to (blobs, manifests by digest).
  std::string peer_target_;            // "/v2/<repo>/<kind>/<ref>?ns=<registry>"
  std::optional<std::string> client_range_;

  std::vector<cluster::Provider> peers_;
  size_t next_peer_ = 0;
  int attempts_started_ = 0;
  int max_attempts_ = 0;  // PeerFetchOptions::max_attempts, or fewer (in-flight sources).
  std::vector<std::unique_ptr<Attempt>> attempts_;
  Attempt* winner_ = nullptr;
  std::unique_ptr<Timer> hedge_timer_;
  bool answered_ = false;  // A Respond* call was made.
  bool finished_ = false;

  // Blob GET: the body being streamed, once its head was answered.
  std::unique_ptr<VerifiedStream> stream_;
  bool waiting_read_more_ = false;  // The winner's exchange waits for ReadMore().
  // The provider that sent the blob's last bytes: blamed when the hash comes back wrong.
  std::optional<cluster::Provider> last_bytes_from_;
  // Cleared when this object is destroyed; callbacks that may outlive it check it first.
  Liveness liveness_;
};

}  // namespace spegel::registry
