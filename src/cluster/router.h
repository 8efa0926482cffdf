// Router: content routing over the membership, a one-hop DHT. Every key (a digest "sha256:<hex>"
// or a tag key "registry/repo:tag") has R owners, the R nodes among (live members ∪ self) with the
// highest RendezvousScore(HashString(key), member node hash). A node announces its local keys to
// their owners; an owner keeps a bounded provider table (key → providers with an expiry); a lookup
// asks the owners in parallel and takes the first non-empty answer. The owner side's table is a
// ProviderTable (provider_table.h); this class is the client side and answers for the table.
//
// Owned by the node wiring (lead). Loop thread only: every method, every callback (transport
// completions, timers, lookup `done`). Membership changes arrive through OnMembershipChanged,
// which the wiring connects to Membership::SetListener.
//
// Announce protocol, client side:
// * Adds and removes are queued per owner and flushed options.flush_delay_ms later (at once when
//   an owner's queue reaches options.max_batch_keys; removes are flushed at once).
// * Every local key is re-sent to its owners every announce_ttl_ms / 2, in refresh_slices slices
//   spread evenly over that period (no bulk spike).
// * A failed announce marks the owner as failed in Membership and is retried with exponential
//   backoff (retry_initial_ms … retry_max_ms, max_attempts); after that the keys wait for the next
//   refresh.
// * On a join, a key's owners change only if the new member's cached score beats the R-th owner's
//   (O(1) per key); on a leave only the keys the leaver owned are recomputed. New owners get the
//   keys; nobody else gets a message (old owners' entries expire by TTL).
//
// Invariants: local_ holds only valid keys; each LocalKey's owners are sorted best first, hold at
// most `replicas` entries, and never name a node absent from (membership ∪ self) after
// OnMembershipChanged has run for that change.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "cluster/announce_batch.h"
#include "cluster/content_locator.h"
#include "cluster/provider_table.h"
#include "cluster/router_wire.h"
#include "loop/liveness.h"
#include "membership/membership.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

// The client side of the router API: the Router's announces and lookups, and the ClaimClient's
// claims and progress reports. Production: HTTP (HttpRouterTransport); simulation and unit tests:
// in-process fakes.
class RouterTransport {
 public:
  virtual ~RouterTransport() = default;
  // Sends `batch` to `owner`. `owner` and `batch` are only valid during the call (copy what is
  // needed). `done` runs exactly once on the loop thread, never inline.
  virtual void Announce(const Member& owner, const AnnounceBatch& batch,
                        std::function<void(Status)> done) = 0;
  // Asks `owner` for the providers of `key`. An owner that knows none answers an empty list (or
  // NotFound, treated the same). `done` runs exactly once on the loop thread, never inline; the
  // transport should bound its own wait, but Router::Lookup does not depend on it.
  virtual void Lookup(const Member& owner, const std::string& key,
                      std::function<void(Result<std::vector<Provider>>)> done) = 0;
  // Claims `request.key` at `owner` (its ClaimTable decides); the wait is bounded by timeout_ms.
  // A complete answer is Ok, whatever its verdict; an owner that cannot be reached or refuses is
  // an error. `done` runs exactly once on the loop thread, never inline.
  virtual void Claim(const Member& owner, const ClaimRequest& request, uint64_t timeout_ms,
                     std::function<void(Result<ClaimAnswer>)> done) = 0;
  // Sends progress `reports` to `owner`; `done` gets the keys whose fetch the owner revoked.
  // `done` runs exactly once on the loop thread, never inline.
  virtual void Progress(const Member& owner, const std::vector<ProgressReport>& reports,
                        std::function<void(Result<std::vector<std::string>>)> done) = 0;
};

struct RouterOptions {
  size_t replicas = 3;                       // R: owners per key (1..8).
  uint64_t announce_ttl_ms = 600'000;        // TTL we ask owners to keep our keys for.
  uint64_t max_provider_ttl_ms = 3'600'000;  // Owner side: cap on a sender's requested TTL.
  uint64_t flush_delay_ms = 20;              // Batching window for adds.
  size_t max_batch_keys = 5'000;             // Keys per announce message (≤ kMaxAnnounceKeys).
  size_t refresh_slices = 32;                // Refresh period ttl/2 is split into this many ticks.
  uint64_t retry_initial_ms = 500;           // Announce retry backoff: doubles up to retry_max_ms.
  uint64_t retry_max_ms = 30'000;
  int max_attempts = 5;         // Attempts per batch before waiting for refresh.
  size_t max_keys = 1'000'000;  // Owner side: keys in the provider table.
  // Owner side: beyond it non-members' entries are evicted first (provider_table.h).
  size_t max_providers_per_key = 32;
  uint64_t sweep_interval_ms = 1'000;  // Owner side: incremental expiry sweep period.
  size_t sweep_buckets_per_tick = 4'096;
  uint64_t negative_cache_ms = 500;  // A key found nowhere is answered empty this long.
  size_t max_negative_cache = 10'000;
};

struct RouterStats {
  uint64_t announce_messages = 0;  // Announce messages sent to remote owners.
  uint64_t announce_failures = 0;
  uint64_t keys_announced = 0;   // Key adds sent in those messages.
  uint64_t keys_withdrawn = 0;   // Key removes sent.
  uint64_t lookup_messages = 0;  // Lookup messages sent to remote owners.
  uint64_t lookup_failures = 0;  // Lookup messages that failed (error answers).
  uint64_t lookups = 0;          // Router::Lookup calls.
  uint64_t lookups_found = 0;
  uint64_t lookups_timed_out = 0;
  uint64_t negative_cache_hits = 0;
  uint64_t local_keys = 0;               // Keys we provide.
  uint64_t provider_keys = 0;            // Owner side: keys in the provider table.
  uint64_t provider_entries = 0;         // Owner side: (key, provider) entries.
  uint64_t bad_keys = 0;                 // Invalid keys skipped (local or announced).
  uint64_t rejected_batches = 0;         // HandleAnnounce batches refused as a whole.
  uint64_t table_full_drops = 0;         // Adds dropped because the table was at max_keys.
  uint64_t stranger_drops = 0;           // Non-members' adds dropped: the key was full of members.
  uint64_t untrusted_tag_providers = 0;  // Tag providers dropped: not a member at a bound address.
  uint64_t disowned_keys = 0;   // Owner side: keys dropped because a joiner now owns them instead.
  uint64_t disowned_bytes = 0;  // The provider table's bytes those drops freed.
  uint64_t memory_bytes = 0;    // Approximate bytes of routing state (not Membership).
};

class Router {
 public:
  // REQUIRES: scheduler, membership and transport outlive the Router; self.node_id is valid.
  Router(Scheduler* scheduler, Membership* membership, RouterTransport* transport, Provider self,
         RouterOptions options = {});
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Local content: the whole set (already filtered by the registry filters); diffs against the
  // previous set. Invalid keys are skipped and counted.
  void SetLocalKeys(const std::vector<std::string>& keys);
  // Incremental form of SetLocalKeys.
  void UpdateLocalKeys(const std::vector<std::string>& add, const std::vector<std::string>& remove);

  // Owner side (called by the router HTTP service; `sender` is built from the request's socket
  // address and headers, never from the body). InvalidArgument, and nothing applied, if the batch
  // has more than kMaxAnnounceKeys keys, a key longer than kMaxKeyBytes, or an invalid sender id;
  // other invalid keys are skipped and counted. Applies adds before removes.
  Status HandleAnnounce(const Provider& sender, const AnnounceBatch& batch);
  // Owner side: unexpired providers of `key` (self included), live members first.
  std::vector<Provider> HandleLookup(std::string_view key) const;

  // Client side: asks the owners in parallel (self answers from its own table without a message;
  // avoided owners are skipped unless all are avoided). `done` runs exactly once on the loop
  // thread, never inline, within timeout_ms: the first non-empty answer (self and avoided members
  // removed, live members first), or empty (not found, invalid key, or timeout). A key that every
  // owner answered empty for is answered empty without messages for negative_cache_ms.
  void Lookup(const std::string& key, uint64_t timeout_ms,
              std::function<void(std::vector<Provider>)> done);

  // Membership listener: recomputes the owners of affected local keys and announces them to new
  // owners; drops provider entries of members that left.
  void OnMembershipChanged(const std::vector<std::string>& joined,
                           const std::vector<std::string>& left);

  // On shutdown: sends removes for every local key to its owners now (best effort) and forgets
  // the local keys.
  void Withdraw();

  // This node now goes by `node_id` (Membership::SetSelfId first): every local key's owners are
  // recomputed and all of them are sent the key under the new id; what this node's own table
  // held under the old id is dropped. Remote owners' entries under the old id expire by TTL (or
  // go when that id leaves their membership).
  void RenameSelf(const std::string& node_id);
  // Every local key is sent to its owners again (this node's address changed: the owners learn
  // the new one from the announce's socket).
  void ReannounceAll();

  // The owners of `key` over the current membership, best first (self included when it is one).
  std::vector<std::string> OwnersOf(std::string_view key) const;

  RouterStats stats() const;
  const Provider& self() const { return self_; }

 private:
  struct Owner {
    uint64_t score;
    std::string node_id;
  };
  struct LocalKey {
    uint64_t hash;
    std::vector<Owner> owners;  // Best first.
  };
  struct PendingBatch {
    std::unordered_set<std::string> add;
    std::unordered_set<std::string> remove;
    int failures = 0;
    uint64_t not_before_ms = 0;
  };
  struct LookupState;

  std::vector<Owner> ComputeOwners(uint64_t key_hash) const;
  // Owner side: forgets the provider entries of keys that `joined` members now own instead.
  void DropDisownedKeys(const std::vector<std::string>& joined);
  void QueueAdd(const std::string& owner, const std::string& key);
  void QueueRemove(const std::string& owner, const std::string& key);
  void ScheduleFlush(uint64_t delay_ms);
  void Flush();
  void SendBatch(const std::string& owner, PendingBatch batch);
  void OnAnnounceDone(const std::string& owner, const AnnounceBatch& batch, int failures,
                      const Status& status);
  void RefreshTick();
  void FinishLookup(uint64_t id, std::vector<Provider> result);
  void OnLookupAnswer(uint64_t id, const std::string& owner, Result<std::vector<Provider>> answer);
  // What a lookup of `key` may hand the registry: never this node nor an avoided member; live
  // members first. For a tag (a key that is not a digest) only live members at an address they
  // are bound to: nothing checks a tag's answer but the provider's own word, so a stranger's
  // entry is dropped (counted in untrusted_tag_providers).
  std::vector<Provider> FilterForClient(std::string_view key, std::vector<Provider> providers);
  void NegativeCacheInsert(const std::string& key);

  Scheduler* scheduler_;
  Membership* membership_;
  RouterTransport* transport_;
  Provider self_;
  uint64_t self_hash_;
  RouterOptions options_;
  RouterStats stats_;
  Liveness liveness_;  // Transport callbacks do nothing once the Router is gone.

  // Client side.
  std::unordered_map<std::string, LocalKey> local_;
  std::unordered_map<std::string, PendingBatch> pending_;  // By owner node id.
  std::unique_ptr<ScheduledTask> flush_task_;
  uint64_t flush_at_ms_ = 0;
  std::unique_ptr<ScheduledTask> refresh_task_;
  size_t refresh_slice_ = 0;
  std::unordered_map<std::string, uint64_t> negative_;                  // key → expiry.
  std::unordered_map<uint64_t, std::unique_ptr<LookupState>> lookups_;  // In flight, by id.
  uint64_t next_lookup_id_ = 1;

  // Owner side.
  ProviderTable table_;
};

}  // namespace spegel::cluster
