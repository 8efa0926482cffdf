// PeerFetcher: serves a registry request this node cannot answer from its own content store by
// proxying it from another node that has the content.
//
//   local miss ──▶ ContentLocator::FindProviders(key)  (bounded by the locator's resolve budget)
//                     │ none ──▶ 404 at once, so containerd goes to the next host / upstream
//                     ▼
//              attempt on peer 1 ──(no head within the hedge delay)──▶ attempt on peer 2
//                     │ first usable head wins; the other attempt is cancelled
//                     ▼
//   manifests (GET and HEAD): the whole body (≤ 4 MiB) is fetched, its SHA-256 checked against the
//       requested digest (or, by tag, the peer's Docker-Content-Digest), then answered from memory.
//       A peer with wrong bytes is reported and the next peer is tried; the client sees nothing.
//   blob HEAD: the peer's head (size, type), checked against what was asked.
//   blob GET: streamed (RespondStream) with backpressure both ways: the peer is read only while
//       less than 1 MiB waits for the client, and the client gets what is there. Every byte is
//       hashed as it streams; the last byte of the client's answer is held back until the whole
//       blob hashed to the requested digest. On a mismatch the client connection is aborted
//       (containerd retries elsewhere) and the peer is reported. A peer that breaks mid-stream is
//       replaced by another (or the same, once) with `Range: bytes=<offset>-`, invisibly to the
//       client. A client Range is served from the full blob: bytes outside it are hashed and
//       dropped.
// Requests to peers carry `X-Spegel-Mirrored: true` (the peer serves locally or 404s: one hop)
// and, with a peer secret, X-Spegel-Auth.
//
// The parts: this file is the entry point (options, stats, the hedge delay, the fetches in
// flight); peer_attempts.h runs one client request (providers, hedging, manifests, resume);
// verified_stream.h is a blob GET's body (hashing, the held last byte, read-ahead).
//
// The hedge delay is the 90th percentile of recent peer head latencies, clamped to
// [kMinHedgeMs, kMaxHedgeMs] (kDefaultHedgeMs until there are samples).
//
// Ownership and threading: owned by the registry wiring; loop thread only. Every fetch is owned
// by the fetcher until its response ended (or the client went away); Shutdown-safe: destroying the
// fetcher cancels every fetch (their writers get no more calls; the server aborts them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/peer_auth.h"
#include "cluster/content_locator.h"
#include "http/connection_pool.h"
#include "http/handler.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "registry/route.h"
#include "registry/verified_stream.h"

namespace spegel::registry {

struct PeerFetchOptions {
  uint64_t connect_timeout_ms = 300;
  uint64_t manifest_timeout_ms = 3000;  // Head and whole body of a manifest.
  uint64_t blob_head_timeout_ms = 3000;
  uint64_t idle_timeout_ms = 5000;  // No body byte for this long: resume elsewhere.
  size_t max_manifest_bytes = 4 << 20;
  int max_attempts = 6;  // Peer requests per client request, hedges included.
  size_t max_peers = 3;  // Distinct providers tried per request (--mirror-resolve-retries).
  // Sent as Authorization to peers (their /v2 may require the cluster's basic auth); empty = none.
  std::string authorization;
  // Read-ahead memory shared by all blob streams from peers (VerifiedStream's memory invariant):
  // a stream gets VerifiedStream::kMaxRingBytes while this lasts, kMinRingBytes after.
  size_t read_ahead_budget_bytes = 6 << 20;  // Three streams at the most, as containerd pulls.
  // Keep-alive connections to peers; null = one connection per request. Must outlive the
  // fetcher. Hedges and resumes take their own connections; a losing or abandoned attempt closes
  // its connection instead of returning it.
  http::ConnectionPool* pool = nullptr;
  // SHA-256 of blob streams on a worker thread of the fetcher's own (VerifiedStream); false
  // hashes on the loop thread.
  bool hash_on_worker = true;
};

struct PeerFetchStats {
  uint64_t fetches = 0;
  uint64_t not_found = 0;  // Nothing in the cluster: fast 404.
  uint64_t served = 0;     // Answers that came from a peer.
  uint64_t hedges = 0;     // Second attempts started because the first was slow.
  uint64_t resumes = 0;    // Blob streams continued from another peer with Range.
  uint64_t digest_mismatches = 0;
  uint64_t failed = 0;      // Gave up after the answer started (client connection aborted).
  uint64_t peer_bytes = 0;  // Body bytes handed to clients from peers.
  // Blob bytes copied in user space between the peer socket and the client socket (the rest was
  // read into the stream's ring and sent from it in place).
  uint64_t peer_bytes_copied = 0;
  double last_success_unix_seconds = 0;  // When an answer from a peer last started.
};

class PeerAttempts;

// The nodes a claim named, for PeerFetcher::ServeFrom, and what their fetch tells about them.
// Each callback may be empty; they run on the loop thread, inline from the fetch's own events,
// and none runs after on_finished.
struct ClaimedSources {
  // The nodes are downloads in flight: each is asked once at most, and one that broke is not
  // resumed from (the fetch gives up, the client resumes with Range, and that request is
  // claimed afresh).
  bool in_flight = false;
  // The blob's bytes from `peer` reached `received` (an offset into the `total` bytes); `waiting`:
  // the stream now waits for that peer rather than for its own client. After each read of the
  // body and whenever the stream asks the peer for more.
  std::function<void(const cluster::Provider& peer, uint64_t received, uint64_t total,
                     bool waiting)>
      on_received;
  // `peer` broke, stalled, answered what no source may (a 404 is a plain miss, not this), or
  // sent wrong bytes.
  std::function<void(const cluster::Provider& peer, std::string_view why)> on_failed;
  // The fetch finished: answered, given up, or the client went away.
  std::function<void()> on_finished;
};

// The message of a 404 for content no peer could give: "<kind> unknown to this node and its
// peers: <why>". Shared by every path that answers such a miss, so that a HEAD and a GET of the
// same unknown content announce the same length.
std::string PeerNotFoundMessage(bool is_manifest, std::string_view why);
inline constexpr std::string_view kNoNodeHasIt = "no node in the cluster has it";

class PeerFetcher {
 public:
  static constexpr uint64_t kDefaultHedgeMs = 50;
  static constexpr uint64_t kMinHedgeMs = 5;
  static constexpr uint64_t kMaxHedgeMs = 500;

  // `loop` and `locator` must outlive the fetcher.
  PeerFetcher(Loop* loop, cluster::ContentLocator* locator, auth::PeerAuth auth,
              PeerFetchOptions options = {});
  ~PeerFetcher();
  PeerFetcher(const PeerFetcher&) = delete;
  PeerFetcher& operator=(const PeerFetcher&) = delete;

  // Answers `request` (GET or HEAD of a manifest or blob; route already validated) through a
  // peer. `key` is what to look up: the digest, or "registry/repo:tag" for a manifest by tag.
  void Serve(http::Request& request, http::ResponseWriter& writer, const Route& route,
             std::string key);
  // Like Serve(), from `peers` (best first) instead of a lookup: the nodes a claim named, as
  // `claimed` says (in flight or complete) and watched through its callbacks.
  void ServeFrom(http::Request& request, http::ResponseWriter& writer, const Route& route,
                 std::string key, std::vector<cluster::Provider> peers,
                 ClaimedSources claimed = {});

  const PeerFetchStats& stats() const { return stats_; }
  const ReadAheadBudget& read_ahead() const { return read_ahead_; }
  uint64_t HedgeDelayMs() const;

 private:
  friend class PeerAttempts;  // Reads the shared parts below; reports through the methods here.
  void RecordHeadLatency(uint64_t ms);
  void Served();                       // An answer from a peer started.
  void Finished(PeerAttempts* fetch);  // Deletes `fetch` in a later loop turn.
  HashWorker HashWorkerFor() { return {loop_, hash_worker_.get()}; }

  Loop* loop_;
  cluster::ContentLocator* locator_;
  auth::PeerAuth auth_;
  PeerFetchOptions options_;
  PeerFetchStats stats_;
  ReadAheadBudget read_ahead_;  // Before fetches_: their streams give it back when destroyed.
  // Null without hash_on_worker. Before fetches_: destroyed after their streams.
  std::unique_ptr<Worker> hash_worker_;
  std::unordered_map<PeerAttempts*, std::unique_ptr<PeerAttempts>> fetches_;
  std::vector<uint64_t> latencies_;  // Ring of recent head latencies (ms).
  size_t latency_next_ = 0;
  Liveness liveness_;
};

}  // namespace spegel::registry
