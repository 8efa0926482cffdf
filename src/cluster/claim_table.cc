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

ClaimTable::Source* ClaimTable::FindSource(Entry& entry, std::string_view node_id) {
  for (Source& source : entry.sources) {
    if (source.node.node_id == node_id) return &source;
  }
  return nullptr;
}

void ClaimTable::RemoveSource(Entry& entry, std::string_view node_id) {
  std::erase_if(entry.sources, [&](const Source& s) { return s.node.node_id == node_id; });
}

size_t ClaimTable::Readers(const Entry& entry, std::string_view node_id) {
  return static_cast<size_t>(std::count_if(entry.sources.begin(), entry.sources.end(),
                                           [&](const Source& s) { return s.parent == node_id; }));
}

bool ClaimTable::FetcherLive(const Entry& entry, uint64_t now_ms) const {
  if (entry.fetcher.empty()) return false;
  if (!entry.started) return now_ms < entry.start_deadline_ms;
  return now_ms - entry.last_advance_ms < options_.stall_ms;
}

void ClaimTable::Revoke(Entry& entry) {
  if (entry.fetcher.empty()) return;
  ++stats_.revoked;
  RemoveSource(entry, entry.fetcher);
  entry.fetcher.clear();
  entry.started = false;
  entry.offset = 0;
  entry.advance_mark = 0;
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
  if (const Source* self = FindSource(entry, asker.node_id);
      self != nullptr && !entry.fetcher.empty() && self->parent == entry.fetcher &&
      now_ms - entry.last_advance_ms >= options_.reclaim_stall_ms) {
    Revoke(entry);
  }
  if (!FetcherLive(entry, now_ms)) Revoke(entry);
  if (entry.fetcher == asker.node_id) {
    ++stats_.fetch;  // Its containerd asks again (a retry): it is still the one downloading.
    answer.verdict = ClaimVerdict::kFetch;
    return answer;
  }
  // Follow the shallowest source with a free reader slot: the fetcher first, then followers,
  // which serve from their own growing copy.
  const Source* parent = nullptr;
  for (const Source& source : entry.sources) {
    if (source.node.node_id == asker.node_id || !source.serves) continue;
    if (Readers(entry, source.node.node_id) >= options_.fanout) continue;
    if (parent == nullptr || source.depth < parent->depth) parent = &source;
  }
  if (parent != nullptr && !entry.fetcher.empty()) {
    ++stats_.follow;
    answer.verdict = ClaimVerdict::kFollow;
    answer.nodes.push_back(parent->node);
    // A follower's copy grows no faster than the fetcher's: when the parent breaks, only the
    // fetcher can be further along. Other followers are no place to resume.
    if (parent->depth > 0 && answer.nodes.size() < kMaxSourcesPerAnswer) {
      if (const Source* fetcher = FindSource(entry, entry.fetcher)) {
        answer.nodes.push_back(fetcher->node);
      }
    }
    const size_t depth = parent->depth + 1;
    const std::string parent_id = parent->node.node_id;
    Source* self = FindSource(entry, asker.node_id);
    if (self == nullptr) {
      entry.sources.push_back(Source{asker, 0, now_ms, depth, parent_id, can_serve});
    } else {
      self->node = asker;
      self->heard_ms = now_ms;
      self->depth = depth;
      self->parent = parent_id;
      self->serves = can_serve;
    }
    return answer;
  }
  if (entry.fetcher.empty() && can_serve) {
    ++stats_.fetch;
    entry.fetcher = asker.node_id;
    entry.started = false;
    entry.offset = 0;
    entry.advance_mark = 0;
    entry.start_deadline_ms = now_ms + options_.start_ms;
    entry.last_advance_ms = now_ms;
    RemoveSource(entry, asker.node_id);
    entry.sources.insert(entry.sources.begin(), Source{asker, 0, now_ms, 0, {}});
    answer.verdict = ClaimVerdict::kFetch;
    return answer;
  }
  ++stats_.decline;  // A live fetcher whose sources are all full, or an asker that cannot serve.
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
      if (entry.fetcher.empty() && !FindSource(entry, id) && entry.done.empty()) {
        // A claim this owner does not know (it is new to the key): the reporter fetches.
        entry.fetcher = id;
        entry.start_deadline_ms = now_ms + options_.start_ms;
        entry.last_advance_ms = now_ms;
        entry.sources.insert(entry.sources.begin(), Source{reporter, 0, now_ms, 0, {}});
      }
      if (entry.fetcher != id) return false;
      // The lease is renewed by real progress only: a fetcher crawling at a few bytes a second
      // holds its followers at that pace, and must lose the claim like one that stopped.
      const bool first = !entry.started && report.offset > 0;
      const bool advanced = report.offset >= entry.advance_mark + options_.min_progress_bytes ||
                            (entry.total > 0 && report.offset >= entry.total &&
                             report.offset > entry.advance_mark);
      entry.offset = std::max(entry.offset, report.offset);
      if (first || advanced) {
        entry.advance_mark = report.offset;
        entry.last_advance_ms = now_ms;
        entry.started = true;
      } else if (!FetcherLive(entry, now_ms)) {
        Revoke(entry);
        return false;
      }
      if (Source* self = FindSource(entry, id)) {
        self->offset = report.offset;
        self->heard_ms = now_ms;
      }
      return true;
    }
    case ProgressState::kFollowing: {
      if (entry.fetcher == id) Revoke(entry);  // It reads from elsewhere now.
      if (Source* self = FindSource(entry, id)) {
        self->node = reporter;
        self->offset = report.offset;
        self->heard_ms = now_ms;
      } else {
        entry.sources.push_back(Source{reporter, report.offset, now_ms, 1, {}});
      }
      return true;
    }
    case ProgressState::kDone: {
      if (entry.fetcher == id) entry.fetcher.clear();
      RemoveSource(entry, id);
      if (std::none_of(entry.done.begin(), entry.done.end(),
                       [&](const Provider& p) { return p.node_id == id; })) {
        entry.done.push_back(reporter);
      }
      entry.done_until_ms = now_ms + options_.done_keep_ms;
      return true;
    }
    case ProgressState::kFailed: {
      if (entry.fetcher == id) {
        entry.fetcher.clear();
        entry.started = false;
        entry.offset = 0;
        entry.advance_mark = 0;
      }
      RemoveSource(entry, id);
      std::erase_if(entry.done, [&](const Provider& p) { return p.node_id == id; });
      return true;
    }
  }
  return true;
}

void ClaimTable::Sweep(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (!FetcherLive(entry, now_ms)) Revoke(entry);
    std::erase_if(entry.sources, [&](const Source& s) {
      return s.node.node_id != entry.fetcher && now_ms - s.heard_ms >= options_.source_idle_ms;
    });
    if (now_ms >= entry.done_until_ms) entry.done.clear();
    if (entry.fetcher.empty() && entry.sources.empty() && entry.done.empty()) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClaimTable::DropNode(std::string_view node_id) {
  for (auto& [key, entry] : entries_) {
    if (entry.fetcher == node_id) {
      entry.fetcher.clear();
      entry.started = false;
      entry.offset = 0;
      entry.advance_mark = 0;
    }
    RemoveSource(entry, node_id);
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
  std::string out = "fetcher=" + (entry.fetcher.empty() ? std::string("-") : entry.fetcher);
  out += " live=" + std::string(FetcherLive(entry, now_ms) ? "1" : "0");
  out += " offset=" + std::to_string(entry.offset) + "/" + std::to_string(entry.total);
  out += " sources=";
  for (size_t i = 0; i < entry.sources.size(); ++i) {
    const Source& s = entry.sources[i];
    if (i) out += ",";
    out += s.node.node_id + ":" + std::to_string(s.offset) + ":" +
           std::to_string(Readers(entry, s.node.node_id));
  }
  out += " done=";
  for (size_t i = 0; i < entry.done.size(); ++i) {
    if (i) out += ",";
    out += entry.done[i].node_id;
  }
  return out;
}

}  // namespace spegel::cluster
