// Structured logging: one JSON object per line on stderr, written with a single write(2) so lines
// from different threads never interleave. Safe to use from any thread.
//
//   LOG_INFO("index synced").Int("images", n).Str("digest", d);
//
// The line is emitted when the temporary LogLine is destroyed (end of the full expression).
// Fields are "time" (RFC 3339, UTC, ms), "level", "msg", then the added keys in order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spegel {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Accepts DEBUG, INFO, WARN, ERROR in any case. Returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view msg);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Str(std::string_view key, std::string_view value);
  LogLine& Int(std::string_view key, int64_t value);
  LogLine& Double(std::string_view key, double value);
  LogLine& Bool(std::string_view key, bool value);

 private:
  std::string line_;
};

}  // namespace spegel

#define SPEGEL_LOG(level, msg)        \
  if (!::spegel::LogEnabled(level)) { \
  } else ::spegel::LogLine((level), (msg))
#define LOG_DEBUG(msg) SPEGEL_LOG(::spegel::LogLevel::kDebug, msg)
#define LOG_INFO(msg) SPEGEL_LOG(::spegel::LogLevel::kInfo, msg)
#define LOG_WARN(msg) SPEGEL_LOG(::spegel::LogLevel::kWarn, msg)
#define LOG_ERROR(msg) SPEGEL_LOG(::spegel::LogLevel::kError, msg)
