#include "metrics/status_page.h"

#include <doctest/doctest.h>

#include <string>

#include "metrics/history.h"
#include "metrics/status.h"

namespace spegel::metrics {
namespace {

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

TEST_CASE("history: per-step deltas in fixed memory, the step in progress last") {
  History h(3);
  TrafficTotals t;
  h.Record(100, t);  // baseline only
  CHECK(h.Points(105, nullptr).empty());
  for (int step = 1; step <= 5; ++step) {
    t.local += static_cast<uint64_t>(step);
    t.not_found += 1;
    h.Record(100 + step * 10, t);
  }
  auto points = h.Points(0, nullptr);
  REQUIRE(points.size() == 3);  // the oldest two were overwritten
  CHECK(points[0].end_unix_s == 130);
  CHECK(points[0].delta.local == 3);
  CHECK(points[2].end_unix_s == 150);
  CHECK(points[2].delta.local == 5);
  CHECK(points[2].delta.not_found == 1);
  t.peer += 7;
  auto with_now = h.Points(155, &t);
  REQUIRE(with_now.size() == 4);
  CHECK(with_now.back().end_unix_s == 155);
  CHECK(with_now.back().delta.peer == 7);
  CHECK(with_now.back().delta.local == 0);
}

TEST_CASE("recent pulls: newest first, at most the capacity") {
  RecentPulls pulls(2);
  for (int i = 0; i < 3; ++i) {
    PullRecord p;
    p.reference = "r" + std::to_string(i);
    pulls.Add(p);
  }
  auto newest = pulls.Newest();
  REQUIRE(newest.size() == 2);
  CHECK(newest[0].reference == "r2");
  CHECK(newest[1].reference == "r1");
}

StatusSnapshot Hostile() {
  // Every string that can come from outside, with markup in it.
  StatusSnapshot s;
  s.node_id = "n<script>1";
  s.version = "1.0";
  s.registry_addr = "127.0.0.1:5000";
  s.clustered = true;
  s.node_id_collisions = 3;
  s.ready = false;
  s.not_ready.push_back("containerd <is> \"gone\"");
  s.startup_check.push_back("warning: cannot read <config>");
  cluster::MemberView m;
  m.node_id = "evil\"><img src=x onerror=alert(1)>";
  m.address = "10.0.0.1";
  m.sources = "dns";
  s.members.push_back(m);
  PullRecord p;
  p.image = "docker.io/<b>bold</b>";
  p.reference = "tag'quote";
  p.kind = "manifest";
  p.source = "peer";
  p.peer = "peer&node";
  p.status = 200;
  s.recent_pulls.push_back(p);
  s.inflight_sharing = true;
  registry::InflightCopy c;
  c.digest = "sha256:<x>";
  c.role = "fetching";
  c.state = "dead: <why>";
  s.inflight_here.push_back(c);
  s.claims_owned.push_back({"key<1>", "fetch by <n2>"});
  return s;
}

TEST_CASE("status page: every string from outside is escaped") {
  const std::string page = RenderStatusPage(Hostile());
  for (const char* raw :
       {"<script>", "<img", "<b>", "<x>", "<why>", "<n2>", "<1>", "<is>", "<config>"}) {
    CHECK_MESSAGE(page.find(raw) == std::string::npos, raw);
  }
  CHECK(page.find("n&lt;script&gt;1") != std::string::npos);
  CHECK(page.find("evil&quot;&gt;&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(page.find("docker.io/&lt;b&gt;bold&lt;/b&gt;") != std::string::npos);
  CHECK(page.find("tag&#39;quote") != std::string::npos);
  CHECK(page.find("peer (peer&amp;node)") != std::string::npos);
  CHECK(page.find("dead: &lt;why&gt;") != std::string::npos);
  CHECK(page.find("not ready") != std::string::npos);
  CHECK(page.find("containerd &lt;is&gt; &quot;gone&quot;") != std::string::npos);
  CHECK(page.find("<li>warning: cannot read &lt;config&gt;</li>") != std::string::npos);
  CHECK(page.find("3 messages came from another node using this node's id (n&lt;script&gt;1)") !=
        std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("http://") == page.find("http://www.w3.org/2000/svg"));  // nothing external
  CHECK(Count(page, "http://") == 1);
  // And in the JSON the same data is valid JSON strings.
  const std::string json = StatusJson(Hostile());
  CHECK(json.find("\"node_id\":\"n<script>1\"") != std::string::npos);
  CHECK(json.find("\"evil\\\"><img src=x onerror=alert(1)>\"") != std::string::npos);
}

TEST_CASE("status page: one chart step per history point, scaled to the busiest") {
  StatusSnapshot s;
  s.history_step_seconds = 10;
  for (int i = 0; i < 5; ++i) {
    HistoryPoint p;
    p.end_unix_s = 1000 + i * 10;
    p.delta.local = static_cast<uint64_t>(i);
    p.delta.peer = 2;
    p.delta.not_found = i == 4 ? 6 : 0;
    s.history.push_back(p);
  }
  const std::string svg = RenderTrafficChart(s);
  CHECK(Count(svg, "<g class=\"step\"") == 5);
  CHECK(svg.find(">12</text>") != std::string::npos);  // the top: 4 + 2 + 6
  CHECK(svg.find("data-end=\"1040\"") != std::string::npos);
  CHECK(svg.find("4 served here, 2 from a peer, 0 from an in-flight copy, 6 not found") !=
        std::string::npos);
  // More points than slots: the oldest fall off the left.
  s.history.assign(StatusBoard::kHistorySteps + 10, HistoryPoint{});
  CHECK(Count(RenderTrafficChart(s), "<g class=\"step\"") == StatusBoard::kHistorySteps + 1);
}

TEST_CASE("status page: human units") {
  CHECK(HumanBytes(0) == "0 B");
  CHECK(HumanBytes(1023) == "1023 B");
  CHECK(HumanBytes(1536) == "1.50 KiB");
  CHECK(HumanBytes(8664786) == "8.26 MiB");
  CHECK(HumanBytes(uint64_t{5} << 40) == "5.00 TiB");
  CHECK(HumanSeconds(0.25) == "250 ms");
  CHECK(HumanSeconds(12.34) == "12.3 s");
  CHECK(HumanSeconds(600) == "10 min");
  CHECK(HumanSeconds(7500) == "2 h 5 min");
  CHECK(HtmlEscape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace spegel::metrics
