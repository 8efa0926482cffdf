// SpegelMetrics: every metric the daemon exports, registered on one Registry.
//
// Upstream Spegel's names, labels and buckets are kept so its dashboards carry over:
//   spegel_mirror_requests_total{registry,cache}      content requests found nowhere (404 after
//                                                    the local index and the cluster): "miss"
//   spegel_mirror_last_success_timestamp_seconds     Unix time of the last answer served from a
//                                                    peer (0 until one)
//   spegel_advertised_image_tags{registry}           what this node would advertise, recomputed
//   spegel_advertised_image_digests{registry}        from the index at every scrape, so they move
//   spegel_advertised_content_digests{registry}      when images come and go
//   http_request_duration_seconds{handler,method,code}   default buckets
//   http_response_size_bytes{handler,method,code}        1024·5^n, n = 0..9
//   http_requests_inflight{handler}
// and our own:
//   spegel_registry_requests_total{registry,kind,method,code,cache}
//   spegel_served_bytes_total{source}                 local: body bytes of every 200/206 the
//                                                    registry answered (peer-proxied included);
//                                                    peer: bytes of those that came from peers
//   spegel_peer_fetches_total{result}                 local misses sent to the cluster: served |
//                                                    not_found | failed (aborted mid-answer)
//   spegel_peer_fetch_events_total{event}             hedge | resume | digest_mismatch
//   spegel_lookups_total{kind,result}                 index lookups of manifests/blobs: hit|miss
//   spegel_members                                    known cluster members, this node included
//   spegel_node_id_collisions_total                   messages from another node using this
//                                                    node's id (each should have its own --node-id)
//   spegel_node_id_renames_total                      moves to a fallback id (default id taken)
//   spegel_membership_refused_total                   messages naming a member from an address it
//                                                    is not bound to (refused)
//   spegel_membership_unlisted_refused_total          hellos from an address no discovery source
//                                                    names (refused with 403)
//   spegel_membership_events_total{event}             joined | expired | goodbye | replaced
//   spegel_index_images / _blobs / _tags              index size
//   spegel_ready, spegel_containerd_connected         0 or 1
//   spegel_containerd_reconnects_total, spegel_index_full_syncs_total,
//   spegel_index_blobs_gone_total (listed, gone from the store when served: GC),
//   spegel_index_last_sync_duration_seconds
//
// `registry` label values come from clients (`ns`): values that are not plausible registry hosts
// become "invalid", a missing one "none", and each family caps its series (see registry.h).
//
// Ownership and threading: owned by main next to its Registry (which must outlive it); loop
// thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cluster/cluster_view.h"
#include "index/index.h"
#include "index/syncer.h"
#include "metrics/registry.h"
#include "registry/inflight.h"
#include "registry/peer_fetch.h"

namespace spegel::metrics {

// What the instrumented registry front knows about one finished /v2/ request.
struct RegistryRequest {
  std::string_view registry;  // Route registry (ns or path-style), possibly empty.
  std::string_view kind;      // "manifest", "blob", "version" or "other".
  std::string_view method;    // "GET", "HEAD" or "OTHER".
  int code = 0;
  bool mirrored = false;    // Carried X-Spegel-Mirrored: true (a peer asked; never forwarded).
  uint64_t body_bytes = 0;  // Body bytes of the response (0 for HEAD).
  // The bytes came from another node (a peer fetch, or a peer's download in flight): counted
  // once, as a miss here and a mirror hit, never as a local hit or local bytes.
  bool from_peer = false;
};

class SpegelMetrics {
 public:
  // Registers every family on `registry`.
  explicit SpegelMetrics(Registry* registry);

  // Refreshes the index and containerd gauges from these at every scrape. Either may be null.
  // Both must outlive the Registry's last Expose().
  void WatchState(const index::Index* index, const index::Syncer* syncer);
  // Refreshes spegel_members, the peer-fetch families and the last-success gauge at every
  // scrape. `member_count` gives the other members; `stats` must outlive the last Expose().
  void WatchCluster(std::function<size_t()> member_count, const registry::PeerFetchStats* stats);
  // Refreshes the identity counters (collisions, renames, refused) from `cluster` at every
  // scrape (null: none). Must outlive the Registry's last Expose().
  void WatchIdentity(const cluster::ClusterView* cluster) { identity_ = cluster; }
  // Pull coalescing's series from `inflight` at every scrape (null: none). Must outlive the
  // Registry's last Expose().
  void WatchInflight(const registry::Inflight* inflight) { inflight_ = inflight; }
  const registry::Inflight* inflight() const { return inflight_; }

  // The generic HTTP metrics. `handler` is a bounded route label ("/v2/*", "/readyz", ...).
  void HttpStarted(std::string_view handler);
  void HttpFinished(std::string_view handler, std::string_view method, int code, double seconds,
                    uint64_t response_bytes);

  // A /v2/ request's response was handed to the server.
  void RegistryRequestDone(const RegistryRequest& request);

  // Totals for the status page.
  uint64_t requests_served() const { return requests_served_; }
  uint64_t local_hits() const { return local_hits_; }
  uint64_t local_misses() const { return local_misses_; }
  uint64_t local_bytes() const { return local_bytes_; }

  // A registry label value from an untrusted `ns`: the value itself when it looks like a host
  // ("docker.io", "127.0.0.1:5000", "[::1]:5000"), "none" when empty, else "invalid".
  static std::string RegistryLabel(std::string_view registry);
  // The registry part of a containerd image name ("docker.io/library/x:1" → "docker.io";
  // a name whose first component is not a host is docker.io's, as docker normalizes it).
  static std::string ImageRegistry(std::string_view image_name);

 private:
  void Refresh();

  const index::Index* index_ = nullptr;
  const index::Syncer* syncer_ = nullptr;
  std::function<size_t()> member_count_;
  const registry::PeerFetchStats* peer_stats_ = nullptr;
  Family* peer_fetches_;
  Family* peer_events_;
  Family* inflight_claims_;
  Family* inflight_events_;
  Family* inflight_bytes_;
  Family* inflight_sources_;
  Family* inflight_readers_;
  const registry::Inflight* inflight_ = nullptr;

  Family* http_duration_;
  Family* http_size_;
  Family* http_inflight_;
  Family* mirror_requests_;
  Family* mirror_last_success_;
  Family* advertised_tags_;
  Family* advertised_images_;
  Family* advertised_content_;
  Family* registry_requests_;
  Family* served_bytes_;
  Family* lookups_;
  Family* members_;
  Family* node_id_collisions_;
  Family* node_id_renames_;
  Family* membership_refused_;
  Family* membership_unlisted_;
  Family* membership_events_;
  const cluster::ClusterView* identity_ = nullptr;
  Family* index_images_;
  Family* index_blobs_;
  Family* index_tags_;
  Family* ready_;
  Family* connected_;
  Family* reconnects_;
  Family* full_syncs_;
  Family* blobs_gone_;
  Family* last_sync_seconds_;

  uint64_t requests_served_ = 0;
  uint64_t local_hits_ = 0;
  uint64_t local_misses_ = 0;
  uint64_t local_bytes_ = 0;
};

}  // namespace spegel::metrics
