#include "node/hosts_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "auth/basic_auth.h"
#include "base/log.h"

namespace spegel::node {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStagingPrefix = ".spegel-";

Status Fail(std::string_view what, const fs::path& path, const std::error_code& ec) {
  return Status::FailedPrecondition(std::string(what) + " " + path.string() + ": " + ec.message());
}

Status FailErrno(std::string_view what, const fs::path& path, int err) {
  return Fail(what, path, std::error_code(err, std::generic_category()));
}

// Reads at most `limit` bytes; more is an error. ENOENT → NotFound.
Result<std::string> ReadFile(const fs::path& path, size_t limit) {
  // Symlinks are followed (Kubernetes Secret mounts are symlinks); O_NONBLOCK keeps a FIFO from
  // blocking the open, and only regular files are read.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path.string() + " does not exist");
    return FailErrno("cannot open", path, errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::FailedPrecondition(path.string() + " is not a regular file");
  }
  std::string out;
  char buf[16384];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return FailErrno("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      close(fd);
      return Status::FailedPrecondition(path.string() + " is larger than " + std::to_string(limit) +
                                        " bytes");
    }
  }
  close(fd);
  return out;
}

// Creates `path` (O_EXCL) with mode 0644 regardless of the umask, writes and fsyncs it.
Status WriteNewFile(const fs::path& path, std::string_view data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return FailErrno("cannot create", path, errno);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return FailErrno("cannot write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return FailErrno("cannot sync", path, err);
  }
  if (close(fd) != 0) return FailErrno("cannot close", path, errno);
  return Status::Ok();
}

void SyncDir(const fs::path& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);  // best effort: the renames are already visible to containerd
  close(fd);
}

Status MakeDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) return Fail("cannot create directory", dir, ec);
  fs::permissions(dir, fs::perms(0755), ec);
  if (ec) return Fail("cannot set the mode of", dir, ec);
  return Status::Ok();
}

bool Exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// Spegel's own entry: a staging name, or a real directory whose hosts.toml carries the marker.
bool IsSpegelEntry(const fs::path& entry) {
  if (entry.filename().string().rfind(kStagingPrefix, 0) == 0) return true;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(entry, ec))) return false;
  auto text = ReadFile(entry / "hosts.toml", kMaxHostsTomlBytes);
  return text.ok() && IsSpegelHostsToml(*text);
}

// Sorted names of a directory's entries.
Result<std::vector<std::string>> ListDir(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Fail("cannot list", dir, ec);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return Fail("cannot list", dir, ec);
  std::sort(names.begin(), names.end());
  return names;
}

Status RemoveAll(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Fail("cannot remove", path, ec);
  return Status::Ok();
}

Status Rename(const fs::path& from, const fs::path& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return Status::FailedPrecondition("cannot move " + from.string() + " to " + to.string() + ": " +
                                      strerror(errno));
  }
  return Status::Ok();
}

// Ensures `dir` exists as a directory. Returns false in *created when it already existed.
Status EnsureDir(const fs::path& dir, bool parents) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (fs::is_directory(st)) return Status::Ok();
  if (fs::exists(st)) return Status::FailedPrecondition(dir.string() + " is not a directory");
  if (parents) {
    fs::create_directories(dir, ec);
    if (ec) return Fail("cannot create directory", dir, ec);
    fs::permissions(dir, fs::perms(0755), ec);
    if (ec) return Fail("cannot set the mode of", dir, ec);
    return Status::Ok();
  }
  return MakeDir(dir);
}

// Copies every entry of `from` except hosts.toml into `to` (recursively, symlinks as links).
Status CopyExtraFiles(const fs::path& from, const fs::path& to) {
  auto names = ListDir(from);
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    if (name == "hosts.toml") continue;
    std::error_code ec;
    fs::copy(from / name, to / name, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
             ec);
    if (ec) return Fail("cannot copy", from / name, ec);
  }
  return Status::Ok();
}

}  // namespace

Result<ApplyResult> ApplyMirrorConfig(const std::string& config_path, const MirrorConfig& config) {
  const fs::path root(config_path);
  const fs::path backup = root / kBackupDir;
  ApplyResult result;
  if (Status st = EnsureDir(root, true); !st.ok()) return st;
  if (Status st = EnsureDir(backup, false); !st.ok()) return st;

  std::set<std::string> planned;
  for (const auto& registry : config.registries) planned.insert(registry.DirName());

  auto names = ListDir(root);
  if (!names.ok()) return names.status();
  // Check every user entry before moving any: a name taken in _backup stops the whole run.
  std::vector<std::string> users;
  for (const auto& name : *names) {
    if (name == kBackupDir || IsSpegelEntry(root / name)) continue;
    if (Exists(backup / name)) {
      return Status::FailedPrecondition(
          (root / name).string() + " exists and so does " + (backup / name).string() +
          ": move one of them away, then run again (nothing was changed)");
    }
    users.push_back(name);
  }
  for (const auto& name : *names) {
    if (name == kBackupDir) continue;
    if (std::find(users.begin(), users.end(), name) != users.end()) {
      if (Status st = Rename(root / name, backup / name); !st.ok()) return st;
      LOG_INFO("backed up").Str("path", (root / name).string()).Str("to", (backup / name).string());
      result.backed_up.push_back(name);
    } else if (name.rfind(kStagingPrefix, 0) == 0 || !planned.count(name)) {
      if (Status st = RemoveAll(root / name); !st.ok()) return st;
      result.removed.push_back(name);
    }
  }
  SyncDir(backup);

  for (const auto& registry : config.registries) {
    const std::string dir = registry.DirName();
    std::string existing;
    bool copy_extra = false;
    if (config.prepend_existing) {
      const fs::path old_file = backup / dir / "hosts.toml";
      auto text = ReadFile(old_file, kMaxHostsTomlBytes);
      if (!text.ok() && !text.status().IsNotFound()) return text.status();
      if (text.ok()) {
        auto tables = ExtractHostTables(*text);
        if (!tables.ok()) {
          return Status::FailedPrecondition("cannot prepend " + old_file.string() + ": " +
                                            tables.status().message());
        }
        existing = std::move(*tables);
        copy_extra = !existing.empty();
      }
    }
    const fs::path staging = root / (std::string(kStagingPrefix) + "new-" + dir);
    const fs::path final_dir = root / dir;
    const fs::path old_dir = root / (std::string(kStagingPrefix) + "old-" + dir);
    if (Status st = MakeDir(staging); !st.ok()) return st;
    if (copy_extra) {
      if (Status st = CopyExtraFiles(backup / dir, staging); !st.ok()) return st;
    }
    if (Status st = WriteNewFile(staging / "hosts.toml",
                                 RenderHostsToml(registry, config, existing));
        !st.ok()) {
      return st;
    }
    // Replace an earlier run's directory: the window without one is two renames long.
    const bool replace = Exists(final_dir);
    if (replace) {
      if (Status st = Rename(final_dir, old_dir); !st.ok()) return st;
    }
    if (Status st = Rename(staging, final_dir); !st.ok()) return st;
    if (replace) {
      if (Status st = RemoveAll(old_dir); !st.ok()) return st;
    }
    LOG_INFO("wrote mirror configuration")
        .Str("path", (final_dir / "hosts.toml").string())
        .Bool("prepended_existing", !existing.empty());
    result.written.push_back(dir);
  }
  SyncDir(root);
  return result;
}

Result<RestoreResult> RestoreMirrorConfig(const std::string& config_path) {
  const fs::path root(config_path);
  const fs::path backup = root / kBackupDir;
  RestoreResult result;
  std::error_code ec;
  if (!fs::is_directory(fs::status(backup, ec))) {
    if (Exists(backup)) return Status::FailedPrecondition(backup.string() + " is not a directory");
    return result;
  }
  result.had_backup = true;
  auto names = ListDir(root);
  if (!names.ok()) return names.status();
  auto saved = ListDir(backup);
  if (!saved.ok()) return saved.status();
  std::vector<std::string> ours;
  for (const auto& name : *names) {
    if (name == kBackupDir) continue;
    if (IsSpegelEntry(root / name)) {
      ours.push_back(name);
    } else if (Exists(backup / name)) {
      return Status::FailedPrecondition(
          (root / name).string() + " exists and so does " + (backup / name).string() +
          ": move one of them away, then run again (nothing was changed)");
    }
  }
  for (const auto& name : ours) {
    if (Status st = RemoveAll(root / name); !st.ok()) return st;
    result.removed.push_back(name);
  }
  for (const auto& name : *saved) {
    if (Status st = Rename(backup / name, root / name); !st.ok()) return st;
    result.restored.push_back(name);
  }
  fs::remove(backup, ec);
  if (ec) return Fail("cannot remove", backup, ec);
  SyncDir(root);
  LOG_INFO("restored mirror configuration")
      .Str("path", root.string())
      .Int("restored", static_cast<int64_t>(result.restored.size()))
      .Int("removed", static_cast<int64_t>(result.removed.size()));
  return result;
}

Result<std::string> ReadBasicAuthorization(const std::string& dir) {
  auto credentials = auth::LoadCredentials(dir);
  if (!credentials.ok()) return credentials.status();
  if (!credentials->has_value()) return std::string();
  return auth::BasicAuthorization(**credentials);
}

}  // namespace spegel::node
