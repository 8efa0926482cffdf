// Inflight: this node's side of pull coalescing (cluster/claim_table.h has the owner's side).
//
//   local miss of a blob GET ──▶ Claim() at the key's primary owner (PullCoordinator)
//        fetch  ─▶ 404 at once: our containerd downloads from upstream into its ingest, which
//                  Offer(kFetching) then serves to peers
//        follow ─▶ peer fetch from the sources named (as for providers); our containerd's ingest
//                  grows with what we stream to it, and Offer(kFollowing) serves it in turn
//        have   ─▶ peer fetch from the complete copies named
//        decline ─▶ peer fetch as without coalescing (lookup, then 404)
//   peer's GET of a blob we do not hold ──▶ Serve(): from the growing ingest, if we offer one
//
// Serving a growing file: the head goes out at once (Content-Length from the ingest's total),
// then every byte below the file's size with sendfile (BodySink::SendFile); a reader that caught
// up waits for the file's next change (inotify, with a poll as backup). The blob's last byte is
// held until containerd committed the same inode (it checked the digest), or, when the commit has
// not come hash_after_full_ms after the file is full, until this node's own SHA-256 of the file
// (pread on a worker thread) matched the digest. A source that dies (ingest removed, replaced,
// shrunk, wrong digest) or a reader that waits longer than reader_stall_ms ends the reader with a
// clean close (BodySink::Fail closes the connection: a FIN), never a wrong byte; the peer resumes
// elsewhere. Only peers (X-Spegel-Mirrored, signed when a secret is set) are served from an ingest:
// the registry handler checks that before calling Serve(). At most `fanout` readers per source.
//
// Progress: every report_ms each source is reported to its key's primary owner (fetching or
// following, with the file's size; done once verified or committed; failed when it died). A
// fetch the owner revoked is no longer offered to new readers; readers already there go on.
//
// Reading from in-flight sources (Watch, for the peer fetch of a follow answer): while our
// stream waits for its source, every report_ms it is reported as `reading` with the offset the
// source's bytes reached: the owner renews a fetcher's lease on what its readers received, not
// on its word. A source (or complete copy a claim named) whose stream broke or stalled here is
// avoided for that key for avoid_ms: never read from again, and named in our claims of the key
// (`avoid`), where the owner bans it unless other readers see it advance, or declines us, so our
// containerd goes upstream. A follow answer naming only avoided sources counts as a decline.
//
// Manifests and indexes (by digest) are claimed too: Docker Hub counts every manifest GET. They are
// small, so a follower does not stream them: the fetcher's Spegel holds a peer's GET until its
// containerd committed the document (ExpectManifest / ServeManifest, at most manifest_wait_ms),
// checks its digest and answers it whole. Tags cannot be coalesced this way: containerd 1.6
// records a tag only when the whole image is pulled, and tag lookups are HEADs, which the Hub
// does not count.
//
// A node without a readable content directory offers nothing (can_serve() is false, claims say
// so, and Offer() does nothing).
//
// Ownership and threading: owned by the daemon wiring; loop thread only. It must outlive the
// handler that calls it; body sources it handed to the server hold their source (and its file)
// themselves and fail once the Inflight is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/pull_coordinator.h"
#include "containerd/content_store.h"
#include "containerd/ingest.h"
#include "http/handler.h"
#include "loop/handle.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "loop/worker.h"
#include "oci/digest.h"
#include "registry/peer_fetch.h"

namespace spegel::registry {

struct InflightOptions {
  std::string containerd_namespace = "k8s.io";
  // Growth wakes waiting readers through inotify on the ingest's data file; the poll is the
  // backup (and runs the hashing and clean-up). A copy that cannot be watched (inotify's watch
  // limit) makes the poll run every unwatched_poll_ms instead.
  uint64_t poll_ms = 100;
  uint64_t unwatched_poll_ms = 20;
  uint64_t reader_stall_ms = 4000;  // Below the peer's idle timeout (5 s): it resumes elsewhere.
  uint64_t report_ms = 1000;
  size_t fanout = 4;
  uint64_t keep_done_ms = 60'000;  // A verified or committed source serves this long after.
  uint64_t open_retry_ms = 100;    // An ingest not there yet is looked for again...
  int open_attempts = 20;          // ...this many times.
  // A full copy whose commit has not been seen this long is hashed by us instead.
  uint64_t hash_after_full_ms = 100;
  // How long a peer's GET of a manifest we fetch waits for our containerd's copy: below the
  // peer's manifest timeout (3 s), so it hears 404 and goes upstream in time.
  uint64_t manifest_wait_ms = 2000;
  // A source whose stream of a key broke or stalled here is avoided for it this long: longer
  // than a pull of the key takes.
  uint64_t avoid_ms = 600'000;
  size_t max_avoided_keys = 1024;  // Keys with avoided sources; the oldest go first.
};

struct InflightStats {
  uint64_t claims_fetch = 0;   // Our containerd downloaded (we answered 404 after a claim).
  uint64_t claims_follow = 0;  // We streamed from in-flight sources.
  uint64_t claims_have = 0;
  uint64_t claims_decline = 0;
  uint64_t sources = 0;         // In-flight copies offered so far.
  uint64_t readers = 0;         // Peer GETs served from them.
  uint64_t refused = 0;         // Peer GETs refused: fan-out reached, source dead or revoked.
  uint64_t bytes_served = 0;    // Bytes sent to peers from in-flight copies.
  uint64_t readers_failed = 0;  // Readers ended early (source died or stalled).
  uint64_t digest_mismatches = 0;
  uint64_t manifests_served = 0;   // Peer GETs of manifests we fetched, answered.
  uint64_t manifests_expired = 0;  // ...not committed within manifest_wait_ms (404).
  // Blob bytes this node's containerd got through follow answers rather than from upstream:
  // the sizes of our own in-flight copies that completed as followers.
  uint64_t upstream_avoided = 0;
  uint64_t sources_avoided = 0;  // Sources whose stream broke or stalled under our readers.
  size_t live_sources = 0;
  size_t live_readers = 0;  // Peers reading our in-flight copies now (followers per source).
};

// One in-flight copy this node offers, for the status page.
struct InflightCopy {
  std::string digest;
  std::string role;  // "fetching" or "following"
  uint64_t size = 0;
  uint64_t total = 0;
  size_t readers = 0;
  std::string state;  // "growing", "verified", "committed", "revoked", "dead: <why>"
};

class Inflight {
 public:
  // `coordinator` and `content` must outlive this.
  Inflight(Loop* loop, cluster::PullCoordinator* coordinator,
           const containerd::ContentStore* content, InflightOptions options = {});
  ~Inflight();
  Inflight(const Inflight&) = delete;
  Inflight& operator=(const Inflight&) = delete;

  // This node can serve in-flight bytes: its content directory is known.
  bool can_serve() const { return !content_->directory().empty(); }

  // Claims `digest` for this node's containerd, naming the sources avoided for it. `done` runs
  // once on the loop thread, never inline (PullCoordinator::Claim), and not after destruction;
  // a follow answer never names an avoided source (one left without sources is a decline).
  void Claim(const oci::Digest& digest, std::function<void(cluster::ClaimAnswer)> done);
  // What PeerFetcher::ServeFrom takes for the nodes a claim of `digest` named: `in_flight` for a
  // follow answer (its stream is reported as `reading`), else complete copies. A node that
  // breaks or stalls is avoided for the key. The callbacks do nothing once this is destroyed.
  ClaimedSources Watch(const oci::Digest& digest, bool in_flight);
  // The sources avoided for `key` now (at most cluster::kMaxClaimAvoid).
  std::vector<std::string> Avoided(const std::string& key) const;
  // Offers this node's ingest of `digest` to peers in `role` (kFetching or kFollowing): opens it
  // now, or looks again every open_retry_ms while it is not there. Does nothing without a content
  // directory, or when the digest is offered already.
  void Offer(const oci::Digest& digest, cluster::ProgressState role);
  // A peer's GET or HEAD of `digest`: answered from our in-flight copy (true), or not at all
  // (false: the caller answers as it would without one).
  bool Serve(http::Request& request, http::ResponseWriter& writer, const oci::Digest& digest);

  // The owner told us to fetch manifest `digest`: for manifest_wait_ms, peers it sends here wait
  // for our containerd's copy.
  void ExpectManifest(const oci::Digest& digest);
  // A peer's GET or HEAD of manifest `digest`. False when we are not fetching it (the caller
  // answers as without in-flight sharing). Otherwise the request is answered later on the loop
  // thread: 200 with the whole document once our containerd committed it and it hashes to
  // `digest` (Content-Type from the document), or `not_found()` after manifest_wait_ms (or at
  // once if what was committed is no manifest). Nothing runs once the client went away.
  bool ServeManifest(http::Request& request, http::ResponseWriter& writer,
                     const oci::Digest& digest, std::function<void()> not_found);

  InflightStats stats() const;
  // At most `max` of the copies offered now (dead ones included until dropped), any order.
  std::vector<InflightCopy> Copies(size_t max) const;

 private:
  struct Source;
  class Body;
  friend class Body;

  // One follow stream of ours: the source it reads and how far that source's bytes reached.
  struct Reading {
    uint64_t stream = 0;  // Which Watch(); a later stream of the key replaces an earlier one.
    std::string source;
    uint64_t received = 0;
    uint64_t total = 0;
    bool waiting = false;  // For the source (not for our own client).
    uint64_t updated_ms = 0;
  };
  struct AvoidedSources {
    std::vector<std::string> nodes;
    uint64_t until_ms = 0;
  };
  void Avoid(const std::string& key, const std::string& node_id, std::string_view why);
  void TryOpen(const oci::Digest& digest, cluster::ProgressState role, int attempts_left);
  Result<containerd::IngestFile> OpenIngest(const oci::Digest& digest) const;
  // The source for `digest` from now on (replacing a dead one).
  const std::shared_ptr<Source>& AddSource(const oci::Digest& digest, containerd::IngestFile file,
                                           cluster::ProgressState role);
  // One fstat (and a stat once the file is full or unlinked): size, commit, death.
  void Observe(Source& source);
  // Observes every source, hashes new bytes, wakes waiting readers, drops dead or old sources.
  void Poll();
  void Report();
  void StartHash(const std::shared_ptr<Source>& source);
  void OnHashed(const std::shared_ptr<Source>& source, uint64_t hashed,
                std::optional<oci::Digest> digest);
  void Kill(Source& source, std::string why);
  void EnsureTimers();
  // An inotify event on `key`'s data file: look at it now and wake its readers.
  void OnChange(const std::string& key);
  struct ManifestWait {
    oci::Digest digest;
    http::Request* request;
    http::ResponseWriter* writer;
    std::function<void()> not_found;
    uint64_t deadline_ms;
    Liveness::Token client;  // The writer's: dead once the client went away.
  };
  // Answers `wait` if the committed document is there (or can never be): true when done with it.
  bool TryAnswerManifest(ManifestWait& wait);
  void PollManifestWaits(uint64_t now_ms);

  Loop* loop_;
  cluster::PullCoordinator* coordinator_;
  const containerd::ContentStore* content_;
  InflightOptions options_;
  std::unordered_map<std::string, std::shared_ptr<Source>> sources_;
  std::unordered_map<std::string, std::unique_ptr<Timer>> open_retries_;  // By digest.
  std::unordered_map<std::string, uint64_t> expected_manifests_;          // Digest -> until (ms).
  std::vector<ManifestWait> manifest_waits_;
  std::unordered_map<std::string, Reading> readings_;  // By digest.
  uint64_t next_stream_ = 1;
  std::unordered_map<std::string, AvoidedSources> avoided_;  // By digest.
  std::unique_ptr<Timer> poll_;
  uint64_t poll_interval_ms_ = 0;  // Of the running poll_.
  std::unique_ptr<Timer> report_;
  std::unique_ptr<Worker> hasher_;
  InflightStats stats_;
  Liveness liveness_;
};

}  // namespace spegel::registry
