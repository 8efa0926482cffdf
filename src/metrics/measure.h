// Measure: pulls an image through the cluster's peers, as upstream's debug web "measure" does,
// and reports where each part came from and how fast. Only on the status page's address, only
// while the debug web is enabled (metrics_handler.h).
//
// The image is resolved through the cluster (never the upstream: Spegel has no upstream client),
// then its manifest (for an index: this host's platform's manifest) and every blob are fetched
// one after another by the same PeerFetcher that serves containerd's misses, so lookups,
// hedging, peer auth and digest verification are the real ones; the bytes are discarded. Every
// part records the node it came from, its size, its time to first byte and its throughput.
//
// Bounded: one measure at a time (Busy()), at most kMaxBytes of blobs (checked against the
// manifest before any blob is fetched) and kTimeLimit for the whole run (then the part in flight
// is abandoned and the result says so).
//
// Ownership and threading: owned by the daemon; the PeerFetcher must outlive it. Loop thread
// only; `done` runs on the loop thread, never inline, unless the Measure is destroyed first (then
// never).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "oci/reference.h"
#include "registry/peer_fetch.h"

namespace spegel::metrics {

struct MeasuredPart {
  std::string kind;    // "index", "manifest", "config", "layer"
  std::string digest;  // or the tag key, for a manifest resolved by tag
  std::string source;  // the node it came from; "" when nothing answered
  int status = 0;      // what the fetch answered (200, 404, ...)
  uint64_t bytes = 0;
  double first_byte_seconds = 0;
  double seconds = 0;
  std::string error;  // why it failed, "" when it was received and verified
};

struct MeasureResult {
  std::string image;  // as parsed ("registry/repository:tag")
  std::string error;  // a failure of the whole run ("" when every part arrived)
  std::vector<MeasuredPart> parts;
  uint64_t bytes = 0;
  double seconds = 0;
};

// The query of GET /debug/measure: `image` (a reference as a user types it). nullopt when the
// query has none (the form alone). Errors name the parameter.
Result<std::optional<oci::Reference>> ParseMeasureQuery(std::string_view query);

class Measure {
 public:
  static constexpr uint64_t kMaxBytes = uint64_t{2} << 30;
  static constexpr std::chrono::seconds kTimeLimit{60};

  Measure(Loop* loop, registry::PeerFetcher* fetcher);
  ~Measure();
  Measure(const Measure&) = delete;
  Measure& operator=(const Measure&) = delete;

  bool Busy() const { return run_ != nullptr; }
  // REQUIRES: !Busy().
  void Run(const oci::Reference& image, std::function<void(MeasureResult)> done);

 private:
  struct Run_;
  struct Fetch;
  void FetchPart(std::string kind, const oci::Reference& image, const std::string& reference,
                 std::optional<oci::Digest> digest);
  void PartDone(MeasuredPart part, const std::string& body);
  void NextBlob();
  void Finish(std::string error);

  Loop* loop_;
  registry::PeerFetcher* fetcher_;
  std::unique_ptr<Run_> run_;
  Liveness liveness_;
};

}  // namespace spegel::metrics
