#include "cluster/provider_table.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "membership/member.h"

namespace spegel::cluster {
namespace {

constexpr uint32_t kNoProvider = UINT32_MAX;

size_t StringHeapBytes(const std::string& s) { return s.size() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

bool IsValidRoutingKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  for (unsigned char c : key) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

ProviderTable::ProviderTable(Scheduler* scheduler, ProviderTableOptions options,
                             IsMemberFn is_member)
    : scheduler_(scheduler), options_(options), is_member_(std::move(is_member)) {
  options_.max_providers_per_key = std::max<size_t>(options_.max_providers_per_key, 1);
}

ProviderTable::~ProviderTable() = default;

uint32_t ProviderTable::InternProvider(const Provider& p) {
  auto it = provider_index_.find(p.node_id);
  if (it != provider_index_.end()) {
    // The latest announce carries the node's current socket address.
    Provider& stored = providers_[it->second].provider;
    if (stored.address != p.address) stored.address = p.address;
    stored.registry_port = p.registry_port;
    return it->second;
  }
  uint32_t index;
  if (!free_providers_.empty()) {
    index = free_providers_.back();
    free_providers_.pop_back();
    providers_[index] = ProviderRec{p, 0, ++next_seq_};
  } else {
    index = static_cast<uint32_t>(providers_.size());
    providers_.push_back(ProviderRec{p, 0, ++next_seq_});
  }
  provider_index_.emplace(p.node_id, index);
  return index;
}

void ProviderTable::ReleaseProvider(uint32_t index) {
  ProviderRec& rec = providers_[index];
  if (rec.refs > 0) --rec.refs;
  if (rec.refs > 0) return;
  provider_index_.erase(rec.provider.node_id);
  rec.provider = Provider{};
  free_providers_.push_back(index);
}

size_t ProviderTable::EvictionVictim(const std::vector<Entry>& entries, bool for_member) const {
  // Non-members' entries, counted by address: a key holds at most max_providers_per_key.
  std::unordered_map<std::string_view, size_t> per_address;
  std::vector<bool> stranger(entries.size(), false);
  for (size_t i = 0; i < entries.size(); ++i) {
    const Provider& p = providers_[entries[i].provider].provider;
    if (IsMember(p.node_id)) continue;
    stranger[i] = true;
    ++per_address[p.address];
  }
  size_t victim = entries.size();
  size_t victim_count = 0;
  uint64_t victim_seq = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!stranger[i]) continue;
    const ProviderRec& rec = providers_[entries[i].provider];
    const size_t count = per_address[rec.provider.address];
    if (victim == entries.size() || count > victim_count ||
        (count == victim_count && rec.seq > victim_seq)) {
      victim = i;
      victim_count = count;
      victim_seq = rec.seq;
    }
  }
  if (victim != entries.size() || !for_member) return victim;
  auto oldest = std::min_element(entries.begin(), entries.end(),
                                 [](const Entry& a, const Entry& b) {
                                   return a.expires_at_ms < b.expires_at_ms;
                                 });
  return static_cast<size_t>(oldest - entries.begin());
}

void ProviderTable::EraseEntry(std::vector<Entry>& entries, size_t i) {
  ReleaseProvider(entries[i].provider);
  entries[i] = entries.back();
  entries.pop_back();
  --entries_;
}

Status ProviderTable::Apply(const Provider& sender, const AnnounceBatch& batch) {
  if (!IsValidNodeId(sender.node_id)) {
    ++stats_.rejected_batches;
    return Status::InvalidArgument("invalid sender node id");
  }
  if (batch.add.size() + batch.remove.size() > kMaxAnnounceKeys) {
    ++stats_.rejected_batches;
    return Status::InvalidArgument("announce batch has more than 20000 keys");
  }
  for (const auto* list : {&batch.add, &batch.remove}) {
    for (const auto& k : *list) {
      if (k.size() > kMaxKeyBytes) {
        ++stats_.rejected_batches;
        return Status::InvalidArgument("announce key longer than 512 bytes");
      }
    }
  }
  uint64_t ttl = batch.ttl_ms == 0 ? options_.default_ttl_ms : batch.ttl_ms;
  ttl = std::min(ttl, options_.max_provider_ttl_ms);
  uint64_t now = scheduler_->NowMs();
  uint64_t expires = now + ttl;
  uint32_t p = kNoProvider;
  std::optional<bool> sender_member;  // Asked once, and only when a key is full.
  for (const auto& k : batch.add) {
    if (!IsValidRoutingKey(k)) {
      ++stats_.bad_keys;
      continue;
    }
    auto it = table_.find(k);
    if (it == table_.end()) {
      if (table_.size() >= options_.max_keys) {
        ++stats_.table_full_drops;
        continue;
      }
      it = table_.emplace(k, std::vector<Entry>{}).first;
    }
    if (p == kNoProvider) p = InternProvider(sender);
    auto& entries = it->second;
    auto same = std::find_if(entries.begin(), entries.end(),
                             [&](const Entry& e) { return e.provider == p; });
    if (same != entries.end()) {
      same->expires_at_ms = expires;
      continue;
    }
    if (entries.size() >= options_.max_providers_per_key) {
      if (!sender_member) sender_member = IsMember(sender.node_id);
      const size_t victim = EvictionVictim(entries, *sender_member);
      if (victim == entries.size()) {
        ++stats_.stranger_drops;
        continue;
      }
      EraseEntry(entries, victim);
    }
    entries.push_back(Entry{p, expires});
    ++providers_[p].refs;
    ++entries_;
  }
  if (p != kNoProvider && providers_[p].refs == 0) {
    ++providers_[p].refs;  // Nothing references it (all adds were refreshes or dropped): free it.
    ReleaseProvider(p);
  }
  if (!batch.remove.empty()) {
    auto pi = provider_index_.find(sender.node_id);
    if (pi != provider_index_.end()) {
      uint32_t index = pi->second;
      for (const auto& k : batch.remove) {
        if (!IsValidRoutingKey(k)) {
          ++stats_.bad_keys;
          continue;
        }
        auto it = table_.find(k);
        if (it == table_.end()) continue;
        auto& entries = it->second;
        for (size_t i = 0; i < entries.size(); ++i) {
          if (entries[i].provider == index) {
            // The provider record may be freed here; `index` is not used after its last entry.
            EraseEntry(entries, i);
            break;
          }
        }
        if (entries.empty()) table_.erase(it);
        if (provider_index_.find(sender.node_id) == provider_index_.end()) break;
      }
    }
  }
  EnsureSweep();
  return Status::Ok();
}

void ProviderTable::Drop(const std::unordered_set<std::string>& node_ids) {
  std::vector<bool> drop(providers_.size(), false);
  bool any = false;
  for (const auto& id : node_ids) {
    auto it = provider_index_.find(id);
    if (it == provider_index_.end()) continue;
    drop[it->second] = true;
    any = true;
  }
  if (!any) return;
  for (auto it = table_.begin(); it != table_.end();) {
    auto& entries = it->second;
    for (size_t i = 0; i < entries.size();) {
      if (drop[entries[i].provider]) {
        EraseEntry(entries, i);
      } else {
        ++i;
      }
    }
    it = entries.empty() ? table_.erase(it) : std::next(it);
  }
}

ProviderTable::Dropped ProviderTable::DropKeys(
    const std::function<bool(const std::string& key)>& disowned) {
  Dropped dropped;
  for (auto it = table_.begin(); it != table_.end();) {
    if (!disowned(it->first)) {
      ++it;
      continue;
    }
    auto& entries = it->second;
    dropped.bytes += RowBytes(it->first, entries);
    while (!entries.empty()) EraseEntry(entries, entries.size() - 1);
    it = table_.erase(it);
    ++dropped.keys;
  }
  return dropped;
}

void ProviderTable::EnsureSweep() {
  if (sweep_task_ || table_.empty()) return;
  sweep_task_ = scheduler_->After(options_.sweep_interval_ms, [this] { SweepTick(); });
}

void ProviderTable::SweepTick() {
  auto keep = std::move(sweep_task_);
  size_t buckets = table_.bucket_count();
  if (buckets > 0 && !table_.empty()) {
    // Enough buckets per tick to pass over the whole table about once a minute.
    size_t per_tick = std::max(options_.sweep_buckets_per_tick,
                               buckets * options_.sweep_interval_ms / 60'000 + 1);
    per_tick = std::min(per_tick, buckets);
    uint64_t now = scheduler_->NowMs();
    std::vector<std::string> empty;
    for (size_t n = 0; n < per_tick; ++n) {
      size_t b = (sweep_cursor_ + n) % buckets;
      for (auto it = table_.begin(b); it != table_.end(b); ++it) {
        auto& entries = it->second;
        for (size_t i = 0; i < entries.size();) {
          if (entries[i].expires_at_ms <= now) {
            EraseEntry(entries, i);
          } else {
            ++i;
          }
        }
        if (entries.empty()) empty.push_back(it->first);
      }
    }
    sweep_cursor_ = (sweep_cursor_ + per_tick) % buckets;
    for (const auto& k : empty) table_.erase(k);
  }
  EnsureSweep();
}

std::vector<Provider> ProviderTable::Find(std::string_view key) const {
  std::vector<Provider> out;
  auto it = table_.find(std::string(key));
  if (it == table_.end()) return out;
  uint64_t now = scheduler_->NowMs();
  for (const Entry& e : it->second) {
    if (e.expires_at_ms > now) out.push_back(providers_[e.provider].provider);
  }
  return out;
}

size_t ProviderTable::RowBytes(const std::string& key, const std::vector<Entry>& entries) {
  constexpr size_t kNode = 16;  // Hash-node link and cached hash.
  return kNode + sizeof(std::string) + sizeof(std::vector<Entry>) + StringHeapBytes(key) +
         entries.capacity() * sizeof(Entry);
}

size_t ProviderTable::HeapBytes() const {
  constexpr size_t kNode = 16;  // Hash-node link and cached hash.
  size_t bytes = table_.bucket_count() * sizeof(void*);
  for (const auto& [k, entries] : table_) bytes += RowBytes(k, entries);
  bytes += providers_.capacity() * sizeof(ProviderRec) + free_providers_.capacity() * 4;
  for (const auto& rec : providers_) {
    bytes += StringHeapBytes(rec.provider.node_id) + StringHeapBytes(rec.provider.address);
  }
  bytes += provider_index_.size() * (kNode + sizeof(std::string) + 8) +
           provider_index_.bucket_count() * sizeof(void*);
  return bytes;
}

}  // namespace spegel::cluster
