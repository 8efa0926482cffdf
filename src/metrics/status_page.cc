#include "metrics/status_page.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace spegel::metrics {
namespace {

constexpr char kStyle[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}"
    "header{background:#24292f;color:#fff;padding:14px 24px;display:flex;gap:18px;"
    "align-items:baseline;flex-wrap:wrap}"
    "header h1{margin:0;font-size:22px}header .meta{color:#c9d1d9;font-size:14px}"
    "main{padding:18px 24px;max-width:1100px}"
    "section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;"
    "margin-bottom:16px}"
    "h2{font-size:16px;margin:0 0 10px}table+h2,p+h2{margin-top:16px}"
    ".badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;"
    "font-size:14px}.ok{background:#2da44e;color:#fff}.bad{background:#cf222e;color:#fff}"
    ".cards{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:16px}"
    ".card{flex:1 1 180px;background:#fff;border:1px solid #d0d7de;border-radius:8px;"
    "padding:12px 16px}.card .v{font-size:24px;font-weight:600}.card .l{color:#57606a;"
    "font-size:13px}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;"
    "vertical-align:top}th{color:#57606a;font-weight:600}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".mono{font-family:ui-monospace,monospace;word-break:break-all}"
    ".legend span{display:inline-block;margin-right:14px;font-size:13px}"
    ".legend i{display:inline-block;width:11px;height:11px;margin-right:5px;"
    "vertical-align:-1px}"
    ".muted{color:#57606a}footer{padding:0 24px 24px;font-size:13px}"
    "form input[type=text]{width:420px;max-width:90%;padding:4px}";

struct Series {
  const char* name;
  const char* color;
  uint64_t TrafficTotals::*field;
};
constexpr Series kSeries[] = {
    {"served here", "#2da44e", &TrafficTotals::local},
    {"from a peer", "#0969da", &TrafficTotals::peer},
    {"from an in-flight copy", "#8250df", &TrafficTotals::inflight},
    {"not found (to upstream)", "#fb8500", &TrafficTotals::not_found},
};

std::string Fixed(double v, int digits) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string ClockTime(int64_t unix_ms) {
  const time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

// "1 node", "3 nodes".
std::string Plural(uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

// A digest reference shown short: "sha256:0123456789ab…".
std::string ShortRef(const std::string& ref) {
  if (ref.rfind("sha256:", 0) == 0 && ref.size() > 19) return ref.substr(0, 19) + "\u2026";
  return ref;
}

void Cell(std::string* out, std::string_view text, const char* cls = nullptr) {
  out->append(cls ? std::string("<td class=\"") + cls + "\">" : std::string("<td>"));
  out->append(HtmlEscape(text));
  out->append("</td>");
}

void Card(std::string* out, std::string_view id, std::string_view value, std::string_view label) {
  out->append("<div class=\"card\" id=\"");
  out->append(id);
  out->append("\"><div class=\"v\">");
  out->append(HtmlEscape(value));
  out->append("</div><div class=\"l\">");
  out->append(HtmlEscape(label));
  out->append("</div></div>");
}

void Readiness(std::string* out, const StatusSnapshot& s) {
  out->append(s.ready ? "<span class=\"badge ok\" id=\"ready\">ready</span>"
                      : "<span class=\"badge bad\" id=\"ready\">not ready</span>");
  if (!s.not_ready.empty()) {
    out->append("<ul id=\"not-ready\">");
    for (const std::string& why : s.not_ready) out->append("<li>" + HtmlEscape(why) + "</li>");
    out->append("</ul>");
  }
}

void Members(std::string* out, const StatusSnapshot& s) {
  if (s.node_id_renames > 0) {
    out->append(
        "<p id=\"renamed\" class=\"bad\" style=\"padding:6px 10px\">Another node took "
        "this node's default id, so it moved to " +
        HtmlEscape(s.node_id) + " (" + Plural(s.node_id_renames, "move") +
        "). Give each node its own --node-id.</p>");
  } else if (s.node_id_collisions > 0) {
    out->append("<p id=\"collision\" class=\"bad\" style=\"padding:6px 10px\">" +
                std::to_string(s.node_id_collisions) +
                " messages came from another node using this node's id (" + HtmlEscape(s.node_id) +
                "): the two do not see each other. Give each node its own --node-id.</p>");
  }
  if (s.foreign_refused > 0) {
    out->append("<p id=\"refused\" class=\"muted\">" + Plural(s.foreign_refused, "message") +
                " named a member from an address it is not bound to, and were refused.</p>");
  }
  out->append("<section id=\"members\"><h2>Members (" + Plural(s.members.size() + 1, "node") +
              ")</h2>");
  if (!s.clustered) {
    out->append("<p class=\"muted\">No cluster: this node serves its own content.</p></section>");
    return;
  }
  out->append(
      "<table><tr><th>node</th><th>address</th><th>learned from</th><th>seen for</th>"
      "<th>incarnation</th><th>state</th></tr>");
  out->append("<tr class=\"member self\"><td>" + HtmlEscape(s.node_id) +
              " <span class=\"muted\">(this node)</span></td><td class=\"mono\">listens on " +
              HtmlEscape(s.registry_addr) + "</td><td></td><td class=\"n\">" +
              HtmlEscape(HumanSeconds(s.uptime_seconds)) + "</td><td></td><td>" +
              (s.ready ? "ready" : "not ready") + "</td></tr>");
  for (const cluster::MemberView& m : s.members) {
    out->append("<tr class=\"member\">");
    Cell(out, m.node_id);
    Cell(out,
         m.address.empty() ? std::string("?") : m.address + ":" + std::to_string(m.registry_port),
         "mono");
    Cell(out, m.sources);
    Cell(out, HumanSeconds(static_cast<double>(m.age_ms) / 1000.0), "n");
    Cell(out, std::to_string(m.incarnation), "n");
    Cell(out, m.avoided ? "avoided (failed lately)" : "ok");
    out->append("</tr>");
  }
  out->append("</table></section>");
}

void Pulls(std::string* out, const StatusSnapshot& s) {
  out->append("<section id=\"pulls\"><h2>Last pulls by containerd</h2>");
  if (s.recent_pulls.empty()) {
    out->append("<p class=\"muted\">None yet.</p></section>");
    return;
  }
  out->append(
      "<table><tr><th>time (UTC)</th><th>image</th><th>reference</th><th>kind</th>"
      "<th>source</th><th>size</th><th>duration</th><th>status</th></tr>");
  for (const PullRecord& p : s.recent_pulls) {
    out->append("<tr class=\"pull\">");
    Cell(out, ClockTime(p.unix_ms));
    Cell(out, p.image, "mono");
    Cell(out, ShortRef(p.reference), "mono");
    Cell(out, p.kind);
    Cell(out, p.peer.empty() ? p.source : p.source + " (" + p.peer + ")");
    // A non-2xx answer's bytes are its error document, not the content's.
    Cell(out, p.status >= 200 && p.status < 300 ? HumanBytes(p.bytes) : std::string("-"), "n");
    Cell(out, HumanSeconds(p.seconds), "n");
    Cell(out, std::to_string(p.status) + (p.complete ? "" : ", cut short"));
    out->append("</tr>");
  }
  out->append("</table></section>");
}

void Coalescing(std::string* out, const StatusSnapshot& s) {
  out->append("<section id=\"coalescing\"><h2>Pull coalescing</h2>");
  if (!s.inflight_sharing) {
    out->append("<p class=\"muted\">Off (--inflight-sharing=false).</p>");
  } else {
    const registry::InflightStats& i = s.inflight;
    out->append("<p>Claims answered for this node: " + std::to_string(i.claims_fetch) + " fetch, " +
                std::to_string(i.claims_follow) + " follow, " + std::to_string(i.claims_have) +
                " have, " + std::to_string(i.claims_decline) +
                " declined. Served to peers from downloads in flight: " +
                HtmlEscape(HumanBytes(i.bytes_served)) + ".</p>");
    out->append("<h2>In flight here</h2>");
    if (s.inflight_here.empty()) {
      out->append("<p class=\"muted\">Nothing.</p>");
    } else {
      out->append(
          "<table><tr><th>digest</th><th>role</th><th>progress</th><th>readers</th>"
          "<th>state</th></tr>");
      for (const registry::InflightCopy& c : s.inflight_here) {
        out->append("<tr class=\"inflight\">");
        Cell(out, c.digest, "mono");
        Cell(out, c.role);
        Cell(out, HumanBytes(c.size) + " of " + HumanBytes(c.total), "n");
        Cell(out, std::to_string(c.readers), "n");
        Cell(out, c.state);
        out->append("</tr>");
      }
      out->append("</table>");
    }
  }
  if (s.clustered) {
    out->append("<h2>Claims this node owns</h2>");
    if (s.claims_owned.empty()) {
      out->append("<p class=\"muted\">None.</p>");
    } else {
      out->append("<table><tr><th>key</th><th>claim</th></tr>");
      for (const auto& [key, claim] : s.claims_owned) {
        out->append("<tr class=\"claim\">");
        Cell(out, key, "mono");
        Cell(out, claim);
        out->append("</tr>");
      }
      out->append("</table>");
    }
  }
  out->append("</section>");
}

void MeasureForm(std::string* out, std::string_view image) {
  out->append(
      "<section id=\"measure\"><h2>Measure</h2><form action=\"/debug/measure\" method=\"get\">"
      "<label>Image <input type=\"text\" name=\"image\" placeholder=\"docker.io/library/"
      "nginx:1.27\" value=\"");
  out->append(HtmlEscape(image));
  out->append(
      "\"></label> <button type=\"submit\">Pull through the peers</button></form>"
      "<p class=\"muted\">Resolves the image through the cluster (never the upstream), fetches "
      "every blob from the peers that have it and discards the bytes; one measure at a time, "
      "at most 60 s and 2 GiB.</p></section>");
}

void Head(std::string* out, std::string_view title) {
  out->append(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
  out->append(HtmlEscape(title));
  out->append("</title><style>");
  out->append(kStyle);
  out->append("</style></head><body>\n");
}

}  // namespace

std::string RenderMeasurePage(std::string_view image, std::string_view message,
                              const MeasureResult* result) {
  std::string out;
  Head(&out, "Spegel \u2014 measure");
  out.append(
      "<header><h1>Spegel</h1><span class=\"meta\"><a style=\"color:#c9d1d9\" "
      "href=\"/\">status page</a></span></header>\n<main>\n");
  MeasureForm(&out, image);
  if (!message.empty()) {
    out.append("<section id=\"message\"><p>" + HtmlEscape(message) + "</p></section>");
  }
  if (result != nullptr) {
    out.append("<section id=\"result\"><h2>" + HtmlEscape(result->image) +
               "</h2><p id=\"summary\">");
    if (result->error.empty()) {
      const double mib_s = result->seconds > 0
                               ? static_cast<double>(result->bytes) / 1048576.0 / result->seconds
                               : 0;
      out.append(Plural(result->parts.size(), "part") + ", " +
                 HtmlEscape(HumanBytes(result->bytes)) + " in " +
                 HtmlEscape(HumanSeconds(result->seconds)) + " (" + Fixed(mib_s, 1) +
                 " MiB/s), all from peers.");
    } else {
      out.append("Failed: " + HtmlEscape(result->error) + " (after " +
                 HtmlEscape(HumanSeconds(result->seconds)) + ").");
    }
    out.append(
        "</p><table><tr><th>part</th><th>digest</th><th>from</th><th>size</th>"
        "<th>first byte</th><th>time</th><th>throughput</th><th>result</th></tr>");
    for (const MeasuredPart& p : result->parts) {
      out.append("<tr class=\"part\">");
      Cell(&out, p.kind);
      Cell(&out, p.digest, "mono");
      Cell(&out, p.source.empty() ? std::string("-") : p.source, "source");
      Cell(&out, HumanBytes(p.bytes), "n");
      Cell(&out, HumanSeconds(p.first_byte_seconds), "n");
      Cell(&out, HumanSeconds(p.seconds), "n");
      Cell(&out,
           p.seconds > 0 ? Fixed(static_cast<double>(p.bytes) / 1048576.0 / p.seconds, 1) + " MiB/s"
                         : std::string("-"),
           "n");
      Cell(&out, p.error.empty() ? "ok (" + std::to_string(p.status) + ")" : p.error);
      out.append("</tr>");
    }
    out.append("</table></section>");
  }
  out.append("\n</main>\n</body></html>\n");
  return out;
}

std::string RenderTrafficChart(const StatusSnapshot& s) {
  constexpr int kWidth = 720;
  constexpr int kHeight = 160;
  constexpr int kLeft = 40;
  constexpr int kBottom = 18;
  const size_t slots = StatusBoard::kHistorySteps + 1;
  uint64_t top = 1;
  for (const HistoryPoint& p : s.history) {
    uint64_t sum = 0;
    for (const Series& series : kSeries) sum += p.delta.*series.field;
    top = std::max(top, sum);
  }
  const double slot = static_cast<double>(kWidth - kLeft) / static_cast<double>(slots);
  const double plot = kHeight - kBottom;
  std::string out = "<svg id=\"traffic\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(kWidth) + "\" height=\"" + std::to_string(kHeight) +
                    "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " + std::to_string(kHeight) +
                    "\" role=\"img\" aria-label=\"registry requests per step\">";
  out.append("<line x1=\"" + std::to_string(kLeft) + "\" y1=\"" + Fixed(plot, 1) + "\" x2=\"" +
             std::to_string(kWidth) + "\" y2=\"" + Fixed(plot, 1) +
             "\" stroke=\"#8c959f\" stroke-width=\"1\"/>");
  out.append("<text x=\"" + std::to_string(kLeft - 4) +
             "\" y=\"10\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">" +
             std::to_string(top) + "</text>");
  out.append("<text x=\"" + std::to_string(kLeft - 4) + "\" y=\"" + Fixed(plot, 1) +
             "\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">0</text>");
  out.append("<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(kHeight - 4) +
             "\" font-size=\"11\" fill=\"#57606a\">15 min ago</text>");
  out.append("<text x=\"" + std::to_string(kWidth) + "\" y=\"" + std::to_string(kHeight - 4) +
             "\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">now</text>");
  // The newest point takes the rightmost slot.
  const size_t offset = slots - std::min(slots, s.history.size());
  const size_t skip = s.history.size() > slots ? s.history.size() - slots : 0;
  for (size_t i = skip; i < s.history.size(); ++i) {
    const HistoryPoint& p = s.history[i];
    const double x = kLeft + slot * static_cast<double>(offset + i - skip);
    std::string title = ClockTime(p.end_unix_s * 1000) + ":";
    out.append("<g class=\"step\" data-end=\"" + std::to_string(p.end_unix_s) + "\">");
    double y = plot;
    for (const Series& series : kSeries) {
      const uint64_t n = p.delta.*series.field;
      title += " " + std::to_string(n) + " " + series.name + ",";
      if (n == 0) continue;
      const double h = plot * static_cast<double>(n) / static_cast<double>(top);
      y -= h;
      out.append("<rect x=\"" + Fixed(x + 0.5, 1) + "\" y=\"" + Fixed(y, 1) + "\" width=\"" +
                 Fixed(std::max(1.0, slot - 1.0), 1) + "\" height=\"" + Fixed(h, 1) + "\" fill=\"" +
                 series.color + "\"/>");
    }
    title.pop_back();
    out.append("<title>" + HtmlEscape(title) + "</title></g>");
  }
  out.append("</svg>");
  return out;
}

std::string RenderStatusPage(const StatusSnapshot& s) {
  std::string out;
  Head(&out, s.node_id.empty() ? std::string("Spegel") : "Spegel \u2014 " + s.node_id);
  out.append("<header><h1>Spegel</h1><span class=\"meta\">node ");
  out.append(HtmlEscape(s.node_id.empty() ? std::string("(standalone)") : s.node_id));
  out.append(" \u00b7 version " + HtmlEscape(s.version) + " \u00b7 registry " +
             HtmlEscape(s.registry_addr) + " \u00b7 up " +
             HtmlEscape(HumanSeconds(s.uptime_seconds)) + "</span>");
  Readiness(&out, s);
  out.append("</header>\n<main>\n<div class=\"cards\">");
  Card(&out, "holds", Plural(s.images, "image name"),
       Plural(s.blobs, "blob") + ", " + HumanBytes(s.blob_bytes) + " held here");
  Card(&out, "cluster", Plural(s.members.size() + 1, "node"),
       s.clustered ? "in the cluster, this one included" : "standalone");
  const uint64_t saved = s.totals.peer_bytes + s.totals.inflight_bytes;
  Card(&out, "saved", HumanBytes(saved),
       "the upstream did not send: " + HumanBytes(s.totals.peer_bytes) + " from peers, " +
           HumanBytes(s.totals.inflight_bytes) + " by coalescing");
  Card(&out, "requests",
       Plural(s.totals.local + s.totals.peer + s.totals.inflight + s.totals.not_found, "request"),
       std::to_string(s.totals.not_found) + " not found (containerd went upstream)");
  out.append("</div>\n<section id=\"chart\"><h2>Requests, last 15 minutes (" +
             std::to_string(s.history_step_seconds) + " s steps)</h2>");
  out.append(RenderTrafficChart(s));
  out.append("<div class=\"legend\">");
  for (const Series& series : kSeries) {
    out.append("<span><i style=\"background:" + std::string(series.color) + "\"></i>" +
               series.name + "</span>");
  }
  out.append("</div></section>\n");
  Members(&out, s);
  out.append("\n");
  Pulls(&out, s);
  out.append("\n");
  Coalescing(&out, s);
  if (s.measure_enabled) MeasureForm(&out, "");
  out.append("\n<section id=\"node\"><h2>containerd</h2><p>");
  out.append(s.containerd_connected ? "connected" : "not connected");
  if (!s.containerd_version.empty()) out.append(", version " + HtmlEscape(s.containerd_version));
  out.append("; content store " + (s.content_store.empty() ? std::string("read through containerd")
                                                           : HtmlEscape(s.content_store)));
  out.append("; " + std::to_string(s.full_syncs) + " full syncs (last took " +
             HtmlEscape(HumanSeconds(s.last_sync_seconds)) + "), " + std::to_string(s.reconnects) +
             " reconnects.</p>");
  if (!s.startup_check.empty()) {
    out.append("<p>Start-up check of containerd's configuration:</p><ul id=\"startup-check\">");
    for (const std::string& line : s.startup_check) out.append("<li>" + HtmlEscape(line) + "</li>");
    out.append("</ul>");
  }
  out.append("</section>\n");
  out.append(
      "</main>\n<footer><a href=\"/debug/status\">status JSON</a> \u00b7 <a "
      "href=\"/metrics\">metrics</a> \u00b7 <a href=\"/debug/index\">index</a> \u00b7 <a "
      "href=\"/debug/members\">members</a> \u00b7 <a href=\"/debug/routing\">routing</a> "
      "\u00b7 <a href=\"/\">refresh</a></footer>\n</body></html>\n");
  return out;
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

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  return Fixed(v, v < 10 ? 2 : (v < 100 ? 1 : 0)) + " " + units[u];
}

std::string HumanSeconds(double seconds) {
  if (seconds < 1.0) return std::to_string(static_cast<int64_t>(seconds * 1000.0)) + " ms";
  if (seconds < 60.0) return Fixed(seconds, 1) + " s";
  const int64_t total = static_cast<int64_t>(seconds);
  if (total < 3600) return std::to_string(total / 60) + " min";
  return std::to_string(total / 3600) + " h " + std::to_string((total % 3600) / 60) + " min";
}

}  // namespace spegel::metrics
