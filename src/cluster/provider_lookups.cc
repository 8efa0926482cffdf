#include "cluster/provider_lookups.h"

#include <algorithm>
#include <utility>

namespace spegel::cluster {

ProviderLookups::ProviderLookups(Scheduler* scheduler, LookupFn lookup,
                                 ProviderLookupsOptions options)
    : scheduler_(scheduler), lookup_(std::move(lookup)), options_(options) {}

ProviderLookups::~ProviderLookups() { liveness_.Revoke(); }

void ProviderLookups::Find(const std::string& key,
                           std::function<void(std::vector<Provider>)> done) {
  ++stats_.requests;
  if (auto kept = kept_.find(key); kept != kept_.end()) {
    if (kept->second.expires_ms > scheduler_->NowMs()) {
      ++stats_.cache_hits;
      Later([done = std::move(done), providers = kept->second.providers]() mutable {
        done(std::move(providers));
      });
      return;
    }
    kept_.erase(kept);
  }
  if (auto round = rounds_.find(key); round != rounds_.end()) {
    ++stats_.coalesced;
    round->second.waiters.push_back(std::move(done));
    return;
  }
  rounds_[key].waiters.push_back(std::move(done));
  ++stats_.router_rounds;
  lookup_(key, [this, alive = liveness_.token(), key](std::vector<Provider> providers) {
    if (alive.alive()) OnAnswer(key, std::move(providers));
  });
}

void ProviderLookups::OnAnswer(const std::string& key, std::vector<Provider> providers) {
  auto it = rounds_.find(key);
  if (it == rounds_.end()) return;
  Round round = std::move(it->second);
  rounds_.erase(it);
  if (round.keep && !providers.empty()) Keep(key, providers);
  // A waiter may call Find() again or destroy this object: check after each one.
  Liveness::Token alive = liveness_.token();
  const size_t last = round.waiters.size() - 1;  // A round has at least its first asker.
  for (size_t i = 0; i < last; ++i) {
    round.waiters[i](providers);
    if (!alive.alive()) return;
  }
  round.waiters[last](std::move(providers));
}

void ProviderLookups::Keep(const std::string& key, const std::vector<Provider>& providers) {
  if (options_.cache_ttl_ms == 0 || options_.max_cached_keys == 0) return;
  const uint64_t now = scheduler_->NowMs();
  if (kept_.size() >= options_.max_cached_keys) {
    for (auto it = kept_.begin(); it != kept_.end();) {
      it = it->second.expires_ms <= now ? kept_.erase(it) : std::next(it);
    }
    while (kept_.size() >= options_.max_cached_keys) kept_.erase(kept_.begin());
  }
  kept_[key] = Kept{providers, now + options_.cache_ttl_ms};
}

void ProviderLookups::Invalidate(const std::string& node_id) {
  auto names = [&](const std::vector<Provider>& providers) {
    return std::any_of(providers.begin(), providers.end(),
                       [&](const Provider& p) { return p.node_id == node_id; });
  };
  for (auto it = kept_.begin(); it != kept_.end();) {
    if (names(it->second.providers)) {
      ++stats_.invalidated;
      it = kept_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [key, round] : rounds_) round.keep = false;
}

void ProviderLookups::Later(std::function<void()> fn) {
  const uint64_t id = next_deferred_++;
  deferred_[id] = scheduler_->After(0, [this, id, fn = std::move(fn)]() mutable {
    auto run = std::move(fn);
    deferred_.erase(id);  // Destroys this task from its own callback: allowed (scheduler.h).
    run();
  });
}

ProviderLookupsStats ProviderLookups::stats() const {
  ProviderLookupsStats s = stats_;
  s.cached_keys = kept_.size();
  return s;
}

}  // namespace spegel::cluster
