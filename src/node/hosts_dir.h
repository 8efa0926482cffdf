// containerd's registry config directory (`config_path`, e.g. /etc/containerd/certs.d): writes
// Spegel's hosts.toml files with a one-time backup of what was there, and restores it.
//
// Rules that make both operations idempotent and lossless:
// * An entry is Spegel's when it is a directory whose hosts.toml starts with kSpegelMarker, or a
//   name starting with ".spegel-" (staging left by a crash). Only Spegel's entries are deleted.
// * Every other entry of config_path (the user's) is moved into `_backup/` by rename, keeping its
//   bytes, modes and times; `_backup` is created on the first run and kept afterwards, so a
//   re-run backs up only entries that appeared since. Should a name exist both in config_path
//   (not Spegel's) and in `_backup`, nothing is changed and the error names the path.
// * Each host directory is assembled under a ".spegel-new-<dir>" name (hosts.toml written,
//   fsynced, mode 0644; directories 0755) and renamed into place, so containerd never sees a
//   partial file.
// * Restore removes Spegel's entries, renames every `_backup` entry back and removes `_backup`;
//   entries the user added meanwhile stay. Without `_backup` it does nothing.
//
// Threading: blocking file-system calls; run at start-up on the calling thread. Nothing else
// should write config_path at the same time.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "node/hosts_config.h"

namespace spegel::node {

inline constexpr std::string_view kBackupDir = "_backup";

struct ApplyResult {
  std::vector<std::string> backed_up;  // names moved into _backup by this run, sorted
  std::vector<std::string> written;    // host directories written, in registry order
  std::vector<std::string> removed;    // Spegel's stale entries removed, sorted
};

// Writes `<config_path>/<dir>/hosts.toml` for every registry of `config` (creating config_path
// with mode 0755 if missing), after backing up the user's entries. With prepend_existing, the
// [host] tables of `_backup/<dir>/hosts.toml` follow Spegel's and, when there are any, the other
// files of `_backup/<dir>` (certificates…) are copied next to the new hosts.toml.
// Errors (FailedPrecondition) name the path and the system error; entries already moved stay in
// `_backup`, so a re-run or a restore completes the job.
Result<ApplyResult> ApplyMirrorConfig(const std::string& config_path, const MirrorConfig& config);

struct RestoreResult {
  bool had_backup = false;
  std::vector<std::string> restored;  // names moved back from _backup, sorted
  std::vector<std::string> removed;   // Spegel's entries removed, sorted
};

// Undoes ApplyMirrorConfig (see the rules above). A missing config_path or `_backup` is not an
// error: had_backup is false and nothing changes.
Result<RestoreResult> RestoreMirrorConfig(const std::string& config_path);

// The Authorization header value ("Basic …") for the credentials in `dir`, read exactly as the
// registry reads them (auth::LoadCredentials), or "" when neither file exists.
Result<std::string> ReadBasicAuthorization(const std::string& dir);

}  // namespace spegel::node
