#include "metrics/metrics_handler.h"

#include <cstdio>

#include "base/json_escape.h"
#include "index/debug_json.h"
#include "loop/liveness.h"
#include "registry/route.h"

namespace spegel::metrics {
namespace {

constexpr char kPrometheusType[] = "text/plain; version=0.0.4; charset=utf-8";

void Send(http::Request& request, http::ResponseWriter& writer, int status,
          std::string_view content_type, std::string body) {
  http::Headers headers{{"Content-Type", std::string(content_type)}, {"Cache-Control", "no-store"}};
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), body.size());
  } else {
    writer.Respond(status, std::move(headers), std::move(body));
  }
}

void Row(std::string* out, std::string_view name, std::string_view value) {
  out->append("<tr><th>");
  out->append(HtmlEscape(name));
  out->append("</th><td>");
  out->append(HtmlEscape(value));
  out->append("</td></tr>\n");
}

std::string Seconds(double s) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.3f s", s);
  return buf;
}

}  // namespace

MetricsHandler::MetricsHandler(Registry* registry, SpegelMetrics* metrics,
                               const index::Index* index, const index::Syncer* syncer,
                               NodeInfo node, cluster::ClusterNode* cluster)
    : cluster_(cluster),
      registry_(registry),
      metrics_(metrics),
      index_(index),
      syncer_(syncer),
      node_(std::move(node)),
      started_(std::chrono::steady_clock::now()) {}

void MetricsHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = request.path();
  // /debug/web/ is where upstream's debug page is: bookmarks keep working.
  const bool status_page = path == "/" || path == "/debug/web/";
  const bool known = (status_page && node_.status_page) || path == "/metrics" ||
                     path == "/readyz" || path == "/livez" || path == "/debug/index" ||
                     path == "/debug/members" || path == "/debug/routing";
  if (!known) return Send(request, writer, 404, "text/plain", "not found\n");
  if (request.method() != http::Method::kGet && request.method() != http::Method::kHead) {
    http::Headers headers{{"Allow", "GET, HEAD"}, {"Content-Type", "text/plain"}};
    writer.Respond(405, std::move(headers), "method not allowed\n");
    return;
  }
  if (path == "/metrics") return Send(request, writer, 200, kPrometheusType, registry_->Expose());
  if (status_page) return Send(request, writer, 200, "text/html; charset=utf-8", StatusPage());
  if (path == "/readyz") {
    const bool ready = syncer_->ready();
    return Send(request, writer, ready ? 200 : 503, "text/plain", ready ? "ok\n" : "not ready\n");
  }
  if (path == "/livez") return Send(request, writer, 200, "text/plain", "ok\n");
  if (path == "/debug/index") return Send(request, writer, 200, "application/json", DebugIndex());
  if (path == "/debug/members") {
    return Send(request, writer, 200, "application/json",
                cluster_ != nullptr ? cluster_->MembersJson() : DebugMembers());
  }
  if (cluster_ != nullptr) return ClusterRouting(request, writer);
  Send(request, writer, 200, "application/json", DebugRouting());
}

void MetricsHandler::ClusterRouting(http::Request& request, http::ResponseWriter& writer) {
  auto key = registry::QueryParam(request.query(), "key");
  if (!key.ok()) return Send(request, writer, 400, "text/plain", key.status().message() + "\n");
  // The writer stays valid until the response is sent or the client goes away.
  // Revoked when the client goes away; both callbacks hold it, so only an abort revokes it.
  auto writer_alive = std::make_shared<Liveness>();
  writer.SetAbortCallback([writer_alive] { writer_alive->Revoke(); });
  const bool head = request.method() == http::Method::kHead;
  cluster_->RoutingJson(key->value_or(""), 500, [writer_alive, head, &writer](std::string body) {
    if (!writer_alive->token().alive()) return;
    http::Headers headers{{"Content-Type", "application/json"}};
    if (head) {
      writer.RespondHead(200, std::move(headers), body.size());
    } else {
      writer.Respond(200, std::move(headers), std::move(body));
    }
  });
}

std::string MetricsHandler::StatusPage() const {
  std::string out;
  out.append(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Spegel</title>\n"
      "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:2em}"
      "</style></head><body>\n<h1>Spegel</h1>\n<table>\n");
  const bool ready = syncer_->ready();
  Row(&out, "Ready", ready ? "yes" : "no");
  Row(&out, "Version", node_.version);
  Row(&out, "Registry address", node_.registry_addr);
  const double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  Row(&out, "Uptime", Seconds(uptime));
  Row(&out, "containerd", syncer_->connected() ? "connected" : "disconnected");
  Row(&out, "containerd version",
      syncer_->containerd_version().empty() ? "unknown" : syncer_->containerd_version());
  Row(&out, "Content store",
      syncer_->content_root().empty() ? "read through containerd" : syncer_->content_root());
  Row(&out, "Index synced", syncer_->synced() ? "yes" : "no");
  Row(&out, "Last full sync",
      syncer_->full_syncs() == 0 ? std::string("pending")
                                 : "took " + Seconds(syncer_->last_sync_seconds()));
  Row(&out, "Full syncs", std::to_string(syncer_->full_syncs()));
  Row(&out, "containerd reconnects", std::to_string(syncer_->reconnects()));
  Row(&out, "Images", std::to_string(index_->image_count()));
  Row(&out, "Blobs", std::to_string(index_->blob_count()));
  Row(&out, "Tags", std::to_string(index_->tag_count()));
  Row(&out, "Registry requests served", std::to_string(metrics_->requests_served()));
  Row(&out, "Served from this node", std::to_string(metrics_->local_hits()));
  Row(&out, "Not held here", std::to_string(metrics_->local_misses()));
  Row(&out, "Bytes served from this node", std::to_string(metrics_->local_bytes()));
  InFlight(&out);
  out.append(
      "</table>\n<p><a href=\"/metrics\">metrics</a> · <a href=\"/debug/index\">index</a> · "
      "<a href=\"/debug/members\">members</a> · <a href=\"/debug/routing\">routing</a></p>\n"
      "</body></html>\n");
  return out;
}

void MetricsHandler::InFlight(std::string* out) const {
  constexpr size_t kMaxRows = 20;
  if (const registry::Inflight* inflight = metrics_->inflight()) {
    const registry::InflightStats s = inflight->stats();
    Row(out, "Claims (fetch / follow / have / decline)",
        std::to_string(s.claims_fetch) + " / " + std::to_string(s.claims_follow) + " / " +
            std::to_string(s.claims_have) + " / " + std::to_string(s.claims_decline));
    Row(out, "In-flight bytes served to peers", std::to_string(s.bytes_served));
    Row(out, "Upstream bytes avoided (followed downloads)", std::to_string(s.upstream_avoided));
    for (const registry::InflightCopy& c : inflight->Copies(kMaxRows)) {
      Row(out, "In flight here: " + c.digest,
          c.role + ", " + std::to_string(c.size) + " of " + std::to_string(c.total) + " bytes, " +
              std::to_string(c.readers) + " readers, " + c.state);
    }
  }
  if (cluster_ != nullptr) {
    for (const auto& [key, description] : cluster_->OwnedClaims(kMaxRows)) {
      Row(out, "Claim owned here: " + key, description);
    }
  }
}

std::string MetricsHandler::DebugIndex() const { return index::DebugIndexJson(*index_, *syncer_); }

std::string MetricsHandler::DebugMembers() const {
  std::string body = "{\"members\":[{\"self\":true,\"registry_addr\":";
  AppendJsonString(&body, node_.registry_addr);
  body.append(",\"ready\":");
  body.append(syncer_->ready() ? "true" : "false");
  body.append("}],\"sources\":[]}\n");
  return body;
}

std::string MetricsHandler::DebugRouting() const {
  size_t tags = 0;
  size_t roots = 0;
  index_->ForEachImage([&](const index::ImageWalk& walk) {
    if (walk.blobs.empty()) return;
    ++roots;
    if (walk.tag_key) ++tags;
  });
  std::string body = "{\"peers\":[],\"advertised\":{\"tags\":";
  body.append(std::to_string(tags));
  body.append(",\"image_digests\":");
  body.append(std::to_string(roots));
  body.append(",\"content_digests\":");
  body.append(std::to_string(index_->blob_count()));
  body.append("}}\n");
  return body;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out.append("&amp;"); break;
      case '<': out.append("&lt;"); break;
      case '>': out.append("&gt;"); break;
      case '"': out.append("&quot;"); break;
      case '\'': out.append("&#39;"); break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace spegel::metrics
