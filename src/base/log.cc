#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/json_escape.h"

namespace spegel {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "INFO";
}

void AppendTime(std::string* out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char buf[96];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
           tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec,
           static_cast<int>(ms % 1000));
  out->append(buf);
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (upper == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

LogLine::LogLine(LogLevel level, std::string_view msg) {
  line_.reserve(160);
  line_.append("{\"time\":\"");
  AppendTime(&line_);
  line_.append("\",\"level\":\"");
  line_.append(LevelName(level));
  line_.append("\",\"msg\":");
  AppendJsonString(&line_, msg);
}

LogLine::~LogLine() {
  line_.append("}\n");
  const char* p = line_.data();
  size_t left = line_.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // Nowhere to report a broken stderr; drop the line.
    p += n;
    left -= static_cast<size_t>(n);
  }
}

LogLine& LogLine::Str(std::string_view key, std::string_view value) {
  line_.push_back(',');
  AppendJsonString(&line_, key);
  line_.push_back(':');
  AppendJsonString(&line_, value);
  return *this;
}

LogLine& LogLine::Int(std::string_view key, int64_t value) {
  line_.push_back(',');
  AppendJsonString(&line_, key);
  line_.push_back(':');
  line_.append(std::to_string(value));
  return *this;
}

LogLine& LogLine::Double(std::string_view key, double value) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.6g", value);
  line_.push_back(',');
  AppendJsonString(&line_, key);
  line_.push_back(':');
  line_.append(buf);
  return *this;
}

LogLine& LogLine::Bool(std::string_view key, bool value) {
  line_.push_back(',');
  AppendJsonString(&line_, key);
  line_.append(value ? ":true" : ":false");
  return *this;
}

}  // namespace spegel
