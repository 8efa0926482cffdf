// Reading blobs from containerd's content store: the one place that knows where a committed
// blob's file is (<root>/blobs/<algorithm>/<hex>), how it is opened and checked, how the root is
// found, and when the bytes must come through containerd's Content.Read instead (the directory
// is not readable, e.g. not mounted into the pod, or a file cannot be opened).
//
//   ContentDirectory  where the files are: a path value, found by Discover() once per full sync.
//   BlobFile          one open content file; owns its descriptor.
//   ReadWholeBlob()   a blocking whole-blob read, for worker threads (the index's walker).
//   ContentStore      the loop side: Open() a blob to serve a range of it, from its file (for
//                     sendfile) or as a BlobStream of Content.Read calls on a worker.
//
// Serving asks "open blob D, which should hold N bytes, to read from offset O": OpenBlob is the
// answer, and says where the bytes are. A future source (a blob still being ingested, whose file
// grows) fits behind the same question.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "containerd/client.h"
#include "loop/liveness.h"
#include "loop/loop.h"
#include "loop/worker.h"
#include "oci/digest.h"

namespace spegel::containerd {

class ContentStore;

// One open content file. Owns its descriptor (closed on destruction, unless Release()d).
// Move-only; not thread-safe, but may be moved to another thread.
class BlobFile {
 public:
  BlobFile(BlobFile&& other) noexcept;
  BlobFile& operator=(BlobFile&& other) noexcept;
  BlobFile(const BlobFile&) = delete;
  BlobFile& operator=(const BlobFile&) = delete;
  ~BlobFile();

  // The descriptor, or -1 after Release().
  int fd() const { return fd_; }
  // The file's size when it was opened.
  int64_t size() const { return size_; }
  // Blocking: the whole file, [0, size()), with pread. Unavailable on a read error or when the
  // file is shorter than size(). Meant for small blobs; the caller bounds size() first.
  Result<std::string> ReadAll() const;
  // Gives the descriptor to the caller, who must close it (e.g. http::ResponseWriter::RespondFile
  // takes it). fd() is -1 afterwards.
  int Release();

 private:
  friend class ContentDirectory;
  BlobFile(int fd, int64_t size) : fd_(fd), size_(size) {}
  int fd_;
  int64_t size_;
};

// containerd's content directory, or none (every read then goes through Content.Read). A plain
// value: copy it to worker jobs; const methods are safe from any thread.
class ContentDirectory {
 public:
  ContentDirectory() = default;  // None.
  explicit ContentDirectory(std::string root) : root_(std::move(root)) {}

  // Blocking (may call containerd); never on the loop thread. The directory to read: `configured`
  // if set, else the root containerd exports (Introspection); none when that directory is not
  // readable (logged at WARN, with the path). The root itself is checked, not <root>/blobs: a
  // fresh containerd creates blobs/ with its first blob, and a root checked too early must not
  // condemn every later read to gRPC.
  static ContentDirectory Discover(ContainerdClient* client, const std::string& configured);

  bool empty() const { return root_.empty(); }
  const std::string& root() const { return root_; }
  // <root>/blobs/<algorithm>/<hex>. Safe to open: a Digest's parts cannot hold '/', ".." or
  // NUL (oci/digest.h). REQUIRES: !empty().
  std::string BlobPath(const oci::Digest& digest) const;

  // Blocking. Opens the committed blob's file (read-only, no symlinks):
  //   NotFound            the file does not exist (GC, or content this directory never had);
  //   DataLoss            it exists but is not a regular file, or cannot be stat'ed;
  //   Unavailable         it cannot be opened (permissions, ELOOP, EMFILE, ...);
  //   FailedPrecondition  there is no directory (empty()).
  Result<BlobFile> Open(const oci::Digest& digest) const;

  friend bool operator==(const ContentDirectory&, const ContentDirectory&) = default;

 private:
  std::string root_;
};

// Blocking; any thread but the loop's. The whole blob, at most `max_bytes` (larger blobs are
// ResourceExhausted, from the file's size or as soon as Content.Read passes it): from its file
// when `directory` has a regular one, else through `client`'s Content.Read. Every file failure
// but a too-large file falls back to Content.Read, even NotFound (containerd may hold the blob
// under another root); Content.Read's NotFound means the blob is absent.
Result<std::string> ReadWholeBlob(ContainerdClient* client, const ContentDirectory& directory,
                                  const oci::Digest& digest, int64_t max_bytes);

// Reads one range of one blob, in order, through containerd's Content.Read: one bounded chunk
// per Read(), on one of its ContentStore's workers, handed back to the loop with Loop::Post().
// Made by OpenBlob::Stream(); owned by the caller; loop thread only. Must not outlive its
// ContentStore.
class BlobStream {
 public:
  // Exactly min(max_bytes, remaining()) bytes on success; containerd's error (NotFound when the
  // blob is gone) or DataLoss when the blob ends early. An error is logged at WARN here.
  using ReadCallback = std::function<void(Result<std::string> chunk)>;

  // A pending Read()'s callback never runs once the stream is destroyed (the worker's answer is
  // dropped on arrival).
  ~BlobStream();
  BlobStream(const BlobStream&) = delete;
  BlobStream& operator=(const BlobStream&) = delete;

  // The next byte to read, and how many are left of the range.
  int64_t offset() const { return offset_; }
  int64_t remaining() const { return remaining_; }

  // Reads the next min(max_bytes, remaining()) bytes. `done` runs exactly once, on the loop
  // thread, never inline (unless the stream is destroyed first: then never). A successful chunk
  // advances offset() and remaining(); an error leaves them as they were.
  // REQUIRES: max_bytes > 0, remaining() > 0, and no Read() pending; otherwise `done` gets
  // FailedPrecondition (still posted, never inline).
  void Read(int64_t max_bytes, ReadCallback done);

 private:
  friend class ContentStore;
  BlobStream(Loop* loop, Worker* worker, ContainerdClient* client, oci::Digest digest,
             int64_t offset, int64_t length);
  void Deliver(Result<std::string> chunk);

  Loop* loop_;
  Worker* worker_;
  ContainerdClient* client_;
  oci::Digest digest_;
  int64_t offset_;
  int64_t remaining_;
  ReadCallback pending_;  // Set while a Read() is in flight.
  Liveness liveness_;     // Drops a worker's answer that arrives after destruction.
};

// A blob opened by ContentStore::Open(): its content file when the directory is readable
// (file(): send it with sendfile(2) or read it with pread), else a handle whose bytes come
// through Content.Read (Stream()). Move-only; owns the file. Loop thread; must not outlive its
// ContentStore.
class OpenBlob {
 public:
  OpenBlob(OpenBlob&&) noexcept = default;
  OpenBlob& operator=(OpenBlob&&) noexcept = default;

  const oci::Digest& digest() const { return digest_; }
  // The size the caller expected, which a file has been checked to have.
  int64_t size() const { return size_; }
  // The content file, or nullptr when the bytes come through containerd.
  BlobFile* file() { return file_ ? &*file_ : nullptr; }
  // Reads [offset, offset + length) through Content.Read, whether or not there is a file.
  // REQUIRES: 0 <= offset, 0 <= length, offset + length <= size().
  std::unique_ptr<BlobStream> Stream(int64_t offset, int64_t length) const;

 private:
  friend class ContentStore;
  OpenBlob(ContentStore* store, oci::Digest digest, int64_t size, std::optional<BlobFile> file)
      : store_(store), digest_(std::move(digest)), size_(size), file_(std::move(file)) {}

  ContentStore* store_;
  oci::Digest digest_;
  int64_t size_;
  std::optional<BlobFile> file_;
};

struct ContentStoreOptions {
  // The content directory to read; empty (the default) means the root containerd exports. Either
  // is used only when readable.
  std::string content_path;
  // Worker threads for Content.Read streams, taken in turn by each new stream, so one slow read
  // cannot stall every stream. Default 2; at least 1 is used.
  int stream_workers = 2;
};

// The loop side of the content store. Owned by the daemon; `loop` and `client` must outlive it,
// and every OpenBlob and BlobStream it made must be gone before it is. Loop thread only, except
// Discover() (any thread but the loop's). Destruction stops the workers (a running Content.Read
// call finishes first), after which no BlobStream callback runs.
class ContentStore {
 public:
  ContentStore(Loop* loop, ContainerdClient* client, ContentStoreOptions options);
  ~ContentStore();
  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  // Blocking; safe from any thread but the loop's (it reads only the options and calls the
  // client). ContentDirectory::Discover() with the configured content path.
  ContentDirectory Discover() const;
  // The directory Open() reads; none until SetDirectory(). Logs the change at INFO.
  void SetDirectory(ContentDirectory directory);
  const ContentDirectory& directory() const { return directory_; }

  // Opens `digest`, which the caller (the index) says holds `size` bytes, for reading. Blocking
  // only for open(2) and fstat(2) of the file. NotFound when the file is gone or is not a regular
  // file of `size` bytes (the latter logged at WARN): the caller's view is stale, since GC
  // deletes content without events. Otherwise the file, or, when there is no directory or the
  // file cannot be opened, a blob to Stream() through containerd.
  Result<OpenBlob> Open(const oci::Digest& digest, int64_t size);

 private:
  friend class OpenBlob;
  // A stream on the next worker in turn.
  std::unique_ptr<BlobStream> NewStream(const oci::Digest& digest, int64_t offset, int64_t length);

  Loop* const loop_;
  ContainerdClient* const client_;
  const ContentStoreOptions options_;
  ContentDirectory directory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t next_worker_ = 0;
};

}  // namespace spegel::containerd
