// ClaimTable: the primary owner's side of pull coalescing. For a key that no node holds yet, the
// first node that asks becomes its fetcher (its containerd downloads it from upstream) and the
// nodes that ask while the download runs follow in-flight sources (the fetcher, and followers
// whose own copy is growing), at most `fanout` readers per source, so followers form a tree.
//
// Only live members take part (the is-member predicate, this node included): a claim from any
// other sender is declined and its progress reports are ignored, so a stranger on the network
// can neither become a fetcher or source nor confirm one.
//
// Decision per claim, atomic because the owner's loop thread makes every one:
//   0. the asker is no member:                       decline
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
// Complaints: a re-claim names the sources whose stream broke or stalled under the asker
// (`avoid`). None of them is handed to that asker again. A named source that no other member
// reader saw advance within reclaim_stall_ms (the asker itself waited longer than that before it
// gave up) past the offset where the asker's stream stopped is banned for the key for ban_ms
// (never a fetcher or source of it again; a banned fetcher is revoked), and the asker goes on as
// in 2-4. A named fetcher that others do see advancing keeps its lease, and the asker is
// declined: its containerd goes upstream.
//
// Progress reports (one per key per node and second or so) renew the fetcher's lease when its
// offset grows, register followers as sources with their offset, record `done` nodes as complete
// copies for a while (until their announce reaches the provider table), and drop `failed` ones.
// A report for a key the owner does not know re-creates the claim with the reporter as fetcher
// or source: a new owner after a membership change rebuilds its state from reports.
//
// Confirmation: a follower also reports `reading`, how far the bytes it received from its source
// reached, while its stream waits for that source. While a member reader of the fetcher reported
// so within reader_window_ms, the fetcher's own offsets renew nothing; only its readers'
// received offsets do. A fetcher that claims progress its readers do not see loses the lease at
// the stall limit, and is banned for the key as if complained of.
//
// Soft state only: bounded by max_keys (a claim beyond it is declined), swept by Sweep(). Times
// are the owner's own monotonic milliseconds; senders' clocks are never compared.
//
// Not thread-safe; owned by the ClusterNode and used on its loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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
  // A reader that reported bytes received from the fetcher within this is present: the
  // fetcher's own offsets then renew nothing. Readers report every second while they wait.
  uint64_t reader_window_ms = 3'000;
  // How long a source found stalled (a member's complaint no other reader contradicted, or a
  // lease that ran out under readers) stays banned for the key: longer than a pull of it takes,
  // so it is never handed out again for that pull.
  uint64_t ban_ms = 600'000;
  size_t max_keys = 10'000;
};

enum class ClaimVerdict { kHave, kFollow, kFetch, kDecline };
std::string_view ClaimVerdictName(ClaimVerdict verdict);

struct ClaimAnswer {
  ClaimVerdict verdict = ClaimVerdict::kDecline;
  std::vector<Provider> nodes;  // kHave: complete copies; kFollow: sources, best first.
};

// kFetching, kFollowing: the reporter's own copy (offset: its size), as the fetcher or a follower
// that serves it. kDone, kFailed: that copy completed (verified or committed) or died.
// kReading: the reporter, as a reader, received the blob up to `offset` from `source`, and its
// stream now waits for that source.
enum class ProgressState { kFetching, kFollowing, kDone, kFailed, kReading };
std::string_view ProgressStateName(ProgressState state);

struct ProgressReport {
  std::string key;
  ProgressState state = ProgressState::kFetching;
  uint64_t offset = 0;
  uint64_t total = 0;
  std::string source = {};  // kReading only: the node id the bytes came from.
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
  uint64_t strangers = 0;   // Claims declined and reports ignored: the sender is no member.
  uint64_t complaints = 0;  // Sources a re-claim named as broken or stalled.
  // Sources banned for a key: a complaint no other reader contradicted, or a fetcher whose lease
  // ran out while its readers reported on it.
  uint64_t banned = 0;
  size_t keys = 0;
};

class ClaimTable {
 public:
  // Whether `node_id` is a live member of the cluster (this node counts). Called during Claim,
  // Report and Sweep, never kept.
  using IsMemberFn = std::function<bool(std::string_view node_id)>;

  // Without `is_member` every node counts as a member.
  explicit ClaimTable(ClaimOptions options = {}, IsMemberFn is_member = {})
      : options_(options), is_member_(std::move(is_member)) {}

  // `asker` claims `key`; `holders` are the complete copies the provider table knows (may be
  // empty); `can_serve` says whether the asker can serve its in-flight bytes to peers; `avoid`
  // names the sources whose stream broke or stalled under the asker (a complaint, see above).
  ClaimAnswer Claim(const std::string& key, const Provider& asker,
                    const std::vector<Provider>& holders, bool can_serve, uint64_t now_ms,
                    const std::vector<std::string>& avoid = {});
  // Applies `report` from `reporter`. False when the reporter's fetch was revoked (it should stop
  // offering itself as the fetcher), true otherwise; a stranger's kFetching report is false.
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
    bool started = false;       // The fetcher, or a reader of it, reported an offset > 0.
    uint64_t offset = 0;        // The highest offset the fetcher reported.
    uint64_t advance_mark = 0;  // Its offset when the lease was last renewed by its own report.
    uint64_t confirmed = 0;     // The highest offset a reader received from it.
    bool observed = false;      // A member reader reported what it received from it.
  };
  // A follower: it reads from the fetcher or another follower, and serves its own growing copy.
  struct Follower {
    Provider node;
    uint64_t offset = 0;
    uint64_t heard_ms = 0;
    size_t depth = 1;    // Its parent's + 1; the fetcher is depth 0.
    std::string parent;  // The node it reads from; empty when rebuilt from a report.
    bool serves = true;  // Can serve its own copy: a follower that cannot only counts as a reader.
    // As a reader (kReading reports since its last claim): the source its stream reads now, how
    // far the bytes from it reached, that offset when it last advanced by min_progress_bytes
    // (or to the end), and when.
    std::string reading_from = {};
    uint64_t received = 0;
    uint64_t received_mark = 0;
    uint64_t reading_ms = 0;   // Its last kReading report.
    uint64_t advanced_ms = 0;  // 0: never advanced from reading_from.
  };
  // A source a member's complaint found stalled: no fetcher or source of the key until until_ms.
  struct Ban {
    std::string node_id;
    uint64_t until_ms = 0;
  };
  // Invariant: the fetcher is never among the followers.
  struct Entry {
    std::optional<Lease> lease;  // Empty when there is no fetcher (none yet, revoked or done).
    uint64_t total = 0;
    std::vector<Follower> followers;
    std::vector<Provider> done;  // Complete copies, until done_until_ms.
    uint64_t done_until_ms = 0;
    std::vector<Ban> bans;
  };
  enum class LeaseEnd {
    kReleased,  // The fetcher finished, or reads from another source now.
    kRevoked,   // Its download failed or stalled (counted in ClaimStats::revoked).
  };

  bool IsMember(std::string_view node_id) const { return !is_member_ || is_member_(node_id); }
  bool LeaseLive(const Lease& lease, uint64_t now_ms) const;
  // A member reader other than `except` reported bytes from `source` within reader_window_ms.
  bool ReadersPresent(const Entry& entry, std::string_view source, std::string_view except,
                      uint64_t now_ms) const;
  // A member reader other than `except` saw `source` advance within reclaim_stall_ms, and got
  // bytes from it beyond offset `beyond`.
  bool ConfirmedByOthers(const Entry& entry, std::string_view source, std::string_view except,
                         uint64_t beyond, uint64_t now_ms) const;
  static bool Banned(const Entry& entry, const Provider& node, uint64_t now_ms);
  // Bans `node_id` for the key (again: the ban is extended): a fetcher is revoked, a follower
  // serves nothing, a complete copy is forgotten.
  void BanSource(Entry& entry, std::string node_id, uint64_t now_ms);
  // Ends the lease if it is no longer live or its fetcher no member. A lease that ran out while
  // readers reported on it (they saw it stall, whatever it claimed) bans its fetcher for the key.
  void EndDeadLease(Entry& entry, uint64_t now_ms);
  // `asker` complains that `source_id` broke or stalled. True when the asker must be declined:
  // the source is the fetcher, and other readers see it advance.
  bool Complain(Entry& entry, const Provider& asker, const std::string& source_id, uint64_t now_ms);
  // Applies a reader's kReading report.
  void NoteReading(Entry& entry, const ProgressReport& report, const Provider& reader,
                   uint64_t now_ms);
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
  IsMemberFn is_member_;
  std::unordered_map<std::string, Entry> entries_;
  ClaimStats stats_;
};

}  // namespace spegel::cluster
