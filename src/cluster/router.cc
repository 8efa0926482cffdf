#include "cluster/router.h"

#include <algorithm>
#include <utility>

#include "base/hash.h"
#include "base/log.h"
#include "cluster/rendezvous.h"
#include "oci/digest.h"

namespace spegel::cluster {

namespace {

constexpr size_t kMaxReplicas = 8;

// Owner order: higher score first; equal scores (practically never) by node id.
bool Better(uint64_t score, const std::string& id, uint64_t other_score,
            const std::string& other_id) {
  return score != other_score ? score > other_score : id < other_id;
}

size_t HeapBytes(const std::string& s) { return s.size() > 15 ? s.capacity() + 1 : 0; }

ProviderTableOptions TableOptions(const RouterOptions& o) {
  ProviderTableOptions t;
  t.default_ttl_ms = o.announce_ttl_ms;
  t.max_provider_ttl_ms = o.max_provider_ttl_ms;
  t.max_keys = o.max_keys;
  t.max_providers_per_key = o.max_providers_per_key;
  t.sweep_interval_ms = o.sweep_interval_ms;
  t.sweep_buckets_per_tick = o.sweep_buckets_per_tick;
  return t;
}

}  // namespace

struct Router::LookupState {
  std::string key;
  std::function<void(std::vector<Provider>)> done;
  size_t outstanding = 0;
  bool any_failed = false;
  std::unique_ptr<ScheduledTask> timer;  // Timeout, or the deferred answer.
};

Router::Router(Scheduler* scheduler, Membership* membership, RouterTransport* transport,
               Provider self, RouterOptions options)
    : scheduler_(scheduler),
      membership_(membership),
      transport_(transport),
      self_(std::move(self)),
      self_hash_(HashString(self_.node_id)),
      options_(options),
      table_(scheduler, TableOptions(options), [membership](std::string_view node_id) {
        return membership->IsSelfOrMember(node_id);
      }) {
  options_.replicas = std::clamp<size_t>(options_.replicas, 1, kMaxReplicas);
  options_.max_batch_keys = std::clamp<size_t>(options_.max_batch_keys, 1, kMaxAnnounceKeys);
  options_.refresh_slices = std::max<size_t>(options_.refresh_slices, 1);
  options_.max_providers_per_key = std::max<size_t>(options_.max_providers_per_key, 1);
}

Router::~Router() {
  liveness_.Revoke();
  lookups_.clear();
}

std::vector<Router::Owner> Router::ComputeOwners(uint64_t key_hash) const {
  struct Cand {
    uint64_t score;
    const std::string* id;
  };
  const size_t r = options_.replicas;
  if (r == 0 || r > kMaxReplicas) return {};  // Excluded by the constructor; helps the compiler.
  Cand best[kMaxReplicas];
  size_t n = 0;
  auto consider = [&](uint64_t score, const std::string* id) {
    if (n == r) {
      if (!Better(score, *id, best[r - 1].score, *best[r - 1].id)) return;
      --n;
    }
    size_t i = n;
    while (i > 0 && Better(score, *id, best[i - 1].score, *best[i - 1].id)) {
      best[i] = best[i - 1];
      --i;
    }
    best[i] = Cand{score, id};
    ++n;
  };
  consider(RendezvousScore(key_hash, self_hash_), &self_.node_id);
  const auto& live = membership_->Live();
  const auto& hashes = membership_->LiveHashes();
  // Hot loop over a contiguous array; the member is only touched when it makes the top R.
  uint64_t worst = 0;  // Score of the current R-th owner once n == r.
  for (size_t i = 0; i < hashes.size(); ++i) {
    uint64_t score = RendezvousScore(key_hash, hashes[i]);
    if (n == r && score < worst) continue;
    const Member* m = live[i];
    if (hashes[i] == self_hash_ && m->info.node_id == self_.node_id) continue;
    consider(score, &m->info.node_id);
    if (n == r) worst = best[r - 1].score;
  }
  std::vector<Owner> owners;
  owners.reserve(n);
  for (size_t i = 0; i < n; ++i) owners.push_back(Owner{best[i].score, *best[i].id});
  return owners;
}

void Router::RenameSelf(const std::string& node_id) {
  const std::string old_id = self_.node_id;
  self_.node_id = node_id;
  self_hash_ = HashString(node_id);
  pending_.erase(old_id);
  table_.Drop({old_id});
  ReannounceAll();
}

void Router::ReannounceAll() {
  negative_.clear();
  for (auto& [key, lk] : local_) {
    lk.owners = ComputeOwners(lk.hash);
    for (const auto& o : lk.owners) QueueAdd(o.node_id, key);
  }
}

std::vector<std::string> Router::OwnersOf(std::string_view key) const {
  std::vector<std::string> ids;
  for (auto& o : ComputeOwners(HashString(key))) ids.push_back(std::move(o.node_id));
  return ids;
}

// ---- Client side: local keys and announcements ----

void Router::SetLocalKeys(const std::vector<std::string>& keys) {
  std::unordered_set<std::string_view> wanted;
  wanted.reserve(keys.size());
  std::vector<std::string> add;
  for (const auto& k : keys) {
    if (!IsValidRoutingKey(k)) {
      ++stats_.bad_keys;
      continue;
    }
    if (wanted.insert(k).second && local_.find(k) == local_.end()) add.push_back(k);
  }
  std::vector<std::string> remove;
  for (const auto& [k, lk] : local_) {
    if (wanted.find(k) == wanted.end()) remove.push_back(k);
  }
  UpdateLocalKeys(add, remove);
}

void Router::UpdateLocalKeys(const std::vector<std::string>& add,
                             const std::vector<std::string>& remove) {
  for (const auto& k : remove) {
    auto it = local_.find(k);
    if (it == local_.end()) continue;
    for (const auto& o : it->second.owners) QueueRemove(o.node_id, k);
    local_.erase(it);
  }
  for (const auto& k : add) {
    if (!IsValidRoutingKey(k)) {
      ++stats_.bad_keys;
      continue;
    }
    if (local_.find(k) != local_.end()) continue;
    LocalKey lk;
    lk.hash = HashString(k);
    lk.owners = ComputeOwners(lk.hash);
    for (const auto& o : lk.owners) QueueAdd(o.node_id, k);
    local_.emplace(k, std::move(lk));
  }
  if (!local_.empty() && !refresh_task_) {
    uint64_t tick = std::max<uint64_t>(1, options_.announce_ttl_ms / 2 / options_.refresh_slices);
    refresh_task_ = scheduler_->After(tick, [this] { RefreshTick(); });
  }
}

void Router::QueueAdd(const std::string& owner, const std::string& key) {
  PendingBatch& b = pending_[owner];
  b.remove.erase(key);
  b.add.insert(key);
  ScheduleFlush(
      b.add.size() + b.remove.size() >= options_.max_batch_keys ? 0 : options_.flush_delay_ms);
}

void Router::QueueRemove(const std::string& owner, const std::string& key) {
  PendingBatch& b = pending_[owner];
  b.add.erase(key);
  b.remove.insert(key);
  ScheduleFlush(0);  // Withdrawals go out at once.
}

void Router::ScheduleFlush(uint64_t delay_ms) {
  uint64_t at = scheduler_->NowMs() + delay_ms;
  if (flush_task_ && flush_at_ms_ <= at) return;
  flush_at_ms_ = at;
  flush_task_ = scheduler_->After(delay_ms, [this] { Flush(); });
}

void Router::Flush() {
  auto keep = std::move(flush_task_);  // May be the running task; destroyed when we return.
  flush_at_ms_ = 0;
  uint64_t now = scheduler_->NowMs();
  uint64_t next = UINT64_MAX;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.not_before_ms > now) {
      next = std::min(next, it->second.not_before_ms);
      ++it;
      continue;
    }
    std::string owner = it->first;
    PendingBatch batch = std::move(it->second);
    it = pending_.erase(it);
    SendBatch(owner, std::move(batch));
  }
  if (next != UINT64_MAX) ScheduleFlush(next - now);
}

void Router::SendBatch(const std::string& owner, PendingBatch batch) {
  const Member* member = nullptr;
  bool to_self = owner == self_.node_id;
  if (!to_self) {
    member = membership_->Find(owner);
    if (member == nullptr) return;  // Left; its replacement gets the keys via OnMembershipChanged.
  }
  // Split into messages of at most max_batch_keys keys, removes first (they are urgent).
  std::vector<std::string> removes(batch.remove.begin(), batch.remove.end());
  std::vector<std::string> adds(batch.add.begin(), batch.add.end());
  size_t ri = 0;
  size_t ai = 0;
  while (ri < removes.size() || ai < adds.size()) {
    auto piece = std::make_shared<AnnounceBatch>();
    piece->ttl_ms = options_.announce_ttl_ms;
    while (ri < removes.size() && piece->remove.size() < options_.max_batch_keys) {
      piece->remove.push_back(std::move(removes[ri++]));
    }
    while (ai < adds.size() && piece->add.size() + piece->remove.size() < options_.max_batch_keys) {
      piece->add.push_back(std::move(adds[ai++]));
    }
    if (to_self) {
      HandleAnnounce(self_, *piece);
      continue;
    }
    ++stats_.announce_messages;
    stats_.keys_announced += piece->add.size();
    stats_.keys_withdrawn += piece->remove.size();
    Liveness::Token alive = liveness_.token();
    int failures = batch.failures;
    transport_->Announce(*member, *piece,
                         [this, alive, owner, piece, failures](const Status& status) {
                           if (!alive.alive()) return;
                           OnAnnounceDone(owner, *piece, failures, status);
                         });
  }
}

void Router::OnAnnounceDone(const std::string& owner, const AnnounceBatch& batch, int failures,
                            const Status& status) {
  if (status.ok()) return;
  ++stats_.announce_failures;
  membership_->ReportFailure(owner);
  ++failures;
  if (failures >= options_.max_attempts) {
    LOG_DEBUG("announce dropped after retries")
        .Str("owner", owner)
        .Int("keys", static_cast<int64_t>(batch.add.size() + batch.remove.size()))
        .Str("error", status.ToString());
    return;
  }
  if (membership_->Find(owner) == nullptr) return;
  PendingBatch& b = pending_[owner];
  for (const auto& k : batch.add) {
    auto it = local_.find(k);
    if (it == local_.end()) continue;
    for (const auto& o : it->second.owners) {
      if (o.node_id == owner && b.remove.count(k) == 0) b.add.insert(k);
    }
  }
  for (const auto& k : batch.remove) {
    if (local_.find(k) == local_.end() && b.add.count(k) == 0) b.remove.insert(k);
  }
  if (b.add.empty() && b.remove.empty()) {
    pending_.erase(owner);
    return;
  }
  uint64_t backoff = options_.retry_initial_ms;
  for (int i = 1; i < failures && backoff < options_.retry_max_ms; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.retry_max_ms);
  b.failures = std::max(b.failures, failures);
  b.not_before_ms = scheduler_->NowMs() + backoff;
  ScheduleFlush(backoff);
}

void Router::RefreshTick() {
  auto keep = std::move(refresh_task_);
  if (local_.empty()) return;
  size_t slices = options_.refresh_slices;
  size_t slice = refresh_slice_++ % slices;
  for (const auto& [k, lk] : local_) {
    if (lk.hash % slices != slice) continue;
    for (const auto& o : lk.owners) QueueAdd(o.node_id, k);
  }
  uint64_t tick = std::max<uint64_t>(1, options_.announce_ttl_ms / 2 / slices);
  refresh_task_ = scheduler_->After(tick, [this] { RefreshTick(); });
}

void Router::OnMembershipChanged(const std::vector<std::string>& joined,
                                 const std::vector<std::string>& left) {
  if (!left.empty()) {
    std::unordered_set<std::string> gone(left.begin(), left.end());
    gone.erase(self_.node_id);
    table_.Drop(gone);
    for (const auto& id : gone) pending_.erase(id);
    // Only keys a leaver owned are recomputed; the replacement owners get them.
    for (auto& [k, lk] : local_) {
      bool affected = false;
      for (const auto& o : lk.owners) affected = affected || gone.count(o.node_id) > 0;
      if (!affected) continue;
      std::vector<Owner> fresh = ComputeOwners(lk.hash);
      for (const auto& o : fresh) {
        bool had = std::any_of(lk.owners.begin(), lk.owners.end(),
                               [&](const Owner& old) { return old.node_id == o.node_id; });
        if (!had) QueueAdd(o.node_id, k);
      }
      lk.owners = std::move(fresh);
    }
  }
  DropDisownedKeys(joined);
  for (const auto& id : joined) {
    if (id == self_.node_id) continue;
    const Member* m = membership_->Find(id);
    if (m == nullptr) continue;
    const size_t r = options_.replicas;
    for (auto& [k, lk] : local_) {
      auto& owners = lk.owners;
      auto pos = std::find_if(owners.begin(), owners.end(),
                              [&](const Owner& o) { return o.node_id == id; });
      if (pos != owners.end()) {
        QueueAdd(id, k);  // A restart (or a leave recompute already chose it): its table is new.
        continue;
      }
      uint64_t score = RendezvousScore(lk.hash, m->node_hash);
      if (owners.size() == r && !Better(score, id, owners.back().score, owners.back().node_id)) {
        continue;
      }
      if (owners.size() == r) owners.pop_back();
      auto at = std::find_if(owners.begin(), owners.end(),
                             [&](const Owner& o) { return Better(score, id, o.score, o.node_id); });
      owners.insert(at, Owner{score, id});
      QueueAdd(id, k);
    }
  }
}

void Router::DropDisownedKeys(const std::vector<std::string>& joined) {
  // Only a join takes ownership away. A key stays ours unless a joiner now outranks us for it;
  // only for those keys are the owners computed again (rendezvous: a joiner outranks us for about
  // rank/members of our keys).
  std::vector<std::pair<uint64_t, const std::string*>> joiners;
  for (const auto& id : joined) {
    if (id == self_.node_id) continue;
    const Member* m = membership_->Find(id);
    if (m != nullptr) joiners.emplace_back(m->node_hash, &m->info.node_id);
  }
  if (joiners.empty() || table_.keys() == 0) return;
  const ProviderTable::Dropped dropped = table_.DropKeys([&](const std::string& key) {
    const uint64_t hash = HashString(key);
    const uint64_t own = RendezvousScore(hash, self_hash_);
    const bool outranked = std::any_of(joiners.begin(), joiners.end(), [&](const auto& j) {
      return Better(RendezvousScore(hash, j.first), *j.second, own, self_.node_id);
    });
    if (!outranked) return false;
    const std::vector<Owner> owners = ComputeOwners(hash);
    return std::none_of(owners.begin(), owners.end(),
                        [&](const Owner& o) { return o.node_id == self_.node_id; });
  });
  stats_.disowned_keys += dropped.keys;
  stats_.disowned_bytes += dropped.bytes;
}

void Router::Withdraw() {
  for (const auto& [k, lk] : local_) {
    for (const auto& o : lk.owners) QueueRemove(o.node_id, k);
  }
  local_.clear();
  refresh_task_.reset();
  Flush();
}

// ---- Owner side: answered from the provider table ----

std::vector<Provider> Router::HandleLookup(std::string_view key) const {
  std::vector<Provider> out = table_.Find(key);
  std::stable_partition(out.begin(), out.end(), [&](const Provider& p) {
    return p.node_id == self_.node_id || membership_->Find(p.node_id) != nullptr;
  });
  return out;
}

Status Router::HandleAnnounce(const Provider& sender, const AnnounceBatch& batch) {
  return table_.Apply(sender, batch);
}

// ---- Client side: lookups ----

std::vector<Provider> Router::FilterForClient(std::string_view key,
                                              std::vector<Provider> providers) {
  const bool tag = !oci::Digest::Parse(key).ok();
  std::erase_if(providers, [&](const Provider& p) {
    if (p.node_id == self_.node_id) return true;
    const Member* m = membership_->Find(p.node_id);
    if (tag && (m == nullptr || std::find(m->bound_addresses.begin(), m->bound_addresses.end(),
                                          p.address) == m->bound_addresses.end())) {
      ++stats_.untrusted_tag_providers;
      return true;
    }
    return m != nullptr && membership_->IsAvoided(*m);
  });
  std::stable_partition(providers.begin(), providers.end(),
                        [&](const Provider& p) { return membership_->Find(p.node_id) != nullptr; });
  return providers;
}

void Router::NegativeCacheInsert(const std::string& key) {
  if (options_.negative_cache_ms == 0) return;
  uint64_t now = scheduler_->NowMs();
  if (negative_.size() >= options_.max_negative_cache) {
    std::erase_if(negative_, [&](const auto& kv) { return kv.second <= now; });
    if (negative_.size() >= options_.max_negative_cache) negative_.clear();
  }
  negative_[key] = now + options_.negative_cache_ms;
}

void Router::FinishLookup(uint64_t id, std::vector<Provider> result) {
  auto it = lookups_.find(id);
  if (it == lookups_.end()) return;
  std::unique_ptr<LookupState> state = std::move(it->second);
  lookups_.erase(it);
  if (!result.empty()) ++stats_.lookups_found;
  auto done = std::move(state->done);
  state.reset();  // Cancels the timer (possibly the one running now: allowed).
  done(std::move(result));
}

void Router::Lookup(const std::string& key, uint64_t timeout_ms,
                    std::function<void(std::vector<Provider>)> done) {
  ++stats_.lookups;
  uint64_t id = next_lookup_id_++;
  auto owned = std::make_unique<LookupState>();
  LookupState& state = *owned;
  state.key = key;
  state.done = std::move(done);
  lookups_.emplace(id, std::move(owned));
  auto finish_later = [&](std::vector<Provider> result) {
    state.timer = scheduler_->After(0, [this, id, r = std::move(result)]() mutable {
      FinishLookup(id, std::move(r));
    });
  };
  if (!IsValidRoutingKey(key)) return finish_later({});
  uint64_t now = scheduler_->NowMs();
  auto neg = negative_.find(key);
  if (neg != negative_.end()) {
    if (neg->second > now) {
      ++stats_.negative_cache_hits;
      return finish_later({});
    }
    negative_.erase(neg);
  }
  std::vector<Owner> owners = ComputeOwners(HashString(key));
  bool self_owner = false;
  std::vector<const Member*> remotes;
  std::vector<const Member*> avoided;
  for (const auto& o : owners) {
    if (o.node_id == self_.node_id) {
      self_owner = true;
      continue;
    }
    const Member* m = membership_->Find(o.node_id);
    if (m == nullptr) continue;
    (membership_->IsAvoided(*m) ? avoided : remotes).push_back(m);
  }
  if (remotes.empty()) remotes = std::move(avoided);
  if (self_owner) {
    std::vector<Provider> local = FilterForClient(key, HandleLookup(key));
    if (!local.empty() || remotes.empty()) {
      if (local.empty()) NegativeCacheInsert(key);
      return finish_later(std::move(local));
    }
  }
  if (remotes.empty()) return finish_later({});
  state.outstanding = remotes.size();
  state.timer = scheduler_->After(timeout_ms, [this, id] {
    ++stats_.lookups_timed_out;
    FinishLookup(id, {});
  });
  Liveness::Token alive = liveness_.token();
  for (const Member* m : remotes) {
    ++stats_.lookup_messages;
    std::string owner = m->info.node_id;
    transport_->Lookup(*m, key, [this, alive, id, owner](Result<std::vector<Provider>> answer) {
      if (!alive.alive()) return;
      OnLookupAnswer(id, owner, std::move(answer));
    });
  }
}

void Router::OnLookupAnswer(uint64_t id, const std::string& owner,
                            Result<std::vector<Provider>> answer) {
  bool failed = !answer.ok() && !answer.status().IsNotFound();
  if (failed) {
    ++stats_.lookup_failures;
    membership_->ReportFailure(owner);
  }
  auto it = lookups_.find(id);
  if (it == lookups_.end()) return;  // Already answered or timed out.
  LookupState& state = *it->second;
  --state.outstanding;
  if (answer.ok()) {
    std::vector<Provider> found = FilterForClient(state.key, std::move(answer).value());
    if (!found.empty()) return FinishLookup(id, std::move(found));
  }
  state.any_failed = state.any_failed || failed;
  if (state.outstanding == 0) {
    if (!state.any_failed) NegativeCacheInsert(state.key);
    FinishLookup(id, {});
  }
}

// ---- Stats ----

RouterStats Router::stats() const {
  RouterStats s = stats_;
  s.local_keys = local_.size();
  s.provider_keys = table_.keys();
  s.provider_entries = table_.entries();
  s.bad_keys += table_.stats().bad_keys;
  s.rejected_batches += table_.stats().rejected_batches;
  s.table_full_drops += table_.stats().table_full_drops;
  s.stranger_drops += table_.stats().stranger_drops;
  constexpr size_t kNode = 16;  // Hash-node link and cached hash.
  size_t bytes = sizeof(*this);
  bytes += local_.bucket_count() * sizeof(void*);
  for (const auto& [k, lk] : local_) {
    bytes += kNode + sizeof(std::string) + sizeof(LocalKey) + HeapBytes(k);
    bytes += lk.owners.capacity() * sizeof(Owner);
    for (const auto& o : lk.owners) bytes += HeapBytes(o.node_id);
  }
  bytes += table_.HeapBytes();
  for (const auto& [owner, b] : pending_) {
    bytes += kNode + sizeof(std::string) + sizeof(PendingBatch) + HeapBytes(owner);
    bytes += (b.add.size() + b.remove.size()) * (kNode + sizeof(std::string) + 8);
  }
  bytes += negative_.size() * (kNode + sizeof(std::string) + 8);
  bytes += lookups_.size() * (kNode + sizeof(LookupState) + 8);
  s.memory_bytes = bytes;
  return s;
}

}  // namespace spegel::cluster
