// containerd/ingest.h against directories laid out and changed the way containerd's local
// content store does it (inflight.md §A): a ref, a total and a data file that grows in steps,
// then a commit (rename into blobs/, the ingest directory removed), a failed pull (the directory
// removed), a truncation, a file longer than its total. Files live in a fresh temporary directory.
#include "containerd/ingest.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "oci/sha256.h"

namespace spegel::containerd {
namespace {

namespace fs = std::filesystem;
using State = IngestFile::State;

constexpr std::string_view kNs = "k8s.io";

oci::Digest DigestOf(const std::string& bytes) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(bytes));
}

// A content root with one ingest being written, as containerd's writer does it.
struct IngestRoot {
  explicit IngestRoot(const std::string& ref_text, const std::string& total_text) {
    root = fs::temp_directory_path() /
           ("spegel-ingest-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(root / "blobs" / "sha256");
    dir = fs::path(IngestDirFor(ContentDirectory(root.string()), ref_text));
    fs::create_directories(dir);
    std::ofstream(dir / "ref") << ref_text;
    std::ofstream(dir / "startedat") << "2026-12-04T10:00:00Z";
    if (!total_text.empty()) std::ofstream(dir / "total") << total_text;
    std::ofstream(dir / "data", std::ios::binary).flush();
  }
  ~IngestRoot() { fs::remove_all(root); }
  ContentDirectory content() const { return ContentDirectory(root.string()); }
  void Grow(const std::string& bytes) const {
    std::ofstream(dir / "data", std::ios::binary | std::ios::app) << bytes;
  }
  // containerd's commit: rename data into blobs/, then remove the ingest directory.
  void Commit(const oci::Digest& d) const {
    fs::rename(dir / "data", root / "blobs" / "sha256" / std::string(d.hex()));
    fs::remove_all(dir);
  }
  static inline int counter = 0;
  fs::path root;
  fs::path dir;
};

TEST_CASE("ingest ref: the digest of a pull's ref in our namespace, nothing else") {
  const std::string d = "sha256:" + std::string(64, 'a');
  CHECK(ParseIngestRef("k8s.io/1/layer-" + d, kNs)->str() == d);
  CHECK(ParseIngestRef("k8s.io/12/config-" + d, kNs)->str() == d);
  CHECK(ParseIngestRef("k8s.io/1/manifest-" + d, kNs)->str() == d);
  CHECK(ParseIngestRef("k8s.io/1/index-" + d, kNs)->str() == d);
  CHECK(ParseIngestRef("k8s.io/1/layer-docker.io/library/app:v1@" + d, kNs)->str() == d);
  CHECK_FALSE(ParseIngestRef("moby/1/layer-" + d, kNs));           // Another namespace.
  CHECK_FALSE(ParseIngestRef("k8s.io.x/1/layer-" + d, kNs));       // A longer namespace.
  CHECK_FALSE(ParseIngestRef("k8s.io/x/layer-" + d, kNs));         // No sequence.
  CHECK_FALSE(ParseIngestRef("k8s.io//layer-" + d, kNs));          // Empty sequence.
  CHECK_FALSE(ParseIngestRef("k8s.io/1/upload-" + d, kNs));        // Not a pull's kind.
  CHECK_FALSE(ParseIngestRef("k8s.io/1/layer-" + d + "\n", kNs));  // Trailing bytes.
  CHECK_FALSE(ParseIngestRef("k8s.io/1/layer-sha256:ABC", kNs));   // Not a digest.
  CHECK_FALSE(ParseIngestRef("k8s.io/1/layer-sha512:" + std::string(128, 'a'), kNs));
  CHECK_FALSE(ParseIngestRef("", kNs));
  CHECK_FALSE(ParseIngestRef("k8s.io/1/layer-" + d, ""));
}

TEST_CASE("ingest total: decimal above zero, one newline at most") {
  CHECK(ParseIngestTotal("16782547") == 16782547u);
  CHECK(ParseIngestTotal("5\n") == 5u);
  CHECK_FALSE(ParseIngestTotal("0"));
  CHECK_FALSE(ParseIngestTotal(""));
  CHECK_FALSE(ParseIngestTotal("12 "));
  CHECK_FALSE(ParseIngestTotal("-1"));
  CHECK_FALSE(ParseIngestTotal("5\n\n"));
  CHECK_FALSE(ParseIngestTotal("99999999999999999999999"));
}

TEST_CASE("ingest: a growing layer, then containerd's commit of the same inode") {
  const std::string blob(3 << 20, 'z');
  const oci::Digest d = DigestOf(blob);
  IngestRoot in(LayerIngestRef(kNs, d), std::to_string(blob.size()));
  Result<IngestFile> file = IngestFile::Open(in.content(), kNs, d);
  REQUIRE(file.ok());
  CHECK(file->total() == blob.size());
  CHECK(file->ingest_dir() == in.dir.string());
  IngestFile::Observation o = file->Observe();
  CHECK(o.state == State::kGrowing);
  CHECK(o.size == 0);
  in.Grow(blob.substr(0, 1 << 20));
  o = file->Observe();
  CHECK(o.state == State::kGrowing);
  CHECK(o.size == 1u << 20);
  in.Grow(blob.substr(1 << 20));
  CHECK(file->Observe().state == State::kFull);  // As long as announced; not verified.
  in.Commit(d);
  o = file->Observe();
  CHECK(o.state == State::kCommitted);
  CHECK(o.size == blob.size());
  // The descriptor still reads the blob.
  char last = 0;
  CHECK(::pread(file->fd(), &last, 1, static_cast<off_t>(blob.size() - 1)) == 1);
  CHECK(last == 'z');
}

TEST_CASE("ingest: a failed pull removes the directory: the file is dead, and stays dead") {
  const oci::Digest d = DigestOf("never finished");
  IngestRoot in(LayerIngestRef(kNs, d), "100");
  Result<IngestFile> file = IngestFile::Open(in.content(), kNs, d);
  REQUIRE(file.ok());
  in.Grow(std::string(40, 'x'));
  CHECK(file->Observe().state == State::kGrowing);
  fs::remove_all(in.dir);
  IngestFile::Observation o = file->Observe();
  CHECK(o.state == State::kDead);
  CHECK(o.why == "ingest removed");
  CHECK(o.size == 40);
  // A new ingest for the same ref (the retry) is another inode: the old file stays dead.
  IngestRoot again(LayerIngestRef(kNs, d), "100");
  CHECK(file->Observe().state == State::kDead);
}

TEST_CASE("ingest: a file that shrinks or outgrows its total is dead") {
  const oci::Digest d = DigestOf("shrinks");
  {
    IngestRoot in(LayerIngestRef(kNs, d), "100");
    Result<IngestFile> file = IngestFile::Open(in.content(), kNs, d);
    REQUIRE(file.ok());
    in.Grow(std::string(50, 'x'));
    CHECK(file->Observe().state == State::kGrowing);
    fs::resize_file(in.dir / "data", 10);
    IngestFile::Observation o = file->Observe();
    CHECK(o.state == State::kDead);
    CHECK(o.why == "shrank from 50 to 10");
  }
  {
    IngestRoot in(LayerIngestRef(kNs, d), "10");
    Result<IngestFile> file = IngestFile::Open(in.content(), kNs, d);
    REQUIRE(file.ok());
    in.Grow(std::string(11, 'x'));
    CHECK(file->Observe().state == State::kDead);
  }
}

TEST_CASE("ingest: found by scanning refs when the directory is not the computed one") {
  const std::string d = "sha256:" + std::string(64, 'b');
  const oci::Digest digest = *oci::Digest::Parse(d);
  IngestRoot in("k8s.io/1/layer-docker.io/library/app:v1@" + d, "7");
  Result<IngestFile> file = IngestFile::Open(in.content(), kNs, digest);
  REQUIRE(file.ok());
  CHECK(file->ingest_dir() == in.dir.string());
}

TEST_CASE("ingest: missing, foreign and malformed ingests are not opened") {
  const oci::Digest d = DigestOf("bad ingests");
  CHECK(IngestFile::Open(ContentDirectory(), kNs, d).status().code() == Code::kNotFound);
  {
    IngestRoot in(LayerIngestRef("moby", d), "10");  // Another namespace's ingest.
    CHECK(IngestFile::Open(in.content(), kNs, d).status().code() == Code::kNotFound);
  }
  for (const char* total : {"", "0", "ten", "10 10"}) {
    CAPTURE(total);
    IngestRoot in(LayerIngestRef(kNs, d), total);
    Result<IngestFile> file = IngestFile::Open(in.content(), kNs, d);
    CHECK(file.status().code() == Code::kFailedPrecondition);
    CHECK(file.status().message().find("total") != std::string::npos);
  }
  {
    IngestRoot in(LayerIngestRef(kNs, d), "10");
    fs::remove(in.dir / "data");  // The directory caught half-built.
    CHECK(IngestFile::Open(in.content(), kNs, d).status().code() == Code::kFailedPrecondition);
  }
  {
    // A root with no ingest directory at all (containerd 1.7.24+ creates it lazily).
    IngestRoot in(LayerIngestRef(kNs, d), "10");
    fs::remove_all(in.root / "ingest");
    CHECK(IngestFile::Open(in.content(), kNs, d).status().code() == Code::kNotFound);
  }
}

}  // namespace
}  // namespace spegel::containerd
