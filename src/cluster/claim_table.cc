#include "cluster/claim_table.h"

#include <algorithm>

namespace spegel::cluster {
namespace {

constexpr size_t kMaxSourcesPerAnswer = 2;  // The parent, and the fetcher to resume from.

}  // namespace

std::string_view ClaimVerdictName(ClaimVerdict verdict) {
  switch (verdict) {
    case ClaimVerdict::kHave: return "have";
    case ClaimVerdict::kFollow: return "follow";
    case ClaimVerdict::kFetch: return "fetch";
    case ClaimVerdict::kDecline: return "decline";
  }
  return "decline";
}

std::string_view ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kFetching: return "fetching";
    case ProgressState::kFollowing: return "following";
    case ProgressState::kDone: return "done";
    case ProgressState::kFailed: return "failed";
  }
  return "failed";
}

bool ClaimTable::IsFetcher(const Entry& entry, std::string_view node_id) {
  return entry.lease && entry.lease->fetcher.node_id == node_id;
}

ClaimTable::Follower* ClaimTable::FindFollower(Entry& entry, std::string_view node_id) {
  for (Follower& follower : entry.followers) {
    if (follower.node.node_id == node_id) return &follower;
  }
  return nullptr;
}

void ClaimTable::RemoveFollower(Entry& entry, std::string_view node_id) {
  std::erase_if(entry.followers, [&](const Follower& f) { return f.node.node_id == node_id; });
}

ClaimTable::ReaderCounts ClaimTable::CountReaders(const Entry& entry) {
  ReaderCounts counts;
  for (const Follower& follower : entry.followers) ++counts[follower.parent];
  return counts;
}

size_t ClaimTable::Readers(const ReaderCounts& counts, std::string_view node_id) {
  auto it = counts.find(node_id);
  return it == counts.end() ? 0 : it->second;
}

bool ClaimTable::LeaseLive(const Lease& lease, uint64_t now_ms) const {
  if (!lease.started) return now_ms < lease.start_deadline_ms;
  return now_ms - lease.last_advance_ms < options_.stall_ms;
}

void ClaimTable::StartLease(Entry& entry, const Provider& fetcher, uint64_t now_ms) {
  RemoveFollower(entry, fetcher.node_id);
  entry.lease = Lease{fetcher, now_ms + options_.start_ms, now_ms};
}

void ClaimTable::EndLease(Entry& entry, LeaseEnd why) {
  if (!entry.lease) return;
  if (why == LeaseEnd::kRevoked) ++stats_.revoked;
  entry.lease.reset();
}

ClaimAnswer ClaimTable::Claim(const std::string& key, const Provider& asker,
                              const std::vector<Provider>& holders, bool can_serve,
                              uint64_t now_ms) {
  ClaimAnswer answer;
  if (!holders.empty()) {
    ++stats_.have;
    answer.verdict = ClaimVerdict::kHave;
    answer.nodes = holders;
    return answer;
  }
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (!can_serve || entries_.size() >= options_.max_keys) {
      ++stats_.decline;
      return answer;
    }
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& entry = it->second;
  if (!entry.done.empty() && now_ms < entry.done_until_ms) {
    ++stats_.have;
    answer.verdict = ClaimVerdict::kHave;
    answer.nodes = entry.done;
    return answer;
  }
  if (const Follower* self = FindFollower(entry, asker.node_id);
      self != nullptr && IsFetcher(entry, self->parent) &&
      now_ms - entry.lease->last_advance_ms >= options_.reclaim_stall_ms) {
    EndLease(entry, LeaseEnd::kRevoked);
  }
  if (entry.lease && !LeaseLive(*entry.lease, now_ms)) EndLease(entry, LeaseEnd::kRevoked);
  if (!entry.lease) {
    if (!can_serve) {
      ++stats_.decline;
      return answer;
    }
    ++stats_.fetch;
    StartLease(entry, asker, now_ms);
    answer.verdict = ClaimVerdict::kFetch;
    return answer;
  }
  const Lease& lease = *entry.lease;
  if (lease.fetcher.node_id == asker.node_id) {
    ++stats_.fetch;  // Its containerd asks again (a retry): it is still the one downloading.
    answer.verdict = ClaimVerdict::kFetch;
    return answer;
  }
  // Follow the shallowest source with a free reader slot: the fetcher first, then followers,
  // which serve from their own growing copy.
  const ReaderCounts readers = CountReaders(entry);
  const Provider* parent = nullptr;
  size_t parent_depth = 0;
  if (Readers(readers, lease.fetcher.node_id) < options_.fanout) {
    parent = &lease.fetcher;
  } else {
    for (const Follower& follower : entry.followers) {
      if (follower.node.node_id == asker.node_id || !follower.serves) continue;
      if (Readers(readers, follower.node.node_id) >= options_.fanout) continue;
      if (parent == nullptr || follower.depth < parent_depth) {
        parent = &follower.node;
        parent_depth = follower.depth;
      }
    }
  }
  if (parent == nullptr) {
    ++stats_.decline;  // Every source's reader slots are taken.
    return answer;
  }
  ++stats_.follow;
  answer.verdict = ClaimVerdict::kFollow;
  answer.nodes.push_back(*parent);
  // A follower's copy grows no faster than the fetcher's: when the parent breaks, only the
  // fetcher can be further along. Other followers are no place to resume.
  if (parent_depth > 0 && answer.nodes.size() < kMaxSourcesPerAnswer) {
    answer.nodes.push_back(lease.fetcher);
  }
  const std::string parent_id = parent->node_id;  // `parent` may point into the followers.
  if (Follower* self = FindFollower(entry, asker.node_id)) {
    self->node = asker;
    self->heard_ms = now_ms;
    self->depth = parent_depth + 1;
    self->parent = parent_id;
    self->serves = can_serve;
  } else {
    entry.followers.push_back(Follower{asker, 0, now_ms, parent_depth + 1, parent_id, can_serve});
  }
  return answer;
}

bool ClaimTable::Report(const ProgressReport& report, const Provider& reporter, uint64_t now_ms) {
  auto it = entries_.find(report.key);
  if (it == entries_.end()) {
    if (report.state == ProgressState::kFailed || entries_.size() >= options_.max_keys) {
      return true;
    }
    it = entries_.emplace(report.key, Entry{}).first;
  }
  Entry& entry = it->second;
  if (report.total > 0) entry.total = report.total;
  const std::string& id = reporter.node_id;
  switch (report.state) {
    case ProgressState::kFetching: {
      if (!entry.lease && !FindFollower(entry, id) && entry.done.empty()) {
        // A claim this owner does not know (it is new to the key): the reporter fetches.
        StartLease(entry, reporter, now_ms);
      }
      if (!IsFetcher(entry, id)) return false;
      Lease& lease = *entry.lease;
      // The lease is renewed by real progress only: a fetcher crawling at a few bytes a second
      // holds its followers at that pace, and must lose the claim like one that stopped.
      const bool first = !lease.started && report.offset > 0;
      const bool advanced = report.offset >= lease.advance_mark + options_.min_progress_bytes ||
                            (entry.total > 0 && report.offset >= entry.total &&
                             report.offset > lease.advance_mark);
      lease.offset = std::max(lease.offset, report.offset);
      if (first || advanced) {
        lease.advance_mark = report.offset;
        lease.last_advance_ms = now_ms;
        lease.started = true;
      } else if (!LeaseLive(lease, now_ms)) {
        EndLease(entry, LeaseEnd::kRevoked);
        return false;
      }
      return true;
    }
    case ProgressState::kFollowing: {
      if (IsFetcher(entry, id)) EndLease(entry, LeaseEnd::kReleased);  // It reads elsewhere now.
      if (Follower* self = FindFollower(entry, id)) {
        self->node = reporter;
        self->offset = report.offset;
        self->heard_ms = now_ms;
      } else {
        entry.followers.push_back(Follower{reporter, report.offset, now_ms, 1, {}});
      }
      return true;
    }
    case ProgressState::kDone: {
      if (IsFetcher(entry, id)) EndLease(entry, LeaseEnd::kReleased);
      RemoveFollower(entry, id);
      if (std::none_of(entry.done.begin(), entry.done.end(),
                       [&](const Provider& p) { return p.node_id == id; })) {
        entry.done.push_back(reporter);
      }
      entry.done_until_ms = now_ms + options_.done_keep_ms;
      return true;
    }
    case ProgressState::kFailed: {
      if (IsFetcher(entry, id)) EndLease(entry, LeaseEnd::kRevoked);
      RemoveFollower(entry, id);
      std::erase_if(entry.done, [&](const Provider& p) { return p.node_id == id; });
      return true;
    }
  }
  return true;
}

void ClaimTable::Sweep(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (entry.lease && !LeaseLive(*entry.lease, now_ms)) EndLease(entry, LeaseEnd::kRevoked);
    std::erase_if(entry.followers, [&](const Follower& f) {
      return now_ms - f.heard_ms >= options_.source_idle_ms;
    });
    if (now_ms >= entry.done_until_ms) entry.done.clear();
    if (!entry.lease && entry.followers.empty() && entry.done.empty()) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClaimTable::DropNode(std::string_view node_id) {
  for (auto& [key, entry] : entries_) {
    if (IsFetcher(entry, node_id)) EndLease(entry, LeaseEnd::kRevoked);
    RemoveFollower(entry, node_id);
    std::erase_if(entry.done, [&](const Provider& p) { return p.node_id == node_id; });
  }
}

ClaimStats ClaimTable::stats() const {
  ClaimStats s = stats_;
  s.keys = entries_.size();
  return s;
}

std::vector<std::string> ClaimTable::Keys(size_t max) const {
  std::vector<std::string> keys;
  for (const auto& [key, entry] : entries_) {
    if (keys.size() >= max) break;
    keys.push_back(key);
  }
  return keys;
}

std::string ClaimTable::Describe(const std::string& key, uint64_t now_ms) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  const Entry& entry = it->second;
  const Lease* lease = entry.lease ? &*entry.lease : nullptr;
  std::string out = "fetcher=" + (lease ? lease->fetcher.node_id : std::string("-"));
  out += " live=" + std::string(lease && LeaseLive(*lease, now_ms) ? "1" : "0");
  out += " offset=" + std::to_string(lease ? lease->offset : 0) + "/" + std::to_string(entry.total);
  // Sources: the fetcher first, then the followers, each as id:offset:readers.
  out += " sources=";
  const ReaderCounts readers = CountReaders(entry);
  bool first = true;
  auto append_source = [&](const std::string& id, uint64_t offset) {
    if (!first) out += ",";
    first = false;
    out += id + ":" + std::to_string(offset) + ":" + std::to_string(Readers(readers, id));
  };
  if (lease) append_source(lease->fetcher.node_id, lease->offset);
  for (const Follower& follower : entry.followers) {
    append_source(follower.node.node_id, follower.offset);
  }
  out += " done=";
  for (size_t i = 0; i < entry.done.size(); ++i) {
    if (i) out += ",";
    out += entry.done[i].node_id;
  }
  return out;
}

}  // namespace spegel::cluster
