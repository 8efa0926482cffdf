#include "node/hosts_config.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

namespace spegel::node {
namespace {

Status Invalid(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid URL \"" + std::string(text) + "\": " + std::string(why));
}

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool IsIpv6Char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

bool ValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

bool ValidIpv6(std::string_view host) {
  if (host.size() < 2 || host.find(':') == std::string_view::npos) return false;
  for (char c : host) {
    if (!IsIpv6Char(c)) return false;
  }
  return true;
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
    return false;
  }
  for (char c : host) {
    if (!IsHostChar(c)) return false;
  }
  return true;
}

Result<std::vector<RegistryUrl>> ParseList(const std::vector<std::string>& values,
                                           bool registries) {
  std::vector<RegistryUrl> out;
  std::set<std::string> seen;
  bool wildcard = false;
  const char* flag = registries ? "--mirrored-registries" : "--mirror-targets";
  for (const auto& value : values) {
    auto url = ParseRegistryUrl(value, registries, !registries);
    if (!url.ok()) {
      if (!registries && (value == "_default" || value == "*")) {
        return Status::InvalidArgument("wildcard \"" + value + "\" is not allowed in " + flag +
                                       ": a mirror target must be a URL");
      }
      return url.status();
    }
    if (url->wildcard) {
      if (wildcard) {
        return Status::InvalidArgument(std::string(flag) + " has more than one wildcard (\"" +
                                       value + "\")");
      }
      wildcard = true;
    }
    // Two registries with one authority would write one directory twice.
    const std::string key = registries ? url->DirName() : url->ToString();
    if (!seen.insert(key).second) {
      return Status::InvalidArgument(std::string(flag) + " lists \"" + value + "\" twice");
    }
    out.push_back(std::move(*url));
  }
  return out;
}

// --- ExtractHostTables scanner -----------------------------------------------------------------

// Skips a TOML string starting at text[*pos] (a quote); multi-line forms may span lines.
// Returns false if it does not end.
bool SkipString(std::string_view text, size_t* pos, int* line) {
  const char quote = text[*pos];
  const bool multi = text.substr(*pos, 3) == std::string_view(quote == '"' ? "\"\"\"" : "'''");
  size_t i = *pos + (multi ? 3 : 1);
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\' && quote == '"') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++*line;
      i += 2;
      continue;
    }
    if (c == '\n') {
      if (!multi) return false;
      ++*line;
    }
    if (c == quote) {
      if (!multi) {
        *pos = i + 1;
        return true;
      }
      if (text.substr(i, 3) == std::string_view(quote == '"' ? "\"\"\"" : "'''")) {
        // Up to two more quotes may belong to the content ("""a""""" is legal).
        size_t end = i + 3;
        while (end < text.size() && end < i + 5 && text[end] == quote) ++end;
        *pos = end;
        return true;
      }
    }
    ++i;
  }
  return false;
}

// Reads the first key of a table header body (`host` in `[ host."x".header ]`).
std::string FirstKey(std::string_view body) {
  size_t i = 0;
  while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  if (i >= body.size()) return "";
  if (body[i] == '"' || body[i] == '\'') {
    const size_t end = body.find(body[i], i + 1);
    if (end == std::string_view::npos) return "";
    return std::string(body.substr(i + 1, end - i - 1));
  }
  size_t end = i;
  while (end < body.size() && (std::isalnum(static_cast<unsigned char>(body[end])) ||
                               body[end] == '_' || body[end] == '-')) {
    ++end;
  }
  return std::string(body.substr(i, end - i));
}

struct Section {
  size_t begin;  // offset of the header line
  bool keep;     // a [host…] table
};

}  // namespace

std::string RegistryUrl::ToString() const {
  return wildcard ? std::string(kDefaultDir) : scheme + "://" + authority;
}

std::string RegistryUrl::DirName() const { return wildcard ? std::string(kDefaultDir) : authority; }

std::string RegistryUrl::Server() const {
  if (wildcard) return "";
  if (scheme == "https" && authority == "docker.io") return "https://registry-1.docker.io";
  return ToString();
}

Result<RegistryUrl> ParseRegistryUrl(std::string_view text, bool allow_wildcard, bool fix_ipv6) {
  RegistryUrl url;
  if (text == "_default" || text == "*") {
    if (!allow_wildcard) return Invalid(text, "a wildcard is not allowed here");
    url.wildcard = true;
    return url;
  }
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    return Invalid(text, "expected http://HOST[:PORT] or https://HOST[:PORT]");
  for (char c : text.substr(0, sep)) {
    url.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (url.scheme != "http" && url.scheme != "https") {
    return Invalid(text, "the scheme must be http or https");
  }
  std::string_view rest = text.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('@') != std::string_view::npos) return Invalid(text, "user info is not allowed");
  if (rest.find('?') != std::string_view::npos) return Invalid(text, "a query is not allowed");
  if (rest.find('#') != std::string_view::npos) return Invalid(text, "a fragment is not allowed");
  if (rest.find('/') != std::string_view::npos) return Invalid(text, "a path is not allowed");
  if (rest.empty()) return Invalid(text, "the host is missing");

  std::string_view host;
  std::string_view port;
  bool ipv6 = false;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Invalid(text, "unterminated [IPv6] host");
    host = rest.substr(1, close - 1);
    ipv6 = true;
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid(text, "unexpected text after the [IPv6] host");
      port = after.substr(1);
      if (port.empty()) return Invalid(text, "the port is empty");
    }
  } else {
    const size_t colons = static_cast<size_t>(std::count(rest.begin(), rest.end(), ':'));
    if (colons > 1) {
      if (!fix_ipv6) return Invalid(text, "an IPv6 host must be in brackets: [ADDRESS]:PORT");
      const size_t last = rest.rfind(':');
      host = rest.substr(0, last);
      port = rest.substr(last + 1);
      ipv6 = true;
    } else if (colons == 1) {
      const size_t colon = rest.find(':');
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return Invalid(text, "the port is empty");
    } else {
      host = rest;
    }
  }
  if (ipv6 ? !ValidIpv6(host) : !ValidHostName(host)) {
    return Invalid(text, "\"" + std::string(host) + "\" is not a valid host");
  }
  if (!port.empty() && !ValidPort(port)) {
    return Invalid(text, "\"" + std::string(port) + "\" is not a valid port (1-65535)");
  }
  if (host == kDefaultDir || host == "_backup") {
    return Invalid(text, "\"" + std::string(host) + "\" is a reserved directory name");
  }
  url.authority = ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  if (!port.empty()) url.authority += ":" + std::string(port);
  return url;
}

Result<std::vector<RegistryUrl>> ParseMirroredRegistries(const std::vector<std::string>& values) {
  auto list = ParseList(values, true);
  if (list.ok() && list->empty()) {
    RegistryUrl all;
    all.wildcard = true;
    list->push_back(all);
  }
  return list;
}

Result<std::vector<RegistryUrl>> ParsePrivateRegistries(const std::vector<std::string>& values) {
  std::vector<RegistryUrl> out;
  std::set<std::string> seen;
  for (const auto& value : values) {
    auto url = ParseRegistryUrl(value, false, false);
    if (!url.ok()) {
      return Status::InvalidArgument("--private-registries: " + url.status().message());
    }
    if (!seen.insert(url->DirName()).second) {
      return Status::InvalidArgument("--private-registries lists \"" + value + "\" twice");
    }
    out.push_back(std::move(*url));
  }
  return out;
}

Result<std::vector<RegistryUrl>> ParseMirrorTargets(const std::vector<std::string>& values) {
  if (values.empty()) {
    return Status::InvalidArgument("--mirror-targets is required: the URLs of this node's Spegel");
  }
  return ParseList(values, false);
}

std::string RenderHostsToml(const RegistryUrl& registry, const MirrorConfig& config,
                            std::string_view existing_host_tables) {
  std::string out(kSpegelMarker);
  out += '\n';
  const std::string server = registry.Server();
  if (!server.empty()) out += "server = '" + server + "'\n\n";
  const bool resolve = config.resolve_tags && config.pull_only.count(registry.DirName()) == 0;
  bool first = true;
  for (const auto& target : config.targets) {
    if (!first) out += '\n';
    first = false;
    const std::string name = "[host.'" + target.ToString() + "'";
    out += name + "]\n";
    out += resolve ? "capabilities = ['pull', 'resolve']\n" : "capabilities = ['pull']\n";
    if (config.dial_timeout.count() > 0) {
      out += "dial_timeout = '" + std::to_string(config.dial_timeout.count()) + "ms'\n";
    }
    if (!config.authorization.empty()) {
      out += name + ".header]\n";
      out += "Authorization = '" + config.authorization + "'\n";
    }
  }
  if (!existing_host_tables.empty()) {
    out += '\n';
    out += existing_host_tables;
    out += '\n';
  }
  return out;
}

Result<std::string> ExtractHostTables(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("contains a NUL byte");
  }
  std::vector<Section> sections;
  int line = 1;
  size_t i = 0;
  bool line_start = true;  // only blanks seen since the last newline (outside values)
  int depth = 0;           // [ ] and { } nesting inside a value
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = depth == 0;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {
      const size_t nl = text.find('\n', i);
      i = nl == std::string_view::npos ? text.size() : nl;
      continue;
    }
    if (c == '"' || c == '\'') {
      const int start_line = line;
      if (!SkipString(text, &i, &line)) {
        return Status::InvalidArgument("line " + std::to_string(start_line) +
                                       ": unterminated string");
      }
      line_start = false;
      continue;
    }
    if (line_start && c == '[') {
      // A table header: [name] or [[name]], up to the closing bracket(s) on this line.
      size_t begin = i;
      while (begin > 0 && text[begin - 1] != '\n') --begin;
      const bool array = i + 1 < text.size() && text[i + 1] == '[';
      size_t j = i + (array ? 2 : 1);
      const size_t name_begin = j;
      while (j < text.size() && text[j] != ']' && text[j] != '\n') {
        if (text[j] == '"' || text[j] == '\'') {
          if (!SkipString(text, &j, &line) ||
              text.substr(name_begin, j - name_begin).find('\n') != std::string_view::npos) {
            return Status::InvalidArgument("line " + std::to_string(line) +
                                           ": unterminated table header");
          }
          continue;
        }
        ++j;
      }
      if (j >= text.size() || text[j] != ']') {
        return Status::InvalidArgument("line " + std::to_string(line) +
                                       ": unterminated table header");
      }
      const std::string_view body = text.substr(name_begin, j - name_begin);
      const std::string key = FirstKey(body);
      sections.push_back({begin, !array && key == "host"});
      i = j + 1;
      line_start = false;
      continue;
    }
    line_start = false;
    if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
    ++i;
  }
  if (depth != 0) return Status::InvalidArgument("unterminated array or inline table");

  std::string out;
  // Consecutive kept sections (a table and its `.header`) are copied as one span.
  for (size_t s = 0; s < sections.size(); ++s) {
    if (!sections[s].keep) continue;
    size_t last = s;
    while (last + 1 < sections.size() && sections[last + 1].keep) ++last;
    const size_t end = last + 1 < sections.size() ? sections[last + 1].begin : text.size();
    std::string_view part = text.substr(sections[s].begin, end - sections[s].begin);
    s = last;
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) {
      part.remove_suffix(1);
    }
    if (!out.empty()) out += "\n\n";
    out += part;
  }
  return out;
}

bool IsSpegelHostsToml(std::string_view text) {
  return text.substr(0, kSpegelMarker.size()) == kSpegelMarker;
}

}  // namespace spegel::node
