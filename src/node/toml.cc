#include "node/toml.h"

#include <cerrno>
#include <cstdlib>
#include <utility>

namespace spegel::node {

namespace {

bool IsBareKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Characters a number or date-time token may contain (classified after it is cut out).
bool IsTokenChar(char c) { return IsBareKeyChar(c) || c == '+' || c == '.' || c == ':'; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A decimal integer with optional sign and single underscores between digits; no leading zeros.
bool ParseDecimal(std::string_view t, int64_t* out) {
  std::string digits;
  size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  if (i >= t.size()) return false;
  bool prev_digit = false;
  for (; i < t.size(); ++i) {
    if (IsDigit(t[i])) {
      digits.push_back(t[i]);
      prev_digit = true;
    } else if (t[i] == '_' && prev_digit && i + 1 < t.size() && IsDigit(t[i + 1])) {
      prev_digit = false;
    } else {
      return false;
    }
  }
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
  // Magnitude check without overflow: at most 19 digits, compared as text against the limit.
  const std::string_view max = negative ? "9223372036854775808" : "9223372036854775807";
  if (digits.size() > max.size() || (digits.size() == max.size() && digits > max)) return false;
  uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// 0x / 0o / 0b integers (no sign allowed by TOML).
bool ParsePrefixed(std::string_view t, int64_t* out) {
  if (t.size() < 3 || t[0] != '0') return false;
  int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : t[1] == 'b' ? 2 : 0;
  if (base == 0) return false;
  uint64_t v = 0;
  bool prev_digit = false;
  bool any = false;
  for (size_t i = 2; i < t.size(); ++i) {
    char c = t[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (c == '_' && prev_digit && i + 1 < t.size()) {
      prev_digit = false;
      continue;
    }
    if (d < 0 || d >= base) return false;
    if (v > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) /
                static_cast<uint64_t>(base)) {
      return false;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    prev_digit = true;
    any = true;
  }
  if (!any || !prev_digit) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// TOML float: [sign] int-part ( frac | [frac] exp ), or [sign] inf / nan.
bool IsFloat(std::string_view t) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  std::string_view rest = t.substr(i);
  if (rest == "inf" || rest == "nan") return true;
  auto digits = [&](bool allow_leading_zero) {
    size_t start = i;
    bool prev_digit = false;
    while (i < t.size()) {
      if (IsDigit(t[i])) {
        prev_digit = true;
        ++i;
      } else if (t[i] == '_' && prev_digit && i + 1 < t.size() && IsDigit(t[i + 1])) {
        prev_digit = false;
        ++i;
      } else {
        break;
      }
    }
    if (i == start) return false;
    if (!allow_leading_zero && t[start] == '0' && i - start > 1) return false;
    return true;
  };
  if (!digits(false)) return false;
  bool frac = false;
  bool exp = false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits(true)) return false;
    frac = true;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits(true)) return false;
    exp = true;
  }
  return i == t.size() && (frac || exp);
}

// Loose shape check for dates and times: digits first, then only date/time characters, with a
// '-' at index 4 (dates) or ':' at index 2 (times). The value is kept as text.
bool IsDateTime(std::string_view t) {
  if (t.size() < 5 || !IsDigit(t[0])) return false;
  if (!(t[4] == '-' || t[2] == ':')) return false;
  for (char c : t) {
    if (!(IsDigit(c) || c == '-' || c == ':' || c == '.' || c == 'T' || c == 'Z' || c == '+' ||
          c == 't' || c == 'z')) {
      return false;
    }
  }
  return true;
}

}  // namespace

class TomlParser {
 public:
  explicit TomlParser(std::string_view text) : s_(text) {}

  Result<TomlDocument> Parse() {
    Status st = ParseDocument();
    if (!st.ok()) return st;
    return std::move(doc_);
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool StartsWith(std::string_view p) const { return s_.substr(pos_).substr(0, p.size()) == p; }

  Status Error(const std::string& what) const {
    return Status::InvalidArgument("line " + std::to_string(line_) + ": " + what);
  }
  static std::string Describe(char c) {
    if (c == '\0') return "end of input";
    if (c == '\n') return "end of line";
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      std::string out = "byte 0x";
      out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xF]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
      return out;
    }
    return std::string("'") + c + "'";
  }

  void SkipSpaces() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++pos_;
  }
  // A comment runs to the end of the line; control characters other than tab are invalid in it.
  Status SkipComment() {
    if (Peek() != '#') return Status::Ok();
    while (!AtEnd() && Peek() != '\n') {
      unsigned char c = static_cast<unsigned char>(Peek());
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        return Error("control character in a comment");
      }
      ++pos_;
    }
    return Status::Ok();
  }
  // Consumes "\n" or "\r\n"; false if neither is next.
  bool ConsumeNewline() {
    if (Peek() == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
    if (Peek() == '\r' && Peek(1) == '\n') {
      pos_ += 2;
      ++line_;
      return true;
    }
    return false;
  }
  // After a header or key/value: spaces, an optional comment, then a newline or the end.
  Status ExpectLineEnd() {
    SkipSpaces();
    if (Status st = SkipComment(); !st.ok()) return st;
    if (AtEnd() || ConsumeNewline()) return Status::Ok();
    return Error("expected the end of the line, found " + Describe(Peek()));
  }
  // Whitespace, newlines and comments (inside arrays).
  Status SkipBlank() {
    while (!AtEnd()) {
      SkipSpaces();
      if (Status st = SkipComment(); !st.ok()) return st;
      if (!ConsumeNewline()) break;
    }
    return Status::Ok();
  }

  Status ParseDocument() {
    while (true) {
      if (Status st = SkipBlank(); !st.ok()) return st;
      if (AtEnd()) return Status::Ok();
      Status st;
      if (StartsWith("[[")) {
        st = ParseArrayTableHeader();
      } else if (Peek() == '[') {
        st = ParseTableHeader();
      } else {
        st = ParseKeyValue(current_, 0);
        if (st.ok()) st = ExpectLineEnd();
      }
      if (!st.ok()) return st;
    }
  }

  // key = simple-key *( ws "." ws simple-key )
  Status ParseKey(TomlPath* key) {
    while (true) {
      SkipSpaces();
      std::string part;
      if (Peek() == '"') {
        if (StartsWith("\"\"\"")) return Error("a key cannot be a multi-line string");
        if (Status st = ParseBasicString(&part); !st.ok()) return st;
      } else if (Peek() == '\'') {
        if (StartsWith("'''")) return Error("a key cannot be a multi-line string");
        if (Status st = ParseLiteralString(&part); !st.ok()) return st;
      } else if (IsBareKeyChar(Peek())) {
        while (!AtEnd() && IsBareKeyChar(Peek())) part.push_back(s_[pos_++]);
      } else {
        return Error("expected a key, found " + Describe(Peek()));
      }
      key->push_back(std::move(part));
      SkipSpaces();
      if (Peek() != '.') return Status::Ok();
      ++pos_;
    }
  }

  static TomlPath Join(const TomlPath& a, const TomlPath& b) {
    TomlPath out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }

  static std::string Name(const TomlPath& p) { return FormatTomlPath(p); }

  // Marks every prefix of `path` as a table; fails if one of them is a value.
  Status DeclareTables(const TomlPath& path) {
    TomlPath prefix;
    for (const std::string& part : path) {
      prefix.push_back(part);
      if (doc_.values_.count(prefix) != 0) {
        return Error(Name(prefix) + " is a value and cannot also be a table");
      }
      doc_.tables_.insert(prefix);
    }
    return Status::Ok();
  }

  Status ParseTableHeader() {
    ++pos_;  // '['
    TomlPath name;
    if (Status st = ParseKey(&name); !st.ok()) return st;
    if (Peek() != ']') return Error("expected ']' after the table name, found " + Describe(Peek()));
    ++pos_;
    if (Status st = DeclareTables(name); !st.ok()) return st;
    current_ = std::move(name);
    return ExpectLineEnd();
  }

  Status ParseArrayTableHeader() {
    pos_ += 2;  // "[["
    TomlPath name;
    if (Status st = ParseKey(&name); !st.ok()) return st;
    if (!StartsWith("]]")) {
      return Error("expected ']]' after the table name, found " + Describe(Peek()));
    }
    pos_ += 2;
    if (Status st = DeclareTables(name); !st.ok()) return st;
    size_t index = array_tables_[name]++;
    name.push_back(std::to_string(index));
    if (Status st = DeclareTables(name); !st.ok()) return st;
    current_ = std::move(name);
    return ExpectLineEnd();
  }

  // key = value, stored under `table`.
  Status ParseKeyValue(const TomlPath& table, int depth) {
    TomlPath key;
    if (Status st = ParseKey(&key); !st.ok()) return st;
    if (Peek() != '=') return Error("expected '=' after the key, found " + Describe(Peek()));
    ++pos_;
    SkipSpaces();
    TomlPath full = Join(table, key);
    TomlPath parent(full.begin(), full.end() - 1);
    if (Status st = DeclareTables(parent); !st.ok()) return st;
    if (doc_.values_.count(full) != 0) return Error("duplicate key " + Name(full));
    if (doc_.tables_.count(full) != 0) return Error(Name(full) + " is already a table");
    TomlValue value;
    if (Status st = ParseValue(full, depth, &value); !st.ok()) return st;
    if (value.kind == TomlValue::Kind::kInlineTable) {
      doc_.tables_.insert(full);
    } else {
      doc_.values_.emplace(std::move(full), std::move(value));
    }
    return Status::Ok();
  }

  // `path` is where an inline table's keys go.
  Status ParseValue(const TomlPath& path, int depth, TomlValue* out) {
    out->line = line_;
    const char c = Peek();
    if (c == '"') {
      out->kind = TomlValue::Kind::kString;
      return StartsWith("\"\"\"") ? ParseMultilineBasic(&out->text) : ParseBasicString(&out->text);
    }
    if (c == '\'') {
      out->kind = TomlValue::Kind::kString;
      return StartsWith("'''") ? ParseMultilineLiteral(&out->text) : ParseLiteralString(&out->text);
    }
    if (c == '[') return ParseArray(path, depth + 1, out);
    if (c == '{') return ParseInlineTable(path, depth + 1, out);
    size_t start = pos_;
    while (!AtEnd() && IsTokenChar(Peek())) ++pos_;
    std::string_view token = s_.substr(start, pos_ - start);
    if (token.empty()) return Error("expected a value, found " + Describe(c));
    if (token == "true" || token == "false") {
      out->kind = TomlValue::Kind::kBool;
      out->boolean = token == "true";
      return Status::Ok();
    }
    if (ParseDecimal(token, &out->integer) || ParsePrefixed(token, &out->integer)) {
      out->kind = TomlValue::Kind::kInt;
      return Status::Ok();
    }
    if (IsFloat(token)) {
      out->kind = TomlValue::Kind::kFloat;
      out->text = std::string(token);
      return Status::Ok();
    }
    if (IsDateTime(token)) {
      out->kind = TomlValue::Kind::kDateTime;
      out->text = std::string(token);
      return Status::Ok();
    }
    std::string shown(token.substr(0, 40));
    for (char& ch : shown) {
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    }
    return Error("invalid value '" + shown + "' (strings need quotes)");
  }

  Status ParseArray(const TomlPath& path, int depth, TomlValue* out) {
    if (depth > kMaxTomlDepth) return Error("arrays and inline tables nest too deeply");
    out->kind = TomlValue::Kind::kArray;
    ++pos_;  // '['
    while (true) {
      if (Status st = SkipBlank(); !st.ok()) return st;
      if (Peek() == ']') {
        ++pos_;
        return Status::Ok();
      }
      if (AtEnd()) return Error("unterminated array");
      TomlValue element;
      // Keys of inline tables inside arrays are not addressable: parse them into a scratch path
      // that no lookup uses (an index below the array's own path).
      TomlPath element_path = path;
      element_path.push_back("[" + std::to_string(out->array.size()) + "]");
      if (Status st = ParseValue(element_path, depth, &element); !st.ok()) return st;
      out->array.push_back(std::move(element));
      if (Status st = SkipBlank(); !st.ok()) return st;
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return Status::Ok();
      }
      if (AtEnd()) return Error("unterminated array");
      return Error("expected ',' or ']' in an array, found " + Describe(Peek()));
    }
  }

  // { key = value, ... } on one line.
  Status ParseInlineTable(const TomlPath& path, int depth, TomlValue* out) {
    if (depth > kMaxTomlDepth) return Error("arrays and inline tables nest too deeply");
    out->kind = TomlValue::Kind::kInlineTable;
    ++pos_;  // '{'
    if (Status st = DeclareTables(path); !st.ok()) return st;
    SkipSpaces();
    if (Peek() == '}') {
      ++pos_;
      return Status::Ok();
    }
    while (true) {
      if (Status st = ParseKeyValue(path, depth); !st.ok()) return st;
      SkipSpaces();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return Status::Ok();
      }
      return Error("expected ',' or '}' in an inline table, found " + Describe(Peek()));
    }
  }

  static bool IsStringControl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

  Status ParseEscape(std::string* out) {
    ++pos_;  // '\'
    char e = Peek();
    if (AtEnd()) return Error("unterminated string");
    ++pos_;
    switch (e) {
      case 'b': out->push_back('\b'); return Status::Ok();
      case 't': out->push_back('\t'); return Status::Ok();
      case 'n': out->push_back('\n'); return Status::Ok();
      case 'f': out->push_back('\f'); return Status::Ok();
      case 'r': out->push_back('\r'); return Status::Ok();
      case '"': out->push_back('"'); return Status::Ok();
      case '\\': out->push_back('\\'); return Status::Ok();
      case 'u':
      case 'U': {
        const size_t n = e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t i = 0; i < n; ++i) {
          char h = Peek();
          uint32_t d;
          if (h >= '0' && h <= '9') d = static_cast<uint32_t>(h - '0');
          else if (h >= 'a' && h <= 'f') d = static_cast<uint32_t>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') d = static_cast<uint32_t>(h - 'A' + 10);
          else return Error("bad \\" + std::string(1, e) + " escape");
          cp = (cp << 4) | d;
          ++pos_;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return Error("escape is not a Unicode scalar value");
        }
        AppendUtf8(cp, out);
        return Status::Ok();
      }
      default: return Error("unknown escape \\" + Describe(e));
    }
  }

  Status ParseBasicString(std::string* out) {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd() || Peek() == '\n') return Error("unterminated string");
      char c = Peek();
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c == '\\') {
        if (Status st = ParseEscape(out); !st.ok()) return st;
        continue;
      }
      if (IsStringControl(static_cast<unsigned char>(c))) {
        return Error("control character in a string");
      }
      out->push_back(c);
      ++pos_;
    }
  }

  Status ParseLiteralString(std::string* out) {
    ++pos_;  // '\''
    while (true) {
      if (AtEnd() || Peek() == '\n') return Error("unterminated string");
      char c = Peek();
      if (c == '\'') {
        ++pos_;
        return Status::Ok();
      }
      if (IsStringControl(static_cast<unsigned char>(c))) {
        return Error("control character in a string");
      }
      out->push_back(c);
      ++pos_;
    }
  }

  // Up to two quote characters may end the content just before the closing delimiter.
  Status ParseMultilineBasic(std::string* out) {
    pos_ += 3;
    ConsumeNewline();  // a newline right after the opening delimiter is trimmed
    while (true) {
      if (AtEnd()) return Error("unterminated multi-line string");
      if (StartsWith("\"\"\"")) {
        size_t extra = 0;
        while (extra < 2 && Peek(3 + extra) == '"') ++extra;
        out->append(extra, '"');
        pos_ += 3 + extra;
        return Status::Ok();
      }
      char c = Peek();
      if (c == '\\') {
        // Line-ending backslash: skip the newline and following whitespace.
        size_t p = pos_ + 1;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) ++p;
        if (p < s_.size() &&
            (s_[p] == '\n' || (s_[p] == '\r' && p + 1 < s_.size() && s_[p + 1] == '\n'))) {
          pos_ = p;
          while (true) {
            SkipSpaces();
            if (!ConsumeNewline()) break;
          }
          continue;
        }
        if (Status st = ParseEscape(out); !st.ok()) return st;
        continue;
      }
      if (ConsumeNewline()) {
        out->push_back('\n');
        continue;
      }
      if (IsStringControl(static_cast<unsigned char>(c))) {
        return Error("control character in a string");
      }
      out->push_back(c);
      ++pos_;
    }
  }

  Status ParseMultilineLiteral(std::string* out) {
    pos_ += 3;
    ConsumeNewline();
    while (true) {
      if (AtEnd()) return Error("unterminated multi-line string");
      if (StartsWith("'''")) {
        size_t extra = 0;
        while (extra < 2 && Peek(3 + extra) == '\'') ++extra;
        out->append(extra, '\'');
        pos_ += 3 + extra;
        return Status::Ok();
      }
      if (ConsumeNewline()) {
        out->push_back('\n');
        continue;
      }
      char c = Peek();
      if (IsStringControl(static_cast<unsigned char>(c))) {
        return Error("control character in a string");
      }
      out->push_back(c);
      ++pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  TomlPath current_;
  std::map<TomlPath, size_t> array_tables_;
  TomlDocument doc_;
};

const TomlValue* TomlDocument::Find(const TomlPath& path) const {
  auto it = values_.find(path);
  return it == values_.end() ? nullptr : &it->second;
}

std::optional<std::string> TomlDocument::FindString(const TomlPath& path) const {
  const TomlValue* v = Find(path);
  if (v == nullptr || v->kind != TomlValue::Kind::kString) return std::nullopt;
  return v->text;
}

std::optional<bool> TomlDocument::FindBool(const TomlPath& path) const {
  const TomlValue* v = Find(path);
  if (v == nullptr || v->kind != TomlValue::Kind::kBool) return std::nullopt;
  return v->boolean;
}

std::optional<int64_t> TomlDocument::FindInt(const TomlPath& path) const {
  const TomlValue* v = Find(path);
  if (v == nullptr || v->kind != TomlValue::Kind::kInt) return std::nullopt;
  return v->integer;
}

bool TomlDocument::HasTable(const TomlPath& path) const { return tables_.count(path) != 0; }

Result<TomlDocument> ParseToml(std::string_view text) { return TomlParser(text).Parse(); }

std::string FormatTomlPath(const TomlPath& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out.push_back('.');
    const std::string& part = path[i];
    bool bare = !part.empty();
    for (char c : part) bare = bare && IsBareKeyChar(c);
    if (bare) {
      out += part;
      continue;
    }
    out.push_back('"');
    for (char c : part) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        static const char kHex[] = "0123456789ABCDEF";
        out += "\\u00";
        out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xF]);
        out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  return out;
}

}  // namespace spegel::node
