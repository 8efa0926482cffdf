// containerd mirror configuration as text: registry/mirror URL validation and the contents of
// `<config_path>/<host[:port]>/hosts.toml`. Pure functions over strings, no file system; the
// directory work (backup, atomic writes, restore) is in node/hosts_dir.h.
//
// Format written (TOML, single-quoted literal strings; containerd 1.6+ reads it):
//
//   # <kSpegelMarker>
//   server = 'https://registry-1.docker.io'       (not for _default: containerd then uses the
//                                                  host named by the image reference)
//   [host.'http://127.0.0.1:5000']               (one table per mirror target, in order)
//   capabilities = ['pull', 'resolve']           (['pull'] when tags are not resolved)
//   dial_timeout = '200ms'                       (omitted when the timeout is 0)
//   [host.'http://127.0.0.1:5000'.header]        (only with basic auth)
//   Authorization = 'Basic dXNlcjpwYXNz'
//
// Tables are separated by a blank line; existing [host] tables (prepend) follow after one more.
// The first line marks the file as Spegel's: only marked directories are ever replaced or
// removed, so a user's file is never deleted (see hosts_dir.h).
//
// Threading: plain functions and values, safe from any thread.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace spegel::node {

// First line of every hosts.toml Spegel writes (a TOML comment).
inline constexpr std::string_view kSpegelMarker =
    "# Written by spegel configuration; spegel cleanup restores the originals from _backup.";
// Name of the wildcard directory containerd uses for every registry without its own.
inline constexpr std::string_view kDefaultDir = "_default";
// Largest existing hosts.toml read for --prepend-existing.
inline constexpr size_t kMaxHostsTomlBytes = 1 << 20;

// A validated registry or mirror URL: `http(s)://host[:port]`, no userinfo, path, query or
// fragment (one trailing '/' is accepted and dropped). IPv6 hosts are bracketed.
struct RegistryUrl {
  bool wildcard = false;  // `_default` or `*`: every registry (mirrored registries only)
  std::string scheme;     // "http" or "https"; empty for the wildcard
  std::string authority;  // "host" or "host:port"; empty for the wildcard

  // "scheme://authority"; "_default" for the wildcard.
  std::string ToString() const;
  // The directory under config_path: the authority, or "_default".
  std::string DirName() const;
  // The `server` containerd falls back to: the URL itself, except https://docker.io →
  // https://registry-1.docker.io. Empty for the wildcard (no `server` line).
  std::string Server() const;
  bool operator==(const RegistryUrl&) const = default;
};

// Parses one URL. `allow_wildcard` accepts `_default` and `*`. An unbracketed IPv6 host with a
// port (`http://fd00::1:30020`) is rewritten to `http://[fd00::1]:30020` only when
// `fix_ipv6` is set (mirror targets, which are often built from a node IP). Errors are
// InvalidArgument naming the value.
Result<RegistryUrl> ParseRegistryUrl(std::string_view text, bool allow_wildcard, bool fix_ipv6);

// --mirrored-registries: empty → {_default}; at most one wildcard; no duplicates.
Result<std::vector<RegistryUrl>> ParseMirroredRegistries(const std::vector<std::string>& values);
// --private-registries: registry URLs (no wildcard), no duplicates; may be empty.
Result<std::vector<RegistryUrl>> ParsePrivateRegistries(const std::vector<std::string>& values);
// --mirror-targets: at least one; no wildcards; no duplicates; order kept.
Result<std::vector<RegistryUrl>> ParseMirrorTargets(const std::vector<std::string>& values);

// Everything that decides the contents of the files (not where they go).
struct MirrorConfig {
  std::vector<RegistryUrl> registries;  // as from ParseMirroredRegistries
  std::vector<RegistryUrl> targets;     // as from ParseMirrorTargets
  bool resolve_tags = true;
  // DirName()s of registries whose tags the mirrors never resolve (--private-registries): their
  // mirrors get capabilities ['pull'] only, so containerd resolves tags at the registry with the
  // pod's credentials (the kubelet's pull-secret check), and blobs by digest still come from
  // the mirrors.
  std::set<std::string> pull_only;
  bool prepend_existing = false;
  std::chrono::milliseconds dial_timeout{200};  // 0 → no dial_timeout line
  std::string authorization;                    // header value, e.g. "Basic …"; empty → none
};

// The hosts.toml for `registry`. `existing_host_tables` (from ExtractHostTables, may be empty)
// is appended after Spegel's tables. Ends with a newline.
std::string RenderHostsToml(const RegistryUrl& registry, const MirrorConfig& config,
                            std::string_view existing_host_tables);

// The `[host…]` tables of an existing hosts.toml (with their sub-tables such as `.header`),
// verbatim and in file order, without the root keys (`server`, …), other tables, or trailing
// blank space. Empty when there are none. InvalidArgument ("line N: …") for text this scanner
// cannot delimit safely (unterminated strings, arrays or headers, NUL bytes).
Result<std::string> ExtractHostTables(std::string_view hosts_toml);

// True when the text starts with kSpegelMarker (a file Spegel wrote).
bool IsSpegelHostsToml(std::string_view text);

}  // namespace spegel::node
