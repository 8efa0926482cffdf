// ProviderLookups: the registry's side of "who has this key": one router round per key in flight,
// and a short positive cache in front of it.
//
// A pull asks for the same key more than once within a moment (HEAD then GET, a ranged retry,
// several clients starting the same image), and without this each ask costs a router round of
// up to --mirror-resolve-timeout. Here:
//   * Concurrent asks for one key share one round: the first starts it, the others wait for its
//     answer (and count as coalesced).
//   * A non-empty answer is kept for cache_ttl_ms and answers later asks without a round. Empty
//     answers are not kept here (the router has its own negative cache).
//   * Invalidate(node) drops every kept answer that names the node (a provider that failed or
//     served wrong bytes), and keeps any round in flight from being kept.
//   * At most max_cached_keys answers are kept; expired ones go first, then arbitrary ones.
//
// Threading: the scheduler's thread only (the loop thread). Every `done` runs once, on that
// thread, never inline; none runs after this object is destroyed (a `done` may destroy it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/content_locator.h"
#include "loop/liveness.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

struct ProviderLookupsOptions {
  uint64_t cache_ttl_ms = 2000;  // 0: no cache, only the sharing of rounds in flight.
  size_t max_cached_keys = 4096;
};

struct ProviderLookupsStats {
  uint64_t requests = 0;       // Find() calls.
  uint64_t router_rounds = 0;  // Rounds started (calls of the lookup function).
  uint64_t coalesced = 0;      // Asks that joined a round in flight.
  uint64_t cache_hits = 0;     // Asks answered from a kept answer.
  uint64_t invalidated = 0;    // Kept answers dropped by Invalidate().
  size_t cached_keys = 0;
};

class ProviderLookups {
 public:
  // One router round for `key`; `done` runs once on the scheduler's thread, never inline (as
  // Router::Lookup with the resolve timeout bound in).
  using LookupFn =
      std::function<void(const std::string& key, std::function<void(std::vector<Provider>)> done)>;

  // REQUIRES: `scheduler` outlives this object.
  ProviderLookups(Scheduler* scheduler, LookupFn lookup, ProviderLookupsOptions options = {});
  ~ProviderLookups();
  ProviderLookups(const ProviderLookups&) = delete;
  ProviderLookups& operator=(const ProviderLookups&) = delete;

  // The providers of `key`, best first, as the round (or the kept answer) gave them.
  void Find(const std::string& key, std::function<void(std::vector<Provider>)> done);
  // Drops kept answers naming `node_id`; rounds in flight are answered but not kept.
  void Invalidate(const std::string& node_id);

  ProviderLookupsStats stats() const;

 private:
  struct Round {
    std::vector<std::function<void(std::vector<Provider>)>> waiters;
    bool keep = true;  // Cleared by Invalidate() while the round is in flight.
  };
  struct Kept {
    std::vector<Provider> providers;
    uint64_t expires_ms = 0;
  };

  void OnAnswer(const std::string& key, std::vector<Provider> providers);
  void Keep(const std::string& key, const std::vector<Provider>& providers);
  // Runs `fn` in a later turn of the scheduler; dropped if this object goes first.
  void Later(std::function<void()> fn);

  Scheduler* scheduler_;
  LookupFn lookup_;
  ProviderLookupsOptions options_;
  ProviderLookupsStats stats_;
  std::unordered_map<std::string, Round> rounds_;  // In flight, by key.
  std::unordered_map<std::string, Kept> kept_;
  std::unordered_map<uint64_t, std::unique_ptr<ScheduledTask>> deferred_;  // Cache-hit answers.
  uint64_t next_deferred_ = 1;
  Liveness liveness_;
};

}  // namespace spegel::cluster
