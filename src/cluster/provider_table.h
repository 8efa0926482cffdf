// ProviderTable: the owner side of content routing. For each key this node owns, the nodes that
// announced they provide it, each with an expiry (see router.h for the protocol).
//
// Bounded: at most max_keys keys (adds of new keys beyond it are dropped and counted) and
// max_providers_per_key providers per key. A sender's requested TTL is capped at
// max_provider_ttl_ms.
//
// Eviction from a full key (the is-member predicate: live members, this node included) frees
// room in this order:
//   1. a non-member's entry: from the address that holds the most non-member entries of the key,
//      the newest id (the one this table learned last). Ids made up in bulk go first, and one
//      address cannot push out strangers at other addresses before its own.
//   2. only for a member's add: the entry expiring first.
// A non-member's add to a key full of members' entries is dropped and counted (stranger_drops):
// a stranger never evicts a member, however many ids it announces under or however long a TTL
// it asks for. Expired entries are never answered and are
// swept incrementally (sweep_buckets_per_tick hash buckets every sweep_interval_ms, enough to pass
// over the whole table about once a minute), so no tick walks the whole table.
//
// Providers are interned: a (key, provider) entry points at one shared record per node, and the
// latest announce updates that node's address and port for every key.
//
// Ownership and threading: owned by the Router; loop thread only. The sweep timer runs on the
// scheduler and is cancelled by destruction. REQUIRES: `scheduler` outlives the table.
#pragma once

#include <cstddef>
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
#include "membership/scheduler.h"

namespace spegel::cluster {

struct ProviderTableOptions {
  uint64_t default_ttl_ms = 600'000;         // For batches that ask for none (ttl_ms 0).
  uint64_t max_provider_ttl_ms = 3'600'000;  // Cap on a sender's requested TTL.
  size_t max_keys = 1'000'000;
  size_t max_providers_per_key = 32;  // >= 1.
  uint64_t sweep_interval_ms = 1'000;
  size_t sweep_buckets_per_tick = 4'096;
};

struct ProviderTableStats {
  uint64_t bad_keys = 0;          // Invalid keys skipped in accepted batches.
  uint64_t rejected_batches = 0;  // Batches refused as a whole.
  uint64_t table_full_drops = 0;  // Adds dropped because the table was at max_keys.
  uint64_t stranger_drops = 0;    // Non-members' adds dropped: their key was full of members.
};

class ProviderTable {
 public:
  // Whether `node_id` is a live member (this node counts). Called on eviction only, never kept.
  using IsMemberFn = std::function<bool(std::string_view node_id)>;

  // Without `is_member` every node counts as a member (eviction by expiry alone).
  ProviderTable(Scheduler* scheduler, ProviderTableOptions options, IsMemberFn is_member = {});
  ~ProviderTable();
  ProviderTable(const ProviderTable&) = delete;
  ProviderTable& operator=(const ProviderTable&) = delete;

  // Applies `sender`'s announce (built from the request's socket address and headers, never
  // from the body). InvalidArgument, and nothing applied, if the batch has more than
  // kMaxAnnounceKeys keys, a key longer than kMaxKeyBytes, or an invalid sender id; other invalid
  // keys are skipped and counted. Applies adds before removes.
  Status Apply(const Provider& sender, const AnnounceBatch& batch);
  // The unexpired providers of `key`, in table order.
  std::vector<Provider> Find(std::string_view key) const;
  // Forgets every entry of these nodes (members that left).
  void Drop(const std::unordered_set<std::string>& node_ids);
  // Forgets every key `disowned(key)` is true of (keys this node no longer owns). O(keys) calls
  // of `disowned`; the bytes are those HeapBytes() counted for the dropped keys' rows.
  struct Dropped {
    size_t keys = 0;
    size_t bytes = 0;
  };
  Dropped DropKeys(const std::function<bool(const std::string& key)>& disowned);

  size_t keys() const { return table_.size(); }
  size_t entries() const { return entries_; }
  const ProviderTableStats& stats() const { return stats_; }
  // Approximate heap bytes held (not counting sizeof(ProviderTable)).
  size_t HeapBytes() const;

 private:
  struct ProviderRec {
    Provider provider;
    uint32_t refs = 0;
    uint64_t seq = 0;  // When the table learned this id (interning order): higher is newer.
  };
  struct Entry {
    uint32_t provider;  // Index into providers_.
    uint64_t expires_at_ms;
  };

  bool IsMember(std::string_view node_id) const { return !is_member_ || is_member_(node_id); }
  // HeapBytes() of one key's row: its hash node, key and entries.
  static size_t RowBytes(const std::string& key, const std::vector<Entry>& entries);
  // The entry of full `entries` to evict for an add by a member (`for_member`) or not, per the
  // order above; entries.size() when the add must be dropped instead.
  size_t EvictionVictim(const std::vector<Entry>& entries, bool for_member) const;
  uint32_t InternProvider(const Provider& p);
  void ReleaseProvider(uint32_t index);
  void EraseEntry(std::vector<Entry>& entries, size_t i);
  void EnsureSweep();
  void SweepTick();

  Scheduler* scheduler_;
  ProviderTableOptions options_;
  IsMemberFn is_member_;
  ProviderTableStats stats_;
  std::unordered_map<std::string, std::vector<Entry>> table_;
  size_t entries_ = 0;
  std::vector<ProviderRec> providers_;
  std::vector<uint32_t> free_providers_;
  std::unordered_map<std::string, uint32_t> provider_index_;  // node id → providers_ index.
  uint64_t next_seq_ = 0;
  std::unique_ptr<ScheduledTask> sweep_task_;
  size_t sweep_cursor_ = 0;
};

}  // namespace spegel::cluster
