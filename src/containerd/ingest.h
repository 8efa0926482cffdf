// Ingests: blobs this node's containerd is still downloading, which in-flight sharing serves to
// peers from the growing file. The layout, as containerd 1.6 to 2.x write it:
//
//   <root>/ingest/<H>/ref     "<namespace>/<seq>/<kind>-<digest>" (or "...-<name>@<digest>"),
//                             written first and not atomically; H = hex SHA-256 of this string
//   <root>/ingest/<H>/total   the expected size in decimal (present for every pull)
//   <root>/ingest/<H>/data    the bytes, written sequentially, 1 MiB per write, never truncated
//
// On commit containerd checks size and digest, then renames `data` to <root>/blobs/sha256/<hex>:
// the same inode, so an open descriptor keeps reading the blob. On a failed or cancelled pull
// the directory is removed: the inode's link count drops to 0 while readers keep it open.
//
// IngestFile holds `data` open and tells, on each Observe(), what its bytes are worth: still
// growing (bytes below size are final), as long as announced (not verified), committed by
// containerd (verified by it), or dead (removed, replaced by a new ingest, shrunk, longer than
// announced). Every file here is outside input: a ref or total that does not parse, a kind we do
// not know or another namespace means the ingest is not served.
//
// Threading: Open() and Observe() call the file system (open, fstat, stat, a directory scan in
// the slow case) and are meant for the loop thread only where each costs a few syscalls on local
// files (Observe: one fstat, plus two stats once the file stops being linked or reaches its
// total); Open() may scan a directory and belongs on a worker. An IngestFile is move-only, owns
// its descriptor, and may be moved between threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "containerd/content_store.h"
#include "oci/digest.h"

namespace spegel::containerd {

// The digest an ingest's `ref` names, when it belongs to namespace `ns` and is one of the kinds
// a pull writes (layer-, config-, manifest-, index-, attestation-, unknown-). Accepts
// "<ns>/<decimal>/<kind>-<digest>" and "<ns>/<decimal>/<kind>-<name>@<digest>", with sha256
// digests only; nullopt for anything else (another namespace, a push ref, trailing bytes).
std::optional<oci::Digest> ParseIngestRef(std::string_view ref, std::string_view ns);

// An ingest's `total`: decimal, > 0, optionally ending in one newline. nullopt otherwise.
std::optional<uint64_t> ParseIngestTotal(std::string_view text);

// The `ref` containerd's pull writes for a layer of `digest` in `ns` ("<ns>/1/layer-<digest>"),
// and the ingest directory it names: where Open() looks first.
std::string LayerIngestRef(std::string_view ns, const oci::Digest& digest);
std::string IngestDirFor(const ContentDirectory& dir, std::string_view ref);

class IngestFile {
 public:
  enum class State {
    kGrowing,    // size < total; every byte below size is final.
    kFull,       // size == total: complete as announced, not verified.
    kCommitted,  // containerd renamed it into blobs/: it checked size and digest.
    kDead,       // Removed, replaced, shrunk or too long: stop serving it.
  };
  struct Observation {
    State state = State::kDead;
    uint64_t size = 0;
    std::string why;  // For kDead: what happened, for logs.
  };

  // Opens the ingest of `digest` in namespace `ns`: the directory of the layer ref first, else
  // the first directory whose `ref` names the digest. NotFound when there is none (or the
  // content directory is unknown); FailedPrecondition, naming the file, when its `ref` or `total`
  // is malformed, or `data` cannot be opened. Blocking.
  static Result<IngestFile> Open(const ContentDirectory& dir, std::string_view ns,
                                 const oci::Digest& digest);

  IngestFile(IngestFile&& other) noexcept;
  IngestFile& operator=(IngestFile&& other) noexcept;
  IngestFile(const IngestFile&) = delete;
  IngestFile& operator=(const IngestFile&) = delete;
  ~IngestFile();

  int fd() const { return fd_; }
  uint64_t total() const { return total_; }
  const oci::Digest& digest() const { return digest_; }
  const std::string& ingest_dir() const { return ingest_dir_; }

  // The file's state now (see State). Once kDead it stays kDead.
  Observation Observe();

 private:
  IngestFile(int fd, oci::Digest digest, uint64_t total, std::string ingest_dir,
             std::string blob_path, dev_t dev, ino_t ino);
  Observation Dead(std::string why);
  // The inode at `path` is ours.
  bool SameInode(const std::string& path) const;

  int fd_ = -1;
  oci::Digest digest_;
  uint64_t total_ = 0;
  std::string ingest_dir_;
  std::string blob_path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t last_size_ = 0;
  bool dead_ = false;
  std::string dead_why_;
};

}  // namespace spegel::containerd
