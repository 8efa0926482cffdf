#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace spegel::metrics {
namespace {

constexpr char kOverflowValue[] = "_overflow";

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` (with an extra `le` pair for buckets), or nothing when there are no labels.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    out->append(names[i]);
    out->append("=\"");
    out->append(EscapeLabelValue(values[i]));
    out->push_back('"');
  }
  if (!le.empty()) {
    if (!first) out->push_back(',');
    out->append("le=\"");
    out->append(le);
    out->push_back('"');
  }
  out->push_back('}');
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& names, const std::vector<std::string>& values,
                  double value, std::string_view le = {}) {
  out->append(name);
  out->append(suffix);
  AppendLabels(out, names, values, le);
  out->push_back(' ');
  out->append(FormatValue(value));
  out->push_back('\n');
}

}  // namespace

void Counter::Inc(double delta) {
  if (delta > 0) series_->value += delta;
}

void Counter::SetTotal(double total) {
  if (total > series_->value) series_->value = total;
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  series_->bucket_counts[static_cast<size_t>(it - bounds_->begin())] += 1;
  series_->sum += value;
  series_->count += 1;
}

Family::Family(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, std::vector<double> bounds, size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      max_series_(std::max<size_t>(max_series, 1)) {
  bounds_.erase(std::remove_if(bounds_.begin(), bounds_.end(),
                               [](double b) { return !std::isfinite(b); }),
                bounds_.end());
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
}

Series* Family::Find(const std::vector<std::string>& label_values) {
  auto it = series_.find(label_values);
  if (it != series_.end()) return it->second.get();
  std::vector<std::string> key = label_values;
  // The overflow series does not count against the cap, so it can always be created.
  if (label_values.size() != label_names_.size() || series_.size() >= max_series_) {
    key.assign(label_names_.size(), kOverflowValue);
    it = series_.find(key);
    if (it != series_.end()) return it->second.get();
  }
  auto series = std::make_unique<Series>();
  if (type_ == MetricType::kHistogram) series->bucket_counts.assign(bounds_.size() + 1, 0);
  Series* raw = series.get();
  series_.emplace(std::move(key), std::move(series));
  return raw;
}

Counter Family::CounterWith(const std::vector<std::string>& label_values) {
  return Counter(Find(label_values));
}

Gauge Family::GaugeWith(const std::vector<std::string>& label_values) {
  return Gauge(Find(label_values));
}

Histogram Family::HistogramWith(const std::vector<std::string>& label_values) {
  return Histogram(Find(label_values), &bounds_);
}

void Family::AppendText(std::string* out) const {
  out->append("# HELP ");
  out->append(name_);
  out->push_back(' ');
  out->append(EscapeHelp(help_));
  out->append("\n# TYPE ");
  out->append(name_);
  out->push_back(' ');
  out->append(TypeName(type_));
  out->push_back('\n');

  Series zero;
  zero.bucket_counts.assign(bounds_.size() + 1, 0);
  std::vector<std::pair<const std::vector<std::string>*, const Series*>> rows;
  const std::vector<std::string> no_labels;
  if (series_.empty() && label_names_.empty()) rows.push_back({&no_labels, &zero});
  for (const auto& [values, series] : series_) rows.push_back({&values, series.get()});

  for (const auto& [values, series] : rows) {
    if (type_ != MetricType::kHistogram) {
      AppendSample(out, name_, "", label_names_, *values, series->value);
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += series->bucket_counts[i];
      AppendSample(out, name_, "_bucket", label_names_, *values, static_cast<double>(cumulative),
                   FormatValue(bounds_[i]));
    }
    AppendSample(out, name_, "_bucket", label_names_, *values, static_cast<double>(series->count),
                 "+Inf");
    AppendSample(out, name_, "_sum", label_names_, *values, series->sum);
    AppendSample(out, name_, "_count", label_names_, *values, static_cast<double>(series->count));
  }
}

Family* Registry::AddCounter(std::string name, std::string help,
                             std::vector<std::string> label_names, size_t max_series) {
  families_.push_back(std::make_unique<Family>(std::move(name), std::move(help),
                                               MetricType::kCounter, std::move(label_names),
                                               std::vector<double>{}, max_series));
  return families_.back().get();
}

Family* Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names,
                           size_t max_series) {
  families_.push_back(std::make_unique<Family>(std::move(name), std::move(help), MetricType::kGauge,
                                               std::move(label_names), std::vector<double>{},
                                               max_series));
  return families_.back().get();
}

Family* Registry::AddHistogram(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> bounds,
                               size_t max_series) {
  families_.push_back(std::make_unique<Family>(std::move(name), std::move(help),
                                               MetricType::kHistogram, std::move(label_names),
                                               std::move(bounds), max_series));
  return families_.back().get();
}

void Registry::AddCollector(std::function<void()> refresh) {
  collectors_.push_back(std::move(refresh));
}

std::string Registry::Expose() {
  for (auto& collect : collectors_) collect();
  std::string out;
  for (const auto& family : families_) family->AppendText(&out);
  return out;
}

std::vector<double> DefaultBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double bound = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(bound);
    bound *= factor;
  }
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '"') {
      out.append("\\\"");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Integral values up to 2^53 print exactly, without exponent or fraction.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    const auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(value));
    return std::string(buf, r.ptr);
  }
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, r.ptr);
}

}  // namespace spegel::metrics
