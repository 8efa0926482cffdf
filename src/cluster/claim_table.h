// ClaimTable: the primary owner's side of pull coalescing. For a key that no node holds yet, the
// first node that asks becomes its fetcher (its containerd downloads it from upstream) and the
// nodes that ask while the download runs follow in-flight sources (the fetcher, and followers
// whose own copy is growing), at most `fanout` readers per source, so followers form a tree.
//
// Decision per claim, atomic because the owner's loop thread makes every one:
//   1. complete copies known (the caller passes the provider table's answer, or a node reported
//      done):                                        have   + those nodes
//   2. a live claim: the fetcher's lease runs and it made progress (min_progress_bytes) within the
//      stall limit, or its start deadline has not passed:                follow + sources with a
//      free reader slot
//   3. the asker can serve in-flight bytes:          fetch  (the asker becomes the fetcher)
//   4. otherwise:                                    decline (behave as without coalescing)
// A claim whose fetcher stalled, never started, or failed is revoked; the next asker becomes the
// fetcher, and the old one hears `revoked` on its next progress report. A follower of the fetcher
// claiming again while the fetcher has not advanced for reclaim_stall_ms revokes it early.
//
// Progress reports (one per key per node and second or so) renew the fetcher's lease when its
// offset grows, register followers as sources with their offset, record `done` nodes as complete
// copies for a while (until their announce reaches the provider table), and drop `failed` ones.
// A report for a key the owner does not know re-creates the claim with the reporter as fetcher
// or source: a new owner after a membership change rebuilds its state from reports.
//
// Soft state only: bounded by max_keys (a claim beyond it is declined), swept by Sweep(). Times
// are the owner's own monotonic milliseconds; senders' clocks are never compared.
//
// Not thread-safe; owned by the ClusterNode and used on its loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/content_locator.h"

namespace spegel::cluster {

struct ClaimOptions {
  size_t fanout = 4;          // Concurrent readers per in-flight source.
  uint64_t start_ms = 5'000;  // A new fetcher must report progress within this.
  // A fetcher that does not advance by min_progress_bytes within this is revoked: about the
  // followers' idle timeout (5 s), so that their re-claims after it find a new fetcher. The
  // floor (256 KiB per 5 s, about 0.4 Mbit/s) makes a crawl count as a stall.
  uint64_t stall_ms = 5'000;
  uint64_t min_progress_bytes = 256 << 10;
  // A follower of the fetcher that claims again lost its stream. If the fetcher has not advanced
  // for this long either, that is the stall its readers saw (they give up after 4 s): it is
  // revoked now, and the asker fetches instead of being sent back to it.
  uint64_t reclaim_stall_ms = 2'000;
  uint64_t done_keep_ms = 60'000;    // How long `done` nodes answer `have`.
  uint64_t source_idle_ms = 15'000;  // A follower not heard of this long is no source.
  size_t max_keys = 10'000;
};

enum class ClaimVerdict { kHave, kFollow, kFetch, kDecline };
std::string_view ClaimVerdictName(ClaimVerdict verdict);

struct ClaimAnswer {
  ClaimVerdict verdict = ClaimVerdict::kDecline;
  std::vector<Provider> nodes;  // kHave: complete copies; kFollow: sources, best first.
};

enum class ProgressState { kFetching, kFollowing, kDone, kFailed };
std::string_view ProgressStateName(ProgressState state);

struct ProgressReport {
  std::string key;
  ProgressState state = ProgressState::kFetching;
  uint64_t offset = 0;
  uint64_t total = 0;
};

struct ClaimStats {
  uint64_t have = 0;
  uint64_t follow = 0;
  uint64_t fetch = 0;
  uint64_t decline = 0;
  // Leases taken from a fetcher whose download did not finish: it missed its start deadline,
  // stalled, reported failure or left the cluster. A fetcher that finished, or that now follows
  // another source, gives its lease up without counting here.
  uint64_t revoked = 0;
  size_t keys = 0;
};

class ClaimTable {
 public:
  explicit ClaimTable(ClaimOptions options = {}) : options_(options) {}

  // `asker` claims `key`; `holders` are the complete copies the provider table knows (may be
  // empty); `can_serve` says whether the asker can serve its in-flight bytes to peers.
  ClaimAnswer Claim(const std::string& key, const Provider& asker,
                    const std::vector<Provider>& holders, bool can_serve, uint64_t now_ms);
  // Applies `report` from `reporter`. False when the reporter's fetch was revoked (it should stop
  // offering itself as the fetcher), true otherwise.
  bool Report(const ProgressReport& report, const Provider& reporter, uint64_t now_ms);
  // Drops claims with nothing live left in them. Call about once a second.
  void Sweep(uint64_t now_ms);
  // A node left the cluster: it is no fetcher or source any more.
  void DropNode(std::string_view node_id);

  ClaimStats stats() const;
  // One line for /debug/routing?key=: the claim's fetcher, sources and readers; empty if none.
  std::string Describe(const std::string& key, uint64_t now_ms) const;
  // At most `max` keys with a claim here, any order.
  std::vector<std::string> Keys(size_t max) const;

 private:
  // Who downloads the key from upstream, and how far it got. Started by a fetch verdict or by a
  // report that rebuilds a claim; ended only by EndLease.
  struct Lease {
    Provider fetcher;
    uint64_t start_deadline_ms = 0;
    uint64_t last_advance_ms = 0;
    bool started = false;       // The fetcher reported an offset > 0.
    uint64_t offset = 0;        // The highest offset the fetcher reported.
    uint64_t advance_mark = 0;  // Its offset when the lease was last renewed.
  };
  // A follower: it reads from the fetcher or another follower, and serves its own growing copy.
  struct Follower {
    Provider node;
    uint64_t offset = 0;
    uint64_t heard_ms = 0;
    size_t depth = 1;    // Its parent's + 1; the fetcher is depth 0.
    std::string parent;  // The node it reads from; empty when rebuilt from a report.
    bool serves = true;  // Can serve its own copy: a follower that cannot only counts as a reader.
  };
  // Invariant: the fetcher is never among the followers.
  struct Entry {
    std::optional<Lease> lease;  // Empty when there is no fetcher (none yet, revoked or done).
    uint64_t total = 0;
    std::vector<Follower> followers;
    std::vector<Provider> done;  // Complete copies, until done_until_ms.
    uint64_t done_until_ms = 0;
  };
  enum class LeaseEnd {
    kReleased,  // The fetcher finished, or reads from another source now.
    kRevoked,   // Its download failed or stalled (counted in ClaimStats::revoked).
  };

  bool LeaseLive(const Lease& lease, uint64_t now_ms) const;
  void StartLease(Entry& entry, const Provider& fetcher, uint64_t now_ms);
  // The one place a lease ends. No-op without a lease.
  void EndLease(Entry& entry, LeaseEnd why);
  static bool IsFetcher(const Entry& entry, std::string_view node_id);
  static Follower* FindFollower(Entry& entry, std::string_view node_id);
  static void RemoveFollower(Entry& entry, std::string_view node_id);
  // How many followers read from each source, by its node id, counted in one pass (a claim looks
  // at every source). The keys view the followers' `parent`: valid until the followers change.
  using ReaderCounts = std::unordered_map<std::string_view, size_t>;
  static ReaderCounts CountReaders(const Entry& entry);
  static size_t Readers(const ReaderCounts& counts, std::string_view node_id);

  ClaimOptions options_;
  std::unordered_map<std::string, Entry> entries_;
  ClaimStats stats_;
};

}  // namespace spegel::cluster
