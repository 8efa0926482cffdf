// Registry: counters, gauges and histograms with label sets, and their Prometheus text
// exposition (format 0.0.4).
//
//   Registry registry;
//   auto* requests = registry.AddCounter("spegel_x_total", "What it counts.", {"registry"});
//   requests->With({"docker.io"}).Inc();
//   std::string text = registry.Expose();
//
// Families are created once at startup; series are created on first use of a label set and live
// as long as the Registry. Handles (Counter, Gauge, Histogram) are cheap pointers that stay valid
// as long as the Registry does, so hot paths can resolve a label set once and keep the handle.
//
// Label values often come from requests (e.g. the `ns` a client sends), so each family caps its
// number of series (`max_series`): past the cap, a new label set maps to one overflow series
// whose every label value is "_overflow". A client cannot grow memory or the scrape without bound.
//
// Ownership and threading: the Registry owns its families and series. Not thread-safe: every
// call, including Expose(), on the loop thread (all state it reports lives there too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// The value(s) of one label set. Counters and gauges use `value`; histograms the rest.
struct Series {
  double value = 0;
  std::vector<uint64_t> bucket_counts;  // Non-cumulative, one per bound, plus +Inf last.
  double sum = 0;
  uint64_t count = 0;
};

class Counter {
 public:
  explicit Counter(Series* series) : series_(series) {}
  // REQUIRES: delta >= 0 (a counter never goes down); a negative delta is ignored.
  void Inc(double delta = 1);
  // For a counter mirroring a monotonic count kept elsewhere (e.g. the Syncer's reconnects).
  // A value below the current one is ignored, so the counter never goes down.
  void SetTotal(double total);
  double value() const { return series_->value; }

 private:
  Series* series_;
};

class Gauge {
 public:
  explicit Gauge(Series* series) : series_(series) {}
  void Set(double value) { series_->value = value; }
  void Inc(double delta = 1) { series_->value += delta; }
  void Dec(double delta = 1) { series_->value -= delta; }
  double value() const { return series_->value; }

 private:
  Series* series_;
};

class Histogram {
 public:
  Histogram(Series* series, const std::vector<double>* bounds) : series_(series), bounds_(bounds) {}
  // Counts `value` in the first bucket whose upper bound is >= value (+Inf if none). NaN is
  // ignored.
  void Observe(double value);
  uint64_t count() const { return series_->count; }
  double sum() const { return series_->sum; }

 private:
  Series* series_;
  const std::vector<double>* bounds_;
};

// One metric name with its HELP, TYPE, label names and series.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds, size_t max_series);

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  size_t series_count() const { return series_.size(); }

  // The series of `label_values` (one per label name, in order), created at zero on first use.
  // A wrong number of values is a programming error: it maps to the overflow series.
  Counter CounterWith(const std::vector<std::string>& label_values);
  Gauge GaugeWith(const std::vector<std::string>& label_values);
  Histogram HistogramWith(const std::vector<std::string>& label_values);
  // Short forms for families of the matching type.
  Counter With(const std::vector<std::string>& label_values) { return CounterWith(label_values); }

  // Drops every series (for gauges recomputed from state at each scrape, so that a label value
  // that disappeared, e.g. a registry with no images left, stops being reported).
  void Clear() { series_.clear(); }

  // Appends HELP, TYPE and every series in text format. A family without labels and without
  // series reports 0 (so a plain counter exists from the first scrape); one with labels and no
  // series reports only HELP and TYPE.
  void AppendText(std::string* out) const;

 private:
  Series* Find(const std::vector<std::string>& label_values);

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // Histograms: sorted finite upper bounds.
  size_t max_series_;
  // Keyed by label values; std::map keeps nodes (and so Series pointers) stable and the output
  // sorted.
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

class Registry {
 public:
  static constexpr size_t kDefaultMaxSeries = 500;

  // Each returns the new family, owned by the registry. Names must be valid and unique (a
  // programming error otherwise; checked by tests, not at run time).
  Family* AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {},
                     size_t max_series = kDefaultMaxSeries);
  Family* AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {},
                   size_t max_series = kDefaultMaxSeries);
  // `bounds`: finite upper bounds; sorted and de-duplicated here. +Inf is implicit.
  Family* AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds, size_t max_series = kDefaultMaxSeries);

  // `refresh` runs at the start of every Expose(), to copy state kept elsewhere (index size,
  // containerd state) into gauges and counters.
  void AddCollector(std::function<void()> refresh);

  // Runs the collectors, then returns every family in registration order, in text format.
  std::string Expose();

 private:
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Prometheus' default histogram buckets (seconds): .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefaultBuckets();
// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Text-format helpers, exposed for tests.
// A label value with \, " and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A HELP text with \ and newline escaped.
std::string EscapeHelp(std::string_view help);
// A sample value: integers without a fraction ("3"), others in shortest round-trip form
// ("0.25"), and "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

}  // namespace spegel::metrics
