// A reader for the subset of TOML that containerd configuration files use: tables and arrays of
// tables with dotted and quoted names (`[plugins."io.containerd.cri.v1.images".registry]`,
// `[plugins.'io.containerd.grpc.v1.cri']`), dotted keys, basic and literal strings (single- and
// multi-line), booleans, integers, floats, date-times (kept as text), arrays (which may span
// lines) and inline tables, with comments anywhere TOML allows them.
//
// Preflight reads containerd's config.toml with it to find a handful of keys; it never writes
// TOML. Input is untrusted (any file the flag names): parsing never crashes, is linear in the
// input, nests at most kMaxTomlDepth arrays/inline tables, and reports the first error as
// InvalidArgument "line N: what". Duplicate keys are errors, as they are for containerd.
//
// Values are addressed by their full path: table names then key parts, e.g.
// {"plugins", "io.containerd.grpc.v1.cri", "registry", "config_path"}. Keys of an inline table
// live under the key that holds it; the N-th `[[name]]` table lives under {"name", "N"}.
//
// Threading: a TomlDocument is a plain immutable value once parsed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace spegel::node {

inline constexpr int kMaxTomlDepth = 32;

struct TomlValue {
  enum class Kind { kString, kBool, kInt, kFloat, kDateTime, kArray, kInlineTable };
  Kind kind = Kind::kString;
  std::string text;              // kString: the decoded string; kFloat/kDateTime: the source text.
  bool boolean = false;          // kBool
  int64_t integer = 0;           // kInt
  std::vector<TomlValue> array;  // kArray: the elements (an inline table element is kInlineTable
                                 // with no content; its keys are not addressable).
  int line = 0;                  // 1-based line where the value starts.
};

using TomlPath = std::vector<std::string>;

class TomlDocument {
 public:
  // The value at `path`, or nullptr. Tables are not values (see HasTable).
  const TomlValue* Find(const TomlPath& path) const;
  // A string at `path`; nullopt when absent or not a string.
  std::optional<std::string> FindString(const TomlPath& path) const;
  // A boolean at `path`; nullopt when absent or not a boolean.
  std::optional<bool> FindBool(const TomlPath& path) const;
  // An integer at `path`; nullopt when absent or not an integer.
  std::optional<int64_t> FindInt(const TomlPath& path) const;
  // True if `path` names a table: a header, an implicit parent of one, or a dotted-key prefix.
  bool HasTable(const TomlPath& path) const;

  const std::map<TomlPath, TomlValue>& values() const { return values_; }

 private:
  friend class TomlParser;
  std::map<TomlPath, TomlValue> values_;
  std::set<TomlPath> tables_;
};

// Parses a whole document. InvalidArgument "line N: ..." on the first error.
Result<TomlDocument> ParseToml(std::string_view text);

// Renders a path as TOML would write it: bare segments where allowed, others double-quoted,
// e.g. plugins."io.containerd.cri.v1.images".registry
std::string FormatTomlPath(const TomlPath& path);

}  // namespace spegel::node
