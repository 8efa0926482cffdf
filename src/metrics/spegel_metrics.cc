#include "metrics/spegel_metrics.h"

#include <map>
#include <string>
#include <unordered_set>

namespace spegel::metrics {
namespace {

// Client-chosen registry values: few distinct ones are legitimate, so cap them low.
constexpr size_t kMaxRegistrySeries = 200;
constexpr size_t kMaxRegistryLabelBytes = 255;

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
}

}  // namespace

SpegelMetrics::SpegelMetrics(Registry* registry) {
  Registry& r = *registry;
  mirror_requests_ = r.AddCounter(
      "spegel_mirror_requests_total",
      "Content requests not served from this node (upstream: mirror handler invocations), by "
      "registry and cache result.",
      {"registry", "cache"}, kMaxRegistrySeries);
  mirror_last_success_ = r.AddGauge("spegel_mirror_last_success_timestamp_seconds",
                                    "Unix time of the last successful fetch from a peer.");
  advertised_tags_ = r.AddGauge("spegel_advertised_image_tags",
                                "Image tags this node advertises, by registry.", {"registry"});
  advertised_images_ = r.AddGauge("spegel_advertised_image_digests",
                                  "Image root digests this node advertises, by registry.",
                                  {"registry"});
  advertised_content_ = r.AddGauge("spegel_advertised_content_digests",
                                   "Content digests this node advertises, by registry.",
                                   {"registry"});
  http_duration_ = r.AddHistogram("http_request_duration_seconds",
                                  "Time from request head to response head, in seconds.",
                                  {"handler", "method", "code"}, DefaultBuckets());
  http_size_ = r.AddHistogram("http_response_size_bytes", "Response body size in bytes.",
                              {"handler", "method", "code"}, ExponentialBuckets(1024, 5, 10));
  http_inflight_ = r.AddGauge("http_requests_inflight", "Requests being handled.", {"handler"});
  registry_requests_ = r.AddCounter(
      "spegel_registry_requests_total",
      "Registry API requests by registry, path kind, method, status code and cache result "
      "(hit: served from this node; miss: not held here; none: other answers).",
      {"registry", "kind", "method", "code", "cache"}, 5 * kMaxRegistrySeries);
  served_bytes_ = r.AddCounter("spegel_served_bytes_total",
                               "Body bytes of content responses started, by source (local: this "
                               "node's content store; peer: streamed from another node).",
                               {"source"});
  lookups_ = r.AddCounter("spegel_lookups_total",
                          "Lookups of manifests and blobs in this node's index, by result.",
                          {"kind", "result"});
  members_ = r.AddGauge("spegel_members", "Known cluster members, this node included.");
  node_id_collisions_ = r.AddCounter(
      "spegel_node_id_collisions_total",
      "Messages from another node using this node's id; give each node its own --node-id.");
  node_id_renames_ = r.AddCounter(
      "spegel_node_id_renames_total",
      "Times this node's default id was taken by another node and it moved to a fallback id.");
  membership_refused_ =
      r.AddCounter("spegel_membership_refused_total",
                   "Messages naming a member from an address it is not bound to, refused.");
  membership_unlisted_ = r.AddCounter(
      "spegel_membership_unlisted_refused_total",
      "Hellos refused because no discovery source (DNS answer, static list, bootstrap document, "
      "mDNS) names their address.");
  membership_events_ =
      r.AddCounter("spegel_membership_events_total",
                   "Members that joined (or restarted), expired, said goodbye, or were replaced "
                   "by another id at their address.",
                   {"event"});
  index_images_ = r.AddGauge("spegel_index_images", "Images in the index.");
  index_blobs_ = r.AddGauge("spegel_index_blobs", "Blobs (digests) in the index.");
  index_tags_ = r.AddGauge("spegel_index_tags", "Tag references in the index.");
  ready_ = r.AddGauge("spegel_ready", "1 when containerd is connected and the index synced.");
  connected_ = r.AddGauge("spegel_containerd_connected",
                          "1 while the containerd event stream is connected.");
  reconnects_ = r.AddCounter("spegel_containerd_reconnects_total",
                             "Reconnections to containerd after the event stream broke.");
  full_syncs_ = r.AddCounter("spegel_index_full_syncs_total",
                             "Completed full syncs of the index with containerd.");
  blobs_gone_ = r.AddCounter(
      "spegel_index_blobs_gone_total",
      "Blobs the index listed that were gone from the content store when served (GC); each "
      "was dropped and withdrawn, and the request went to the peers.");
  last_sync_seconds_ = r.AddGauge("spegel_index_last_sync_duration_seconds",
                                  "Duration of the last full sync, in seconds.");

  // Series that exist from the start, so a scrape shows them at 0.
  served_bytes_->With({"local"});
  served_bytes_->With({"peer"});
  for (const char* kind : {"manifest", "blob"}) {
    for (const char* result : {"hit", "miss"}) lookups_->With({kind, result});
  }
  // No cluster layer yet: the membership is this node.
  members_->GaugeWith({}).Set(1);
  peer_fetches_ = r.AddCounter("spegel_peer_fetches_total",
                               "Local misses answered through the cluster, by result (served, "
                               "not_found, failed: aborted mid-answer).",
                               {"result"});
  peer_events_ = r.AddCounter("spegel_peer_fetch_events_total",
                              "Peer fetch events: hedge (second peer asked), resume (broken blob "
                              "continued with Range), digest_mismatch (a peer sent wrong bytes).",
                              {"event"});
  for (const char* result : {"served", "not_found", "failed"}) peer_fetches_->With({result});
  for (const char* event : {"hedge", "resume", "digest_mismatch"}) peer_events_->With({event});
  inflight_claims_ = r.AddCounter("spegel_inflight_claims_total",
                                  "Pull coalescing: this node's claims of blobs it missed, by the "
                                  "owner's answer (fetch: this node downloads; follow: it streams "
                                  "a download in flight; have; decline: no coalescing).",
                                  {"answer"});
  inflight_events_ = r.AddCounter("spegel_inflight_reader_events_total",
                                  "Peer GETs of this node's in-flight copies: served, refused "
                                  "(fan-out reached, copy dead or revoked), failed (ended early), "
                                  "digest_mismatch (a copy hashed wrong); manifest_served and "
                                  "manifest_expired (peer GETs of a manifest this node fetched, "
                                  "answered once committed, or 404 after the wait).",
                                  {"event"});
  inflight_bytes_ = r.AddCounter("spegel_inflight_bytes_total",
                                 "Bytes sent to peers from in-flight copies (served), and blob "
                                 "bytes this node streamed from others' downloads instead of the "
                                 "upstream (upstream_avoided, from the sizes).",
                                 {"kind"});
  inflight_sources_ = r.AddGauge("spegel_inflight_sources",
                                 "In-flight copies this node offers to peers now.", {});
  inflight_readers_ = r.AddGauge("spegel_inflight_readers",
                                 "Peers reading this node's in-flight copies now (at most the "
                                 "fan-out per copy).",
                                 {});
  for (const char* a : {"fetch", "follow", "have", "decline"}) inflight_claims_->With({a});
  for (const char* e :
       {"served", "refused", "failed", "digest_mismatch", "manifest_served", "manifest_expired"}) {
    inflight_events_->With({e});
  }
  for (const char* k : {"served", "upstream_avoided"}) inflight_bytes_->With({k});
  r.AddCollector([this] { Refresh(); });
}

void SpegelMetrics::WatchState(const index::Index* index, const index::Syncer* syncer) {
  index_ = index;
  syncer_ = syncer;
}

void SpegelMetrics::HttpStarted(std::string_view handler) {
  http_inflight_->GaugeWith({std::string(handler)}).Inc();
}

void SpegelMetrics::HttpFinished(std::string_view handler, std::string_view method, int code,
                                 double seconds, uint64_t response_bytes) {
  const std::vector<std::string> labels{std::string(handler), std::string(method),
                                        std::to_string(code)};
  http_inflight_->GaugeWith({std::string(handler)}).Dec();
  http_duration_->HistogramWith(labels).Observe(seconds);
  http_size_->HistogramWith(labels).Observe(static_cast<double>(response_bytes));
}

void SpegelMetrics::RegistryRequestDone(const RegistryRequest& request) {
  ++requests_served_;
  const std::string registry = RegistryLabel(request.registry);
  const bool content = request.kind == "manifest" || request.kind == "blob";
  const bool answered = content && (request.code == 200 || request.code == 206);
  const bool hit = answered && !request.from_peer;
  const bool miss = content && (request.code == 404 || (answered && request.from_peer));
  const char* cache = hit ? "hit" : miss ? "miss" : "none";
  registry_requests_
      ->With({registry, std::string(request.kind), std::string(request.method),
              std::to_string(request.code), cache})
      .Inc();
  if (hit || miss) {
    lookups_->With({std::string(request.kind), cache}).Inc();
  }
  if (hit) {
    ++local_hits_;
    local_bytes_ += request.body_bytes;
    served_bytes_->With({"local"}).Inc(static_cast<double>(request.body_bytes));
  }
  if (miss) {
    ++local_misses_;
    // Upstream hands these to its mirror handler (peers), unless a peer sent them: a hit when a
    // peer answered, a miss when none had it.
    if (!request.mirrored) mirror_requests_->With({registry, answered ? "hit" : "miss"}).Inc();
  }
}

std::string SpegelMetrics::RegistryLabel(std::string_view registry) {
  if (registry.empty()) return "none";
  if (registry.size() > kMaxRegistryLabelBytes) return "invalid";
  for (char c : registry) {
    if (!IsHostChar(c)) return "invalid";
  }
  return std::string(registry);
}

std::string SpegelMetrics::ImageRegistry(std::string_view image_name) {
  const size_t slash = image_name.find('/');
  if (slash == std::string_view::npos) return "docker.io";
  const std::string_view first = image_name.substr(0, slash);
  if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
      first == "localhost") {
    return std::string(first);
  }
  return "docker.io";
}

void SpegelMetrics::WatchCluster(std::function<size_t()> member_count,
                                 const registry::PeerFetchStats* stats) {
  member_count_ = std::move(member_count);
  peer_stats_ = stats;
}

void SpegelMetrics::Refresh() {
  if (member_count_) members_->GaugeWith({}).Set(static_cast<double>(member_count_() + 1));
  if (identity_ != nullptr) {
    node_id_collisions_->With({}).SetTotal(static_cast<double>(identity_->node_id_collisions()));
    node_id_renames_->With({}).SetTotal(static_cast<double>(identity_->node_id_renames()));
    membership_refused_->With({}).SetTotal(static_cast<double>(identity_->foreign_refused()));
    const cluster::MembershipEvents e = identity_->membership_events();
    membership_unlisted_->With({}).SetTotal(static_cast<double>(e.unlisted_refused));
    membership_events_->With({"joined"}).SetTotal(static_cast<double>(e.joins));
    membership_events_->With({"expired"}).SetTotal(static_cast<double>(e.expirations));
    membership_events_->With({"goodbye"}).SetTotal(static_cast<double>(e.goodbyes));
    membership_events_->With({"replaced"}).SetTotal(static_cast<double>(e.replacements));
  }
  if (peer_stats_ != nullptr) {
    const registry::PeerFetchStats& s = *peer_stats_;
    peer_fetches_->With({"served"}).SetTotal(static_cast<double>(s.served));
    peer_fetches_->With({"not_found"}).SetTotal(static_cast<double>(s.not_found));
    peer_fetches_->With({"failed"}).SetTotal(static_cast<double>(s.failed));
    peer_events_->With({"hedge"}).SetTotal(static_cast<double>(s.hedges));
    peer_events_->With({"resume"}).SetTotal(static_cast<double>(s.resumes));
    peer_events_->With({"digest_mismatch"}).SetTotal(static_cast<double>(s.digest_mismatches));
    served_bytes_->With({"peer"}).SetTotal(static_cast<double>(s.peer_bytes));
    mirror_last_success_->GaugeWith({}).Set(s.last_success_unix_seconds);
  }
  if (inflight_ != nullptr) {
    const registry::InflightStats s = inflight_->stats();
    inflight_claims_->With({"fetch"}).SetTotal(static_cast<double>(s.claims_fetch));
    inflight_claims_->With({"follow"}).SetTotal(static_cast<double>(s.claims_follow));
    inflight_claims_->With({"have"}).SetTotal(static_cast<double>(s.claims_have));
    inflight_claims_->With({"decline"}).SetTotal(static_cast<double>(s.claims_decline));
    inflight_events_->With({"served"}).SetTotal(static_cast<double>(s.readers));
    inflight_events_->With({"refused"}).SetTotal(static_cast<double>(s.refused));
    inflight_events_->With({"failed"}).SetTotal(static_cast<double>(s.readers_failed));
    inflight_events_->With({"digest_mismatch"}).SetTotal(static_cast<double>(s.digest_mismatches));
    inflight_events_->With({"manifest_served"}).SetTotal(static_cast<double>(s.manifests_served));
    inflight_events_->With({"manifest_expired"}).SetTotal(static_cast<double>(s.manifests_expired));
    inflight_bytes_->With({"served"}).SetTotal(static_cast<double>(s.bytes_served));
    inflight_bytes_->With({"upstream_avoided"}).SetTotal(static_cast<double>(s.upstream_avoided));
    inflight_sources_->GaugeWith({}).Set(static_cast<double>(s.live_sources));
    inflight_readers_->GaugeWith({}).Set(static_cast<double>(s.live_readers));
  }
  if (syncer_ != nullptr) {
    ready_->GaugeWith({}).Set(syncer_->ready() ? 1 : 0);
    connected_->GaugeWith({}).Set(syncer_->connected() ? 1 : 0);
    reconnects_->With({}).SetTotal(static_cast<double>(syncer_->reconnects()));
    full_syncs_->With({}).SetTotal(static_cast<double>(syncer_->full_syncs()));
    blobs_gone_->With({}).SetTotal(static_cast<double>(syncer_->blobs_gone()));
    last_sync_seconds_->GaugeWith({}).Set(syncer_->last_sync_seconds());
  }
  if (index_ == nullptr) return;
  index_images_->GaugeWith({}).Set(static_cast<double>(index_->image_count()));
  index_blobs_->GaugeWith({}).Set(static_cast<double>(index_->blob_count()));
  index_tags_->GaugeWith({}).Set(static_cast<double>(index_->tag_count()));

  struct PerRegistry {
    std::unordered_set<std::string> tags;
    std::unordered_set<std::string> roots;
    std::unordered_set<std::string> content;
  };
  std::map<std::string, PerRegistry> by_registry;
  index_->ForEachImage([&](const index::ImageWalk& walk) {
    if (walk.blobs.empty()) return;  // Nothing of it is present: nothing to advertise.
    PerRegistry& r = by_registry[ImageRegistry(walk.name)];
    if (walk.tag_key && index_->ResolveTag(*walk.tag_key)) r.tags.insert(*walk.tag_key);
    r.roots.insert(walk.target.str());
    for (const auto& [digest, info] : walk.blobs) r.content.insert(digest.str());
  });
  // Recomputed from scratch, so a registry whose last image went away disappears.
  advertised_tags_->Clear();
  advertised_images_->Clear();
  advertised_content_->Clear();
  for (const auto& [registry, r] : by_registry) {
    advertised_tags_->GaugeWith({registry}).Set(static_cast<double>(r.tags.size()));
    advertised_images_->GaugeWith({registry}).Set(static_cast<double>(r.roots.size()));
    advertised_content_->GaugeWith({registry}).Set(static_cast<double>(r.content.size()));
  }
}

}  // namespace spegel::metrics
