#include "metrics/status.h"

#include <algorithm>
#include <cstdio>

#include "base/clock.h"
#include "base/json_escape.h"
#include "base/log.h"

namespace spegel::metrics {
namespace {

void Field(std::string* out, std::string_view name, std::string_view value, bool first = false) {
  if (!first) out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  AppendJsonString(out, value);
}

void Number(std::string* out, std::string_view name, uint64_t value) {
  out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  out->append(std::to_string(value));
}

void Real(std::string* out, std::string_view name, double value) {
  char buf[40];
  snprintf(buf, sizeof(buf), "%.3f", value);
  out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  out->append(buf);
}

void Flag(std::string* out, std::string_view name, bool value) {
  out->push_back(',');
  AppendJsonString(out, name);
  out->append(value ? ":true" : ":false");
}

void Traffic(std::string* out, const TrafficTotals& t) {
  out->append("{\"local\":" + std::to_string(t.local));
  Number(out, "peer", t.peer);
  Number(out, "inflight", t.inflight);
  Number(out, "not_found", t.not_found);
  Number(out, "peer_bytes", t.peer_bytes);
  Number(out, "inflight_bytes", t.inflight_bytes);
  out->push_back('}');
}

}  // namespace

int64_t UnixMs() { return static_cast<int64_t>(UnixNowMs()); }

StatusBoard::StatusBoard(Loop* loop, const index::Index* index, const index::Syncer* syncer,
                         const registry::Inflight* inflight, cluster::ClusterView* cluster,
                         NodeInfo node)
    : loop_(loop),
      index_(index),
      syncer_(syncer),
      inflight_(inflight),
      cluster_(cluster),
      node_(std::move(node)),
      started_(std::chrono::steady_clock::now()),
      history_(kHistorySteps),
      pulls_(kRecentPulls) {}

StatusBoard::~StatusBoard() = default;

void StatusBoard::Start() {
  history_.Record(UnixMs() / 1000, totals_);
  sampler_ = std::make_unique<Timer>(loop_);
  sampler_->Start(kStepMs, kStepMs, [this] { history_.Record(UnixMs() / 1000, totals_); });
  sampler_->Unref();
}

void StatusBoard::RequestEnded(const RequestRecord& r) {
  LOG_DEBUG("request")
      .Str("method", r.method)
      .Str("path", r.path)
      .Str("ns", r.registry)
      .Int("status", r.status)
      .Int("bytes", static_cast<int64_t>(r.bytes))
      .Double("seconds", r.seconds)
      .Str("source", r.source)
      .Str("peer", r.peer)
      .Bool("peer_request", r.mirrored)
      .Bool("complete", r.complete);
  if (r.kind != "manifest" && r.kind != "blob") return;
  if (r.source == "local") {
    ++totals_.local;
  } else if (r.source == "peer") {
    ++totals_.peer;
    if (!r.mirrored && r.complete) totals_.peer_bytes += r.bytes;
  } else if (r.source == "inflight") {
    ++totals_.inflight;
    if (!r.mirrored && r.complete && !r.peer.empty()) totals_.inflight_bytes += r.bytes;
  } else if (r.status == 404 && !r.mirrored) {
    ++totals_.not_found;
  }
  if (r.mirrored || r.method != "GET") return;
  PullRecord p;
  p.unix_ms = r.start_unix_ms;
  p.image = r.registry.empty() ? r.repository : r.registry + "/" + r.repository;
  p.reference = r.reference;
  p.kind = r.kind;
  p.source = r.source;
  p.peer = r.peer;
  p.status = r.status;
  p.bytes = r.bytes;
  p.seconds = r.seconds;
  p.complete = r.complete;
  pulls_.Add(std::move(p));
}

StatusSnapshot StatusBoard::Snapshot() const {
  constexpr size_t kMaxRows = 20;
  StatusSnapshot s;
  s.version = node_.version;
  s.registry_addr = node_.registry_addr;
  s.now_unix_ms = UnixMs();
  s.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s.containerd_connected = syncer_->connected();
  s.ready = syncer_->ready();
  if (!syncer_->connected()) s.not_ready.push_back("containerd is not connected");
  if (syncer_->connected() && !syncer_->synced()) {
    s.not_ready.push_back("the index is not synced with containerd yet");
  }
  s.startup_check = node_.startup_check;
  s.containerd_version = syncer_->containerd_version();
  s.content_store = syncer_->content_root();
  s.full_syncs = syncer_->full_syncs();
  s.last_sync_seconds = syncer_->last_sync_seconds();
  s.reconnects = syncer_->reconnects();
  s.images = index_->image_count();
  s.blobs = index_->blob_count();
  s.tags = index_->tag_count();
  s.blob_bytes = index_->blob_bytes();
  if (cluster_ != nullptr) {
    s.clustered = true;
    s.node_id = cluster_->self_id();
    s.node_id_collisions = cluster_->node_id_collisions();
    s.node_id_renames = cluster_->node_id_renames();
    s.foreign_refused = cluster_->foreign_refused();
    s.members = cluster_->Members();
    std::sort(s.members.begin(), s.members.end(),
              [](const cluster::MemberView& a, const cluster::MemberView& b) {
                return a.node_id < b.node_id;
              });
    s.claims_owned = cluster_->OwnedClaims(kMaxRows);
  }
  s.history_step_seconds = static_cast<int>(kStepMs / 1000);
  s.history = history_.Points(s.now_unix_ms / 1000, &totals_);
  s.totals = totals_;
  s.recent_pulls = pulls_.Newest();
  if (inflight_ != nullptr) {
    s.inflight_sharing = true;
    s.inflight = inflight_->stats();
    s.inflight_here = inflight_->Copies(kMaxRows);
  }
  return s;
}

std::string StatusJson(const StatusSnapshot& s) {
  std::string out = "{";
  Field(&out, "node_id", s.node_id, /*first=*/true);
  Field(&out, "version", s.version);
  Field(&out, "registry_addr", s.registry_addr);
  Number(&out, "now_unix_ms", static_cast<uint64_t>(s.now_unix_ms));
  Real(&out, "uptime_seconds", s.uptime_seconds);
  Flag(&out, "ready", s.ready);
  out.append(",\"not_ready\":[");
  for (size_t i = 0; i < s.not_ready.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(&out, s.not_ready[i]);
  }
  out.append("],\"startup_check\":[");
  for (size_t i = 0; i < s.startup_check.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(&out, s.startup_check[i]);
  }
  out.append("],\"containerd\":{");
  out.append(s.containerd_connected ? "\"connected\":true" : "\"connected\":false");
  Field(&out, "version", s.containerd_version);
  Field(&out, "content_store", s.content_store);
  Number(&out, "full_syncs", s.full_syncs);
  Real(&out, "last_sync_seconds", s.last_sync_seconds);
  Number(&out, "reconnects", s.reconnects);
  out.append("},\"holds\":{\"images\":" + std::to_string(s.images));
  Number(&out, "blobs", s.blobs);
  Number(&out, "tags", s.tags);
  Number(&out, "bytes", s.blob_bytes);
  out.append("}");
  Flag(&out, "clustered", s.clustered);
  Number(&out, "node_id_collisions", s.node_id_collisions);
  Number(&out, "node_id_renames", s.node_id_renames);
  Number(&out, "foreign_refused", s.foreign_refused);
  out.append(",\"members\":[");
  for (size_t i = 0; i < s.members.size(); ++i) {
    const cluster::MemberView& m = s.members[i];
    if (i) out.push_back(',');
    out.push_back('{');
    Field(&out, "node_id", m.node_id, /*first=*/true);
    Number(&out, "incarnation", m.incarnation);
    Field(&out, "address", m.address);
    Number(&out, "registry_port", m.registry_port);
    Field(&out, "sources", m.sources);
    Number(&out, "age_ms", m.age_ms);
    Number(&out, "expires_in_ms", m.expires_in_ms);
    Flag(&out, "avoided", m.avoided);
    out.push_back('}');
  }
  out.append("],\"history\":{\"step_seconds\":" + std::to_string(s.history_step_seconds) +
             ",\"points\":[");
  for (size_t i = 0; i < s.history.size(); ++i) {
    if (i) out.push_back(',');
    out.append("{\"end_unix_s\":" + std::to_string(s.history[i].end_unix_s) + ",\"delta\":");
    Traffic(&out, s.history[i].delta);
    out.push_back('}');
  }
  out.append("]},\"totals\":");
  Traffic(&out, s.totals);
  out.append(",\"recent_pulls\":[");
  for (size_t i = 0; i < s.recent_pulls.size(); ++i) {
    const PullRecord& p = s.recent_pulls[i];
    if (i) out.push_back(',');
    out.append("{\"unix_ms\":" + std::to_string(p.unix_ms));
    Field(&out, "image", p.image);
    Field(&out, "reference", p.reference);
    Field(&out, "kind", p.kind);
    Field(&out, "source", p.source);
    Field(&out, "peer", p.peer);
    Number(&out, "status", static_cast<uint64_t>(p.status));
    Number(&out, "bytes", p.bytes);
    Real(&out, "seconds", p.seconds);
    Flag(&out, "complete", p.complete);
    out.push_back('}');
  }
  out.append("],\"inflight\":{");
  out.append(s.inflight_sharing ? "\"enabled\":true" : "\"enabled\":false");
  Number(&out, "claims_fetch", s.inflight.claims_fetch);
  Number(&out, "claims_follow", s.inflight.claims_follow);
  Number(&out, "claims_have", s.inflight.claims_have);
  Number(&out, "claims_decline", s.inflight.claims_decline);
  Number(&out, "bytes_served_to_peers", s.inflight.bytes_served);
  Number(&out, "upstream_avoided", s.inflight.upstream_avoided);
  out.append(",\"here\":[");
  for (size_t i = 0; i < s.inflight_here.size(); ++i) {
    const registry::InflightCopy& c = s.inflight_here[i];
    if (i) out.push_back(',');
    out.push_back('{');
    Field(&out, "digest", c.digest, /*first=*/true);
    Field(&out, "role", c.role);
    Number(&out, "size", c.size);
    Number(&out, "total", c.total);
    Number(&out, "readers", c.readers);
    Field(&out, "state", c.state);
    out.push_back('}');
  }
  out.append("],\"claims_owned\":[");
  for (size_t i = 0; i < s.claims_owned.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('{');
    Field(&out, "key", s.claims_owned[i].first, /*first=*/true);
    Field(&out, "claim", s.claims_owned[i].second);
    out.push_back('}');
  }
  out.append("]}}\n");
  return out;
}

}  // namespace spegel::metrics
