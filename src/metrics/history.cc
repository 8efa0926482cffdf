#include "metrics/history.h"

#include <utility>

namespace spegel::metrics {

TrafficTotals TrafficTotals::Minus(const TrafficTotals& earlier) const {
  TrafficTotals d;
  d.local = local - earlier.local;
  d.peer = peer - earlier.peer;
  d.inflight = inflight - earlier.inflight;
  d.not_found = not_found - earlier.not_found;
  d.peer_bytes = peer_bytes - earlier.peer_bytes;
  d.inflight_bytes = inflight_bytes - earlier.inflight_bytes;
  return d;
}

History::History(size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

void History::Record(int64_t unix_s, const TrafficTotals& totals) {
  if (has_baseline_) {
    ring_[next_] = HistoryPoint{unix_s, totals.Minus(last_)};
    next_ = (next_ + 1) % ring_.size();
    if (count_ < ring_.size()) ++count_;
  }
  has_baseline_ = true;
  last_ = totals;
}

std::vector<HistoryPoint> History::Points(int64_t now_unix_s,
                                          const TrafficTotals* now_totals) const {
  std::vector<HistoryPoint> out;
  out.reserve(count_ + 1);
  const size_t first = (next_ + ring_.size() - count_) % ring_.size();
  for (size_t i = 0; i < count_; ++i) out.push_back(ring_[(first + i) % ring_.size()]);
  if (now_totals != nullptr) {
    out.push_back(HistoryPoint{now_unix_s, has_baseline_ ? now_totals->Minus(last_) : *now_totals});
  }
  return out;
}

RecentPulls::RecentPulls(size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

void RecentPulls::Add(PullRecord record) {
  ring_[next_] = std::move(record);
  next_ = (next_ + 1) % ring_.size();
  if (count_ < ring_.size()) ++count_;
}

std::vector<PullRecord> RecentPulls::Newest() const {
  std::vector<PullRecord> out;
  out.reserve(count_);
  for (size_t i = 1; i <= count_; ++i)
    out.push_back(ring_[(next_ + ring_.size() - i) % ring_.size()]);
  return out;
}

}  // namespace spegel::metrics
