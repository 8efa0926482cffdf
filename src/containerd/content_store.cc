#include "containerd/content_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace spegel::containerd {

// --- BlobFile ---

BlobFile::BlobFile(BlobFile&& other) noexcept : fd_(other.fd_), size_(other.size_) {
  other.fd_ = -1;
}

BlobFile& BlobFile::operator=(BlobFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    other.fd_ = -1;
  }
  return *this;
}

BlobFile::~BlobFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> BlobFile::ReadAll() const {
  if (fd_ < 0) return Status::FailedPrecondition("blob file was released");
  std::string data(static_cast<size_t>(size_), '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(std::string("read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != data.size()) return Status::Unavailable("short read");
  return data;
}

int BlobFile::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

// --- ContentDirectory ---

ContentDirectory ContentDirectory::Discover(ContainerdClient* client,
                                            const std::string& configured) {
  std::string root = configured;
  if (root.empty()) {
    auto discovered = client->ContentRoot();
    if (discovered.ok()) root = *discovered;
  }
  if (!root.empty() && ::access(root.c_str(), R_OK | X_OK) == 0) return ContentDirectory(root);
  if (!root.empty()) {
    LOG_WARN("content directory not readable; reading blobs through containerd").Str("path", root);
  }
  return ContentDirectory();
}

std::string ContentDirectory::BlobPath(const oci::Digest& digest) const {
  std::string path = root_;
  path.append("/blobs/");
  path.append(digest.algorithm());
  path.push_back('/');
  path.append(digest.hex());
  return path;
}

Result<BlobFile> ContentDirectory::Open(const oci::Digest& digest) const {
  if (empty()) return Status::FailedPrecondition("no content directory");
  const std::string path = BlobPath(digest);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::Unavailable(path + ": " + std::strerror(error));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::DataLoss(path + ": not a regular file");
  }
  return BlobFile(fd, static_cast<int64_t>(st.st_size));
}

// --- ReadWholeBlob ---

Result<std::string> ReadWholeBlob(ContainerdClient* client, const ContentDirectory& directory,
                                  const oci::Digest& digest, int64_t max_bytes) {
  if (!directory.empty()) {
    auto file = directory.Open(digest);
    if (file.ok()) {
      if (file->size() > max_bytes) {
        return Status::ResourceExhausted(directory.BlobPath(digest) + ": larger than " +
                                         std::to_string(max_bytes));
      }
      auto data = file->ReadAll();
      if (data.ok()) return data;
    }
  }
  std::string out;
  bool too_big = false;
  Status st = client->Read(digest.str(), 0, -1, [&](std::string_view chunk) {
    if (static_cast<int64_t>(out.size() + chunk.size()) > max_bytes) {
      too_big = true;
      return false;
    }
    out.append(chunk);
    return true;
  });
  if (too_big) {
    return Status::ResourceExhausted(digest.str() + ": larger than " + std::to_string(max_bytes));
  }
  if (!st.ok()) return st;
  return out;
}

// --- BlobStream ---

BlobStream::BlobStream(Loop* loop, Worker* worker, ContainerdClient* client, oci::Digest digest,
                       int64_t offset, int64_t length)
    : loop_(loop),
      worker_(worker),
      client_(client),
      digest_(std::move(digest)),
      offset_(offset),
      remaining_(length) {}

BlobStream::~BlobStream() { liveness_.Revoke(); }

void BlobStream::Read(int64_t max_bytes, ReadCallback done) {
  auto alive = liveness_.token();
  if (max_bytes <= 0 || remaining_ <= 0 || pending_) {
    loop_->Post([alive, done = std::move(done)] {
      if (alive.alive()) {
        done(Status::FailedPrecondition("blob stream: nothing to read, or a read is pending"));
      }
    });
    return;
  }
  pending_ = std::move(done);
  const int64_t want = std::min(remaining_, max_bytes);
  worker_->Push([alive, client = client_, loop = loop_, digest = digest_.str(), offset = offset_,
                 want, this] {
    std::string data;
    Status st = client->Read(digest, offset, want, [&](std::string_view chunk) {
      data.append(chunk);
      return static_cast<int64_t>(data.size()) <= want;
    });
    if (st.ok() && static_cast<int64_t>(data.size()) != want) {
      st = Status::DataLoss("content ended early");
    }
    Result<std::string> chunk = st.ok() ? Result<std::string>(std::move(data))
                                        : Result<std::string>(std::move(st));
    loop->Post([alive, this, chunk = std::move(chunk)]() mutable {
      if (alive.alive()) Deliver(std::move(chunk));
    });
  });
}

void BlobStream::Deliver(Result<std::string> chunk) {
  if (chunk.ok()) {
    offset_ += static_cast<int64_t>(chunk->size());
    remaining_ -= static_cast<int64_t>(chunk->size());
  } else {
    LOG_WARN("content read through containerd failed")
        .Str("digest", digest_.str())
        .Str("error", chunk.status().ToString());
  }
  // The callback may destroy this stream: nothing touches it afterwards.
  ReadCallback done = std::move(pending_);
  pending_ = nullptr;
  done(std::move(chunk));
}

// --- OpenBlob ---

std::unique_ptr<BlobStream> OpenBlob::Stream(int64_t offset, int64_t length) const {
  assert(offset >= 0 && length >= 0 && offset + length <= size_);
  return store_->NewStream(digest_, offset, length);
}

// --- ContentStore ---

ContentStore::ContentStore(Loop* loop, ContainerdClient* client, ContentStoreOptions options)
    : loop_(loop), client_(client), options_(std::move(options)) {
  const int workers = std::max(1, options_.stream_workers);
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>("spegel-read"));
}

ContentStore::~ContentStore() {
  for (auto& w : workers_) w->Stop();
}

ContentDirectory ContentStore::Discover() const {
  return ContentDirectory::Discover(client_, options_.content_path);
}

void ContentStore::SetDirectory(ContentDirectory directory) {
  if (directory_ != directory) {
    LOG_INFO("serving blobs").Str("content_root", directory.empty() ? "(gRPC)" : directory.root());
  }
  directory_ = std::move(directory);
}

Result<OpenBlob> ContentStore::Open(const oci::Digest& digest, int64_t size) {
  std::optional<BlobFile> file;
  if (!directory_.empty()) {
    auto opened = directory_.Open(digest);
    if (opened.status().IsNotFound()) return opened.status();
    if (opened.status().code() == Code::kDataLoss || (opened.ok() && opened->size() != size)) {
      LOG_WARN("content file does not match the index; dropped")
          .Str("digest", digest.str())
          .Str("path", directory_.BlobPath(digest));
      return Status::NotFound(directory_.BlobPath(digest) + ": not a regular file of " +
                              std::to_string(size) + " bytes");
    }
    // Unavailable (permissions): the bytes come through containerd instead.
    if (opened.ok()) file = std::move(*opened);
  }
  return OpenBlob(this, digest, size, std::move(file));
}

std::unique_ptr<BlobStream> ContentStore::NewStream(const oci::Digest& digest, int64_t offset,
                                                    int64_t length) {
  Worker* worker = workers_[next_worker_++ % workers_.size()].get();
  return std::unique_ptr<BlobStream>(
      new BlobStream(loop_, worker, client_, digest, offset, length));
}

}  // namespace spegel::containerd
