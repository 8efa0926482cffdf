#include "containerd/ingest.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/numbers.h"
#include "oci/sha256.h"

namespace spegel::containerd {
namespace {

constexpr std::string_view kPullKinds[] = {"layer-", "config-",      "manifest-",
                                           "index-", "attestation-", "unknown-"};
// ref and total are a line each; anything bigger is not containerd's.
constexpr size_t kMaxSmallFile = 4096;

// The whole of a small file, or nullopt when it cannot be read or is larger than kMaxSmallFile.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::string out(kMaxSmallFile + 1, '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > kMaxSmallFile) return std::nullopt;
  out.resize(got);
  return out;
}

}  // namespace

std::optional<oci::Digest> ParseIngestRef(std::string_view ref, std::string_view ns) {
  if (ns.empty() || ref.size() <= ns.size() || ref.substr(0, ns.size()) != ns ||
      ref[ns.size()] != '/') {
    return std::nullopt;
  }
  std::string_view rest = ref.substr(ns.size() + 1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || !IsAllDigits(rest.substr(0, slash))) return std::nullopt;
  rest.remove_prefix(slash + 1);
  bool kind_known = false;
  for (std::string_view kind : kPullKinds) {
    if (rest.substr(0, kind.size()) == kind) {
      rest.remove_prefix(kind.size());
      kind_known = true;
      break;
    }
  }
  if (!kind_known) return std::nullopt;
  // "<name>@<digest>" when the descriptor carried a ref name: the digest follows the last '@'.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) rest.remove_prefix(at + 1);
  Result<oci::Digest> digest = oci::Digest::Parse(rest);
  if (!digest.ok() || digest->algorithm() != "sha256") return std::nullopt;
  return std::move(digest).value();
}

std::optional<uint64_t> ParseIngestTotal(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  uint64_t total = 0;
  if (!ParseDecimal(text, &total) || total == 0) return std::nullopt;
  return total;
}

std::string LayerIngestRef(std::string_view ns, const oci::Digest& digest) {
  return std::string(ns) + "/1/layer-" + digest.str();
}

std::string IngestDirFor(const ContentDirectory& dir, std::string_view ref) {
  const oci::Digest key = oci::Digest::FromSha256(oci::Sha256::Hash(ref));
  return dir.root() + "/ingest/" + std::string(key.hex());
}

Result<IngestFile> IngestFile::Open(const ContentDirectory& dir, std::string_view ns,
                                    const oci::Digest& digest) {
  if (dir.empty()) return Status::NotFound("no content directory: ingests cannot be read");
  // The directory whose ref names the digest: the computed one, else a scan (a ref with a name,
  // another kind, or a sequence other than 1).
  std::string ingest_dir = IngestDirFor(dir, LayerIngestRef(ns, digest));
  std::optional<std::string> ref = ReadSmallFile(ingest_dir + "/ref");
  if (!ref || ParseIngestRef(*ref, ns) != digest) {
    ref.reset();
    const std::string root = dir.root() + "/ingest";
    if (DIR* d = ::opendir(root.c_str())) {
      while (const dirent* entry = ::readdir(d)) {
        if (entry->d_name[0] == '.') continue;
        const std::string candidate = root + "/" + entry->d_name;
        std::optional<std::string> text = ReadSmallFile(candidate + "/ref");
        if (text && ParseIngestRef(*text, ns) == digest) {
          ingest_dir = candidate;
          ref = std::move(text);
          break;
        }
      }
      ::closedir(d);
    }
  }
  if (!ref) return Status::NotFound("no ingest of " + digest.str() + " in " + dir.root());
  const std::optional<std::string> total_text = ReadSmallFile(ingest_dir + "/total");
  const std::optional<uint64_t> total = total_text ? ParseIngestTotal(*total_text)
                                                   : std::optional<uint64_t>();
  if (!total) {
    return Status::FailedPrecondition("ingest " + ingest_dir + ": no valid total");
  }
  const std::string data = ingest_dir + "/data";
  const int fd = ::open(data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Status::FailedPrecondition("ingest " + data + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::FailedPrecondition("ingest " + data + ": not a regular file");
  }
  return IngestFile(fd, digest, *total, std::move(ingest_dir), dir.BlobPath(digest), st.st_dev,
                    st.st_ino);
}

IngestFile::IngestFile(int fd, oci::Digest digest, uint64_t total, std::string ingest_dir,
                       std::string blob_path, dev_t dev, ino_t ino)
    : fd_(fd),
      digest_(std::move(digest)),
      total_(total),
      ingest_dir_(std::move(ingest_dir)),
      blob_path_(std::move(blob_path)),
      dev_(dev),
      ino_(ino) {}

IngestFile::IngestFile(IngestFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      digest_(std::move(other.digest_)),
      total_(other.total_),
      ingest_dir_(std::move(other.ingest_dir_)),
      blob_path_(std::move(other.blob_path_)),
      dev_(other.dev_),
      ino_(other.ino_),
      last_size_(other.last_size_),
      dead_(other.dead_),
      dead_why_(std::move(other.dead_why_)) {}

IngestFile& IngestFile::operator=(IngestFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    digest_ = std::move(other.digest_);
    total_ = other.total_;
    ingest_dir_ = std::move(other.ingest_dir_);
    blob_path_ = std::move(other.blob_path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    last_size_ = other.last_size_;
    dead_ = other.dead_;
    dead_why_ = std::move(other.dead_why_);
  }
  return *this;
}

IngestFile::~IngestFile() {
  if (fd_ >= 0) ::close(fd_);
}

IngestFile::Observation IngestFile::Dead(std::string why) {
  dead_ = true;
  dead_why_ = std::move(why);
  return {State::kDead, last_size_, dead_why_};
}

bool IngestFile::SameInode(const std::string& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

IngestFile::Observation IngestFile::Observe() {
  if (dead_) return {State::kDead, last_size_, dead_why_};
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Dead(std::string("fstat: ") + std::strerror(errno));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < last_size_) {
    return Dead("shrank from " + std::to_string(last_size_) + " to " + std::to_string(size));
  }
  last_size_ = size;
  if (size > total_) {
    return Dead("grew to " + std::to_string(size) + " past its total " + std::to_string(total_));
  }
  if (st.st_nlink == 0) {
    // Unlinked: committed when the blob path is our inode, else removed (a failed pull).
    if (SameInode(blob_path_)) {
      if (size != total_) return Dead("committed with " + std::to_string(size) + " bytes");
      return {State::kCommitted, size, {}};
    }
    return Dead("ingest removed");
  }
  if (size == total_) {
    // The commit renames `data` (the link count stays 1): look for our inode at the blob path.
    if (SameInode(blob_path_)) return {State::kCommitted, size, {}};
    return {State::kFull, size, {}};
  }
  return {State::kGrowing, size, {}};
}

}  // namespace spegel::containerd
