#include "metrics/metrics_handler.h"

#include "base/json_escape.h"
#include "index/debug_json.h"
#include "metrics/status_page.h"
#include "registry/route.h"

namespace spegel::metrics {
namespace {

constexpr char kPrometheusType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kHtml[] = "text/html; charset=utf-8";

void Send(http::Request& request, http::ResponseWriter& writer, int status,
          std::string_view content_type, std::string body) {
  http::Headers headers{{"Content-Type", std::string(content_type)}, {"Cache-Control", "no-store"}};
  if (request.method() == http::Method::kHead) {
    writer.RespondHead(status, std::move(headers), body.size());
  } else {
    writer.Respond(status, std::move(headers), std::move(body));
  }
}

}  // namespace

MetricsHandler::MetricsHandler(Registry* registry, StatusBoard* board, const index::Index* index,
                               const index::Syncer* syncer, Measure* measure)
    : registry_(registry), board_(board), index_(index), syncer_(syncer), measure_(measure) {}

StatusSnapshot MetricsHandler::Snapshot() const {
  StatusSnapshot s = board_->Snapshot();
  s.measure_enabled = measure_ != nullptr && board_->node().status_page;
  return s;
}

void MetricsHandler::Handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = request.path();
  // /debug/web/ is where upstream's debug page is: bookmarks keep working.
  const bool status_page = path == "/" || path == "/debug/web/";
  const bool measure = path == "/debug/measure" && measure_ != nullptr;
  const bool known = ((status_page || measure) && board_->node().status_page) ||
                     path == "/metrics" || path == "/readyz" || path == "/livez" ||
                     path == "/debug/status" || path == "/debug/index" ||
                     path == "/debug/members" || path == "/debug/routing";
  if (!known) return Send(request, writer, 404, "text/plain", "not found\n");
  if (request.method() != http::Method::kGet && request.method() != http::Method::kHead) {
    http::Headers headers{{"Allow", "GET, HEAD"}, {"Content-Type", "text/plain"}};
    writer.Respond(405, std::move(headers), "method not allowed\n");
    return;
  }
  if (path == "/metrics") return Send(request, writer, 200, kPrometheusType, registry_->Expose());
  if (status_page) {
    return Send(request, writer, 200, kHtml, RenderStatusPage(Snapshot()));
  }
  if (path == "/debug/status") {
    return Send(request, writer, 200, "application/json", StatusJson(Snapshot()));
  }
  if (measure) return MeasureRoute(request, writer);
  if (path == "/readyz") {
    const bool ready = syncer_->ready();
    return Send(request, writer, ready ? 200 : 503, "text/plain", ready ? "ok\n" : "not ready\n");
  }
  if (path == "/livez") return Send(request, writer, 200, "text/plain", "ok\n");
  if (path == "/debug/index") return Send(request, writer, 200, "application/json", DebugIndex());
  if (path == "/debug/members") {
    return Send(request, writer, 200, "application/json",
                board_->cluster() != nullptr ? board_->cluster()->MembersJson() : DebugMembers());
  }
  if (board_->cluster() != nullptr) return ClusterRouting(request, writer);
  Send(request, writer, 200, "application/json", DebugRouting());
}

void MetricsHandler::ClusterRouting(http::Request& request, http::ResponseWriter& writer) {
  auto key = registry::QueryParam(request.query(), "key");
  if (!key.ok()) return Send(request, writer, 400, "text/plain", key.status().message() + "\n");
  const bool head = request.method() == http::Method::kHead;
  board_->cluster()->RoutingJson(key->value_or(""), 500,
                                 [client = writer.LivenessToken(), head,
                                  &writer](std::string body) {
                                   // The client went away: the answer is dropped.
                                   if (!client.alive()) return;
                                   http::Headers headers{{"Content-Type", "application/json"}};
                                   if (head) {
                                     writer.RespondHead(200, std::move(headers), body.size());
                                   } else {
                                     writer.Respond(200, std::move(headers), std::move(body));
                                   }
                                 });
}

void MetricsHandler::MeasureRoute(http::Request& request, http::ResponseWriter& writer) {
  auto typed = http::QueryParam(request.query(), "image");
  const std::string image = typed.ok() && typed->has_value() ? **typed : std::string();
  auto parsed = ParseMeasureQuery(request.query());
  if (!parsed.ok()) {
    return Send(request, writer, 400, kHtml,
                RenderMeasurePage(image, parsed.status().message(), nullptr));
  }
  if (!parsed->has_value() || request.method() == http::Method::kHead) {
    return Send(request, writer, 200, kHtml, RenderMeasurePage(image, "", nullptr));
  }
  if (measure_->Busy()) {
    http::Headers headers{{"Content-Type", kHtml}, {"Retry-After", "5"}};
    writer.Respond(429, std::move(headers),
                   RenderMeasurePage(image, "A measure is running; try again in a moment.",
                                     nullptr));
    return;
  }
  measure_->Run(**parsed,
                [client = writer.LivenessToken(), image, &writer](const MeasureResult& result) {
                  if (!client.alive()) return;  // The client went away: the result is dropped.
                  http::Headers headers{{"Content-Type", kHtml}, {"Cache-Control", "no-store"}};
                  writer.Respond(200, std::move(headers), RenderMeasurePage(image, "", &result));
                });
}

std::string MetricsHandler::DebugIndex() const { return index::DebugIndexJson(*index_, *syncer_); }

std::string MetricsHandler::DebugMembers() const {
  std::string body = "{\"members\":[{\"self\":true,\"registry_addr\":";
  AppendJsonString(&body, board_->node().registry_addr);
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

}  // namespace spegel::metrics
