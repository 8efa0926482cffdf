#include "cluster/claim_table.h"

#include <algorithm>

namespace spegel::cluster {
namespace {

constexpr size_t kMaxSourcesPerAnswer = 2;  // The parent, and the fetcher to resume from.
constexpr size_t kMaxBansPerKey = 16;       // The oldest ban goes first.

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
    case ProgressState::kReading: return "reading";
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

bool ClaimTable::ReadersPresent(const Entry& entry, std::string_view source,
                                std::string_view except, uint64_t now_ms) const {
  return std::any_of(entry.followers.begin(), entry.followers.end(), [&](const Follower& f) {
    return f.reading_from == source && f.node.node_id != except && f.reading_ms != 0 &&
           now_ms - f.reading_ms < options_.reader_window_ms && IsMember(f.node.node_id);
  });
}

bool ClaimTable::ConfirmedByOthers(const Entry& entry, std::string_view source,
                                   std::string_view except, uint64_t beyond,
                                   uint64_t now_ms) const {
  return std::any_of(entry.followers.begin(), entry.followers.end(), [&](const Follower& f) {
    return f.reading_from == source && f.node.node_id != except && f.received > beyond &&
           f.advanced_ms != 0 && now_ms - f.advanced_ms < options_.reclaim_stall_ms &&
           IsMember(f.node.node_id);
  });
}

bool ClaimTable::Banned(const Entry& entry, const Provider& node, uint64_t now_ms) {
  return std::any_of(entry.bans.begin(), entry.bans.end(), [&](const Ban& ban) {
    return ban.node_id == node.node_id && now_ms < ban.until_ms;
  });
}

void ClaimTable::BanSource(Entry& entry, std::string node_id, uint64_t now_ms) {
  auto ban = std::find_if(entry.bans.begin(), entry.bans.end(),
                          [&](const Ban& b) { return b.node_id == node_id; });
  if (ban != entry.bans.end()) {
    ban->until_ms = now_ms + options_.ban_ms;
  } else {
    ++stats_.banned;
    if (entry.bans.size() >= kMaxBansPerKey) entry.bans.erase(entry.bans.begin());
    entry.bans.push_back(Ban{node_id, now_ms + options_.ban_ms});
  }
  if (IsFetcher(entry, node_id)) EndLease(entry, LeaseEnd::kRevoked);
  if (Follower* follower = FindFollower(entry, node_id)) follower->serves = false;
  std::erase_if(entry.done, [&](const Provider& p) { return p.node_id == node_id; });
}

bool ClaimTable::Complain(Entry& entry, const Provider& asker, const std::string& source_id,
                          uint64_t now_ms) {
  // Also a source that is none any more (its lease ran out, it reported failure): it must not
  // come back as one.
  const bool fetcher = IsFetcher(entry, source_id);
  ++stats_.complaints;
  // Another reader got bytes from it beyond where the asker's stream stopped, and lately: the
  // trouble is the asker's own (its network, its peer connection). The source keeps its place;
  // the asker, which will not read from it again, is declined.
  const Follower* self = FindFollower(entry, asker.node_id);
  const uint64_t stopped_at = self != nullptr && self->reading_from == source_id ? self->received
                                                                                 : 0;
  if (ConfirmedByOthers(entry, source_id, asker.node_id, stopped_at, now_ms)) return fetcher;
  BanSource(entry, source_id, now_ms);
  return false;
}

void ClaimTable::EndDeadLease(Entry& entry, uint64_t now_ms) {
  if (!entry.lease) return;
  const Lease& lease = *entry.lease;
  const bool live = LeaseLive(lease, now_ms);
  if (live && IsMember(lease.fetcher.node_id)) return;
  if (!live && lease.observed) {
    // Its readers saw it stall, whatever it reported: a source never handed out again.
    BanSource(entry, lease.fetcher.node_id, now_ms);
    return;
  }
  EndLease(entry, LeaseEnd::kRevoked);
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
                              const std::vector<Provider>& holders, bool can_serve, uint64_t now_ms,
                              const std::vector<std::string>& avoid) {
  ClaimAnswer answer;
  if (!IsMember(asker.node_id)) {
    ++stats_.strangers;
    ++stats_.decline;
    return answer;
  }
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
  std::erase_if(entry.bans, [&](const Ban& ban) { return now_ms >= ban.until_ms; });
  auto avoided = [&](std::string_view id) {
    return std::find(avoid.begin(), avoid.end(), id) != avoid.end();
  };
  if (!entry.done.empty() && now_ms < entry.done_until_ms) {
    for (const Provider& copy : entry.done) {
      if (!avoided(copy.node_id)) answer.nodes.push_back(copy);
    }
    if (!answer.nodes.empty()) {
      ++stats_.have;
      answer.verdict = ClaimVerdict::kHave;
      return answer;
    }
  }
  bool declined = false;
  for (const std::string& id : avoid) {
    if (id != asker.node_id && Complain(entry, asker, id, now_ms)) declined = true;
  }
  Follower* self = FindFollower(entry, asker.node_id);
  if (self != nullptr) {
    // A claim starts a new stream: nothing it read before counts for the source it reads next.
    self->reading_from.clear();
    self->received = 0;
    self->received_mark = 0;
    self->reading_ms = 0;
    self->advanced_ms = 0;
  }
  if (declined) {
    if (self != nullptr) self->parent.clear();  // It reads from no source of ours now.
    ++stats_.decline;
    return answer;
  }
  if (self != nullptr && IsFetcher(entry, self->parent) &&
      now_ms - entry.lease->last_advance_ms >= options_.reclaim_stall_ms) {
    EndLease(entry, LeaseEnd::kRevoked);
  }
  EndDeadLease(entry, now_ms);
  const bool banned = Banned(entry, asker, now_ms);
  if (!entry.lease) {
    if (!can_serve || banned) {
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
  // which serve from their own growing copy. Never one the asker lost its stream from, a banned
  // one, or one that is no member (any more).
  auto usable = [&](const Provider& node) {
    return !avoided(node.node_id) && !Banned(entry, node, now_ms) && IsMember(node.node_id);
  };
  const ReaderCounts readers = CountReaders(entry);
  const Provider* parent = nullptr;
  size_t parent_depth = 0;
  if (usable(lease.fetcher) && Readers(readers, lease.fetcher.node_id) < options_.fanout) {
    parent = &lease.fetcher;
  } else {
    for (const Follower& follower : entry.followers) {
      if (follower.node.node_id == asker.node_id || !follower.serves) continue;
      if (!usable(follower.node)) continue;
      if (Readers(readers, follower.node.node_id) >= options_.fanout) continue;
      if (parent == nullptr || follower.depth < parent_depth) {
        parent = &follower.node;
        parent_depth = follower.depth;
      }
    }
  }
  if (parent == nullptr) {
    ++stats_.decline;  // Every source's reader slots are taken (or the asker avoids them).
    return answer;
  }
  ++stats_.follow;
  answer.verdict = ClaimVerdict::kFollow;
  answer.nodes.push_back(*parent);
  // A follower's copy grows no faster than the fetcher's: when the parent breaks, only the
  // fetcher can be further along. Other followers are no place to resume.
  if (parent_depth > 0 && answer.nodes.size() < kMaxSourcesPerAnswer && usable(lease.fetcher)) {
    answer.nodes.push_back(lease.fetcher);
  }
  const std::string parent_id = parent->node_id;  // `parent` may point into the followers.
  const bool serves = can_serve && !banned;
  if (Follower* follower = FindFollower(entry, asker.node_id)) {
    follower->node = asker;
    follower->heard_ms = now_ms;
    follower->depth = parent_depth + 1;
    follower->parent = parent_id;
    follower->serves = serves;
  } else {
    entry.followers.push_back(Follower{asker, 0, now_ms, parent_depth + 1, parent_id, serves});
  }
  return answer;
}

void ClaimTable::NoteReading(Entry& entry, const ProgressReport& report, const Provider& reader,
                             uint64_t now_ms) {
  const std::string& id = reader.node_id;
  if (report.source == id || IsFetcher(entry, id)) return;  // Nobody reads from itself.
  Follower* self = FindFollower(entry, id);
  if (self == nullptr) {
    // A reader this owner did not send there (the owner is new to the key): it counts as a
    // reader of that source, and serves nothing until it reports its own copy.
    entry.followers.push_back(Follower{reader, 0, now_ms, 1, report.source, false});
    self = &entry.followers.back();
  }
  if (self->reading_from != report.source) {
    // Its stream moved to another source (a resume there): only what that one sends counts.
    self->received_mark = self->reading_from.empty() ? 0 : report.offset;
    self->reading_from = report.source;
    self->advanced_ms = 0;
  }
  self->received = report.offset;
  self->reading_ms = now_ms;
  self->heard_ms = now_ms;
  if (IsFetcher(entry, report.source)) entry.lease->observed = true;
  const bool advanced = report.offset >= self->received_mark + options_.min_progress_bytes ||
                        (entry.total > 0 && report.offset + 1 >= entry.total &&
                         report.offset > self->received_mark);
  if (!advanced) return;
  self->received_mark = report.offset;
  self->advanced_ms = now_ms;
  if (IsFetcher(entry, report.source)) {
    // Bytes a reader received: the one progress of the fetcher nobody can make up alone.
    Lease& lease = *entry.lease;
    lease.confirmed = std::max(lease.confirmed, report.offset);
    lease.last_advance_ms = now_ms;
    lease.started = true;
  }
}

bool ClaimTable::Report(const ProgressReport& report, const Provider& reporter, uint64_t now_ms) {
  if (!IsMember(reporter.node_id)) {
    ++stats_.strangers;
    return report.state != ProgressState::kFetching;  // A stranger fetches nothing here.
  }
  auto it = entries_.find(report.key);
  if (it == entries_.end()) {
    if (report.state == ProgressState::kFailed || report.state == ProgressState::kReading ||
        entries_.size() >= options_.max_keys) {
      return true;
    }
    it = entries_.emplace(report.key, Entry{}).first;
  }
  Entry& entry = it->second;
  if (report.total > 0) entry.total = report.total;
  const std::string& id = reporter.node_id;
  const bool banned = Banned(entry, reporter, now_ms);
  switch (report.state) {
    case ProgressState::kFetching: {
      if (!entry.lease && !FindFollower(entry, id) && entry.done.empty() && !banned) {
        // A claim this owner does not know (it is new to the key): the reporter fetches.
        StartLease(entry, reporter, now_ms);
      }
      if (!IsFetcher(entry, id)) return false;
      Lease& lease = *entry.lease;
      lease.offset = std::max(lease.offset, report.offset);
      if (ReadersPresent(entry, id, {}, now_ms)) {
        // Its readers speak for it: what they received renews the lease (NoteReading), its own
        // word does not.
        if (LeaseLive(lease, now_ms)) return true;
        EndDeadLease(entry, now_ms);
        return false;
      }
      // The lease is renewed by real progress only: a fetcher crawling at a few bytes a second
      // holds its followers at that pace, and must lose the claim like one that stopped.
      const bool first = !lease.started && report.offset > 0;
      const bool advanced = report.offset >= lease.advance_mark + options_.min_progress_bytes ||
                            (entry.total > 0 && report.offset >= entry.total &&
                             report.offset > lease.advance_mark);
      if (first || advanced) {
        lease.advance_mark = report.offset;
        lease.last_advance_ms = now_ms;
        lease.started = true;
      } else if (!LeaseLive(lease, now_ms)) {
        EndDeadLease(entry, now_ms);
        return false;
      }
      return true;
    }
    case ProgressState::kFollowing: {
      if (IsFetcher(entry, id)) EndLease(entry, LeaseEnd::kReleased);  // It reads elsewhere now.
      // It reports its own copy: it serves it, unless banned for the key.
      if (Follower* self = FindFollower(entry, id)) {
        self->node = reporter;
        self->offset = report.offset;
        self->heard_ms = now_ms;
        self->serves = !banned;
      } else {
        entry.followers.push_back(Follower{reporter, report.offset, now_ms, 1, {}, !banned});
      }
      return true;
    }
    case ProgressState::kDone: {
      if (IsFetcher(entry, id)) EndLease(entry, LeaseEnd::kReleased);
      RemoveFollower(entry, id);
      if (banned) return true;  // No source of this key, complete or not.
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
    case ProgressState::kReading: {
      NoteReading(entry, report, reporter, now_ms);
      return true;
    }
  }
  return true;
}

void ClaimTable::Sweep(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    EndDeadLease(entry, now_ms);
    std::erase_if(entry.followers, [&](const Follower& f) {
      return now_ms - f.heard_ms >= options_.source_idle_ms;
    });
    if (now_ms >= entry.done_until_ms) entry.done.clear();
    std::erase_if(entry.bans, [&](const Ban& ban) { return now_ms >= ban.until_ms; });
    if (!entry.lease && entry.followers.empty() && entry.done.empty() && entry.bans.empty()) {
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
  out += " confirmed=" + std::to_string(lease ? lease->confirmed : 0);
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
  out += " banned=";
  first = true;
  for (const Ban& ban : entry.bans) {
    if (now_ms >= ban.until_ms) continue;
    if (!first) out += ",";
    first = false;
    out += ban.node_id;
  }
  return out;
}

}  // namespace spegel::cluster
