#include "registry/peer_fetch.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "registry/peer_attempts.h"

namespace spegel::registry {
namespace {

constexpr size_t kLatencySamples = 64;
constexpr size_t kMinSamplesForHedge = 8;

}  // namespace

std::string PeerNotFoundMessage(bool is_manifest, std::string_view why) {
  return std::string(is_manifest ? "manifest" : "blob") +
         " unknown to this node and its peers: " + std::string(why);
}

PeerFetcher::PeerFetcher(Loop* loop, cluster::ContentLocator* locator, auth::PeerAuth auth,
                         PeerFetchOptions options)
    : loop_(loop),
      locator_(locator),
      auth_(std::move(auth)),
      options_(std::move(options)),
      read_ahead_(options_.read_ahead_budget_bytes),
      hash_worker_(options_.hash_on_worker ? std::make_unique<Worker>("sha256") : nullptr) {}

PeerFetcher::~PeerFetcher() {
  liveness_.Revoke();
  fetches_.clear();
}

void PeerFetcher::Serve(http::Request& request, http::ResponseWriter& writer, const Route& route,
                        std::string key) {
  auto fetch = std::make_unique<PeerAttempts>(this, request, writer, route, std::move(key));
  PeerAttempts* raw = fetch.get();
  fetches_.emplace(raw, std::move(fetch));
  raw->Start();
}

void PeerFetcher::ServeFrom(http::Request& request, http::ResponseWriter& writer,
                            const Route& route, std::string key,
                            std::vector<cluster::Provider> peers, ClaimedSources claimed) {
  auto fetch = std::make_unique<PeerAttempts>(this, request, writer, route, std::move(key));
  PeerAttempts* raw = fetch.get();
  fetches_.emplace(raw, std::move(fetch));
  raw->Start(std::move(peers), std::move(claimed));
}

void PeerFetcher::Finished(PeerAttempts* fetch) {
  // Deleted later: the fetch may be deep inside its own or a client callback.
  Liveness::Token alive = liveness_.token();
  loop_->Post([this, fetch, alive] {
    if (!alive.alive()) return;
    fetches_.erase(fetch);
  });
}

void PeerFetcher::Served() {
  ++stats_.served;
  stats_.last_success_unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void PeerFetcher::RecordHeadLatency(uint64_t ms) {
  if (latencies_.size() < kLatencySamples) {
    latencies_.push_back(ms);
  } else {
    latencies_[latency_next_] = ms;
    latency_next_ = (latency_next_ + 1) % kLatencySamples;
  }
}

uint64_t PeerFetcher::HedgeDelayMs() const {
  if (latencies_.size() < kMinSamplesForHedge) return kDefaultHedgeMs;
  std::vector<uint64_t> sorted = latencies_;
  const size_t index = sorted.size() * 9 / 10;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index),
                   sorted.end());
  return std::clamp(sorted[index], kMinHedgeMs, kMaxHedgeMs);
}

}  // namespace spegel::registry
