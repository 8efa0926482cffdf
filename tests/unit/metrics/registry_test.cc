#include "metrics/registry.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

namespace spegel::metrics {
namespace {

TEST_CASE("metrics text: HELP and TYPE lines, and a plain counter starts at 0") {
  Registry r;
  r.AddCounter("spegel_things_total", "Things.\nSecond line with a \\ backslash.");
  r.AddGauge("spegel_level", "Level.");
  CHECK(r.Expose() ==
        "# HELP spegel_things_total Things.\\nSecond line with a \\\\ backslash.\n"
        "# TYPE spegel_things_total counter\n"
        "spegel_things_total 0\n"
        "# HELP spegel_level Level.\n"
        "# TYPE spegel_level gauge\n"
        "spegel_level 0\n");
}

TEST_CASE("metrics text: labelled series are sorted, and a family with labels starts empty") {
  Registry r;
  Family* f = r.AddCounter("req_total", "Requests.", {"registry", "cache"});
  CHECK(r.Expose() == "# HELP req_total Requests.\n# TYPE req_total counter\n");
  f->With({"docker.io", "miss"}).Inc();
  f->With({"docker.io", "miss"}).Inc(2);
  f->With({"a.example", "hit"}).Inc(0.5);
  CHECK(r.Expose() ==
        "# HELP req_total Requests.\n# TYPE req_total counter\n"
        "req_total{registry=\"a.example\",cache=\"hit\"} 0.5\n"
        "req_total{registry=\"docker.io\",cache=\"miss\"} 3\n");
}

TEST_CASE("metrics text: label values escape backslash, quote and newline") {
  CHECK(EscapeLabelValue("plain") == "plain");
  CHECK(EscapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  Registry r;
  r.AddGauge("g", "G.", {"v"})->GaugeWith({"x\"y\\z\n"}).Set(7);
  CHECK(r.Expose().find("g{v=\"x\\\"y\\\\z\\n\"} 7\n") != std::string::npos);
}

TEST_CASE("metrics text: value formatting") {
  CHECK(FormatValue(0) == "0");
  CHECK(FormatValue(3) == "3");
  CHECK(FormatValue(-2) == "-2");
  CHECK(FormatValue(0.25) == "0.25");
  CHECK(FormatValue(0.005) == "0.005");
  CHECK(FormatValue(1e20) == "1e+20");
  CHECK(FormatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(FormatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(FormatValue(std::nan("")) == "NaN");
}

TEST_CASE("metrics text: histogram buckets are cumulative, with +Inf, _sum and _count") {
  Registry r;
  Family* f = r.AddHistogram("lat_seconds", "Latency.", {"h"}, {1, 0.1, 0.5, 0.1});
  Histogram h = f->HistogramWith({"x"});
  h.Observe(0.05);          // le 0.1
  h.Observe(0.1);           // le 0.1 (bounds are inclusive)
  h.Observe(0.3);           // le 0.5
  h.Observe(7);             // +Inf only
  h.Observe(std::nan(""));  // ignored
  CHECK(h.count() == 4);
  CHECK(r.Expose() ==
        "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{h=\"x\",le=\"0.1\"} 2\n"
        "lat_seconds_bucket{h=\"x\",le=\"0.5\"} 3\n"
        "lat_seconds_bucket{h=\"x\",le=\"1\"} 3\n"
        "lat_seconds_bucket{h=\"x\",le=\"+Inf\"} 4\n"
        "lat_seconds_sum{h=\"x\"} 7.45\n"
        "lat_seconds_count{h=\"x\"} 4\n");
}

TEST_CASE("metrics text: histogram without labels has only the le label") {
  Registry r;
  r.AddHistogram("size_bytes", "Size.", {}, {1024});
  CHECK(r.Expose() ==
        "# HELP size_bytes Size.\n# TYPE size_bytes histogram\n"
        "size_bytes_bucket{le=\"1024\"} 0\n"
        "size_bytes_bucket{le=\"+Inf\"} 0\n"
        "size_bytes_sum 0\n"
        "size_bytes_count 0\n");
}

TEST_CASE("metrics: bucket helpers match Prometheus' defaults and upstream's size buckets") {
  CHECK(DefaultBuckets() ==
        std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  const auto sizes = ExponentialBuckets(1024, 5, 10);
  REQUIRE(sizes.size() == 10);
  CHECK(sizes[0] == 1024);
  CHECK(sizes[1] == 5120);
  CHECK(sizes[9] == 1024.0 * 1953125);  // 5^9
}

TEST_CASE("metrics: counters never go down; gauges do") {
  Registry r;
  Counter c = r.AddCounter("c_total", "C.")->With({});
  c.Inc(3);
  c.Inc(-1);
  CHECK(c.value() == 3);
  c.SetTotal(10);
  c.SetTotal(4);
  CHECK(c.value() == 10);
  Gauge g = r.AddGauge("g", "G.")->GaugeWith({});
  g.Inc(2);
  g.Dec(5);
  CHECK(g.value() == -3);
}

TEST_CASE("metrics: series past the cap collapse into one overflow series") {
  Registry r;
  Family* f = r.AddCounter("ns_total", "By ns.", {"registry"}, 3);
  for (int i = 0; i < 100; ++i) f->With({"r" + std::to_string(i)}).Inc();
  CHECK(f->series_count() == 4);  // 3 real + _overflow
  const std::string text = r.Expose();
  CHECK(text.find("ns_total{registry=\"r0\"} 1\n") != std::string::npos);
  CHECK(text.find("ns_total{registry=\"_overflow\"} 97\n") != std::string::npos);
  // Existing series keep counting.
  f->With({"r1"}).Inc();
  CHECK(f->With({"r1"}).value() == 2);
  // A wrong number of label values is a bug, but never a crash: it lands in overflow.
  f->With({"a", "b"}).Inc();
  CHECK(f->With({"_overflow"}).value() == 98);
}

TEST_CASE("metrics: collectors run before each exposition; Clear drops stale series") {
  Registry r;
  Family* f = r.AddGauge("adv", "Advertised.", {"registry"});
  int calls = 0;
  r.AddCollector([&] {
    ++calls;
    f->Clear();
    if (calls == 1) f->GaugeWith({"gone.example"}).Set(2);
    f->GaugeWith({"kept.example"}).Set(calls);
  });
  std::string first = r.Expose();
  CHECK(first.find("adv{registry=\"gone.example\"} 2\n") != std::string::npos);
  std::string second = r.Expose();
  CHECK(second.find("gone.example") == std::string::npos);
  CHECK(second.find("adv{registry=\"kept.example\"} 2\n") != std::string::npos);
}

}  // namespace
}  // namespace spegel::metrics
