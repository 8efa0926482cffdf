// containerd::ContentStore and its parts: the contracts in containerd/content_store.h. Where a
// blob's file is, which failures mean "gone" (NotFound: the index is stale) and which mean "read
// it through containerd" (the Content.Read fallback), how the directory is discovered, and the
// BlobStream callback contract (exactly once, on the loop thread, never inline, never after the
// stream is gone). Files live in a fresh temporary directory; every loop test ends with no handle
// left behind.
#include "containerd/content_store.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "fakes/fake_containerd.h"
#include "fakes/loop_util.h"
#include "oci/sha256.h"

namespace spegel::containerd {
namespace {

namespace fs = std::filesystem;
using testing::FakeContainerd;
using testing::OpenHandles;
using testing::RunFor;
using testing::RunUntil;

oci::Digest DigestOf(const std::string& bytes) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(bytes));
}

// A FakeContainerd that exports a content root through Introspection.
class RootedFake : public FakeContainerd {
 public:
  Result<std::string> ContentRoot() override {
    if (root.empty()) return Status::NotFound("no root");
    return root;
  }
  std::string root;
};

// A fresh content directory, removed with the fixture.
struct TempRoot {
  TempRoot() {
    path = fs::temp_directory_path() /
           ("spegel-content-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path / "blobs" / "sha256");
  }
  ~TempRoot() { fs::remove_all(path); }
  fs::path BlobPath(const oci::Digest& d) const {
    return path / "blobs" / std::string(d.algorithm()) / std::string(d.hex());
  }
  void Write(const oci::Digest& d, const std::string& bytes) const {
    std::ofstream(BlobPath(d), std::ios::binary) << bytes;
  }
  static inline int counter = 0;
  fs::path path;
};

// ---------------------------------------------------------------------------------------------
// ContentDirectory

TEST_CASE("content directory: blob paths follow containerd's layout") {
  const oci::Digest d = DigestOf("x");
  CHECK(ContentDirectory("/var/lib/c").BlobPath(d) ==
        "/var/lib/c/blobs/sha256/" + std::string(d.hex()));
  CHECK(ContentDirectory().empty());
  CHECK_FALSE(ContentDirectory("/r").empty());
}

TEST_CASE("content directory: Open tells gone, wrong and unreadable files apart") {
  TempRoot root;
  const ContentDirectory dir(root.path.string());
  const oci::Digest present = DigestOf("present");
  root.Write(present, "present");

  auto file = dir.Open(present);
  REQUIRE(file.ok());
  CHECK(file->fd() >= 0);
  CHECK(file->size() == 7);
  CHECK(file->ReadAll().value() == "present");

  CHECK(dir.Open(DigestOf("absent")).status().code() == Code::kNotFound);

  const oci::Digest directory = DigestOf("a directory");
  fs::create_directories(root.BlobPath(directory));
  CHECK(dir.Open(directory).status().code() == Code::kDataLoss);

  // O_NOFOLLOW: a symlink is not opened (ELOOP), whatever it points to; readable through gRPC.
  const oci::Digest link = DigestOf("link");
  fs::create_symlink(root.BlobPath(present), root.BlobPath(link));
  CHECK(dir.Open(link).status().code() == Code::kUnavailable);

  CHECK(ContentDirectory().Open(present).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("content directory: a BlobFile owns its descriptor until Release()") {
  TempRoot root;
  const oci::Digest d = DigestOf("owned");
  root.Write(d, "owned");
  int fd = -1;
  {
    auto file = ContentDirectory(root.path.string()).Open(d);
    REQUIRE(file.ok());
    BlobFile moved = std::move(*file);
    CHECK(file->fd() == -1);  // NOLINT(bugprone-use-after-move): moved-from state is specified.
    fd = moved.fd();
    CHECK(fcntl(fd, F_GETFD) != -1);
  }
  CHECK(fcntl(fd, F_GETFD) == -1);  // Closed with the BlobFile.

  auto file = ContentDirectory(root.path.string()).Open(d);
  REQUIRE(file.ok());
  const int released = file->Release();
  CHECK(file->fd() == -1);
  CHECK(file->ReadAll().status().code() == Code::kFailedPrecondition);
  CHECK(fcntl(released, F_GETFD) != -1);
  ::close(released);
}

TEST_CASE(
    "content directory: Discover prefers the configured path, else containerd's root, "
    "and only a readable one") {
  TempRoot root;
  RootedFake fake;
  CHECK(ContentDirectory::Discover(&fake, root.path.string()).root() == root.path.string());
  CHECK(ContentDirectory::Discover(&fake, "/nonexistent-spegel-root").empty());
  CHECK(ContentDirectory::Discover(&fake, "").empty());  // containerd exports none
  fake.root = root.path.string();
  CHECK(ContentDirectory::Discover(&fake, "").root() == root.path.string());
  fake.root = "/nonexistent-spegel-root";
  CHECK(ContentDirectory::Discover(&fake, "").empty());
  // A fresh containerd has no blobs/ yet: the root alone decides.
  fs::remove_all(root.path / "blobs");
  CHECK(ContentDirectory::Discover(&fake, root.path.string()).root() == root.path.string());
}

// ---------------------------------------------------------------------------------------------
// ReadWholeBlob

TEST_CASE("read whole blob: from the file when there is one, else through Content.Read") {
  TempRoot root;
  FakeContainerd fake;
  const ContentDirectory dir(root.path.string());
  // The file's bytes differ from containerd's, to see which one answered.
  const std::string in_both = fake.AddBlob("from containerd");
  const oci::Digest both = *oci::Digest::Parse(in_both);
  root.Write(both, "from the file");
  CHECK(ReadWholeBlob(&fake, dir, both, 100).value() == "from the file");
  CHECK(ReadWholeBlob(&fake, ContentDirectory(), both, 100).value() == "from containerd");

  // Missing here (another root may hold it), or not openable: Content.Read.
  const oci::Digest only_grpc = *oci::Digest::Parse(fake.AddBlob("only in containerd"));
  CHECK(ReadWholeBlob(&fake, dir, only_grpc, 100).value() == "only in containerd");
  fs::create_symlink(root.BlobPath(both), root.BlobPath(only_grpc));
  CHECK(ReadWholeBlob(&fake, dir, only_grpc, 100).value() == "only in containerd");

  CHECK(ReadWholeBlob(&fake, dir, DigestOf("nowhere"), 100).status().IsNotFound());
}

TEST_CASE("read whole blob: larger than the bound is ResourceExhausted, from either source") {
  TempRoot root;
  FakeContainerd fake;
  const std::string bytes(64, 'x');
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob(bytes));
  root.Write(d, bytes);
  CHECK(ReadWholeBlob(&fake, ContentDirectory(root.path.string()), d, 63).status().code() ==
        Code::kResourceExhausted);
  CHECK(ReadWholeBlob(&fake, ContentDirectory(), d, 63).status().code() ==
        Code::kResourceExhausted);
  CHECK(ReadWholeBlob(&fake, ContentDirectory(), d, 64).value() == bytes);
}

// ---------------------------------------------------------------------------------------------
// ContentStore::Open

struct StoreFixture {
  StoreFixture() { store.SetDirectory(ContentDirectory(root.path.string())); }
  ~StoreFixture() { CHECK(OpenHandles(&loop) == 0); }

  // Drains `stream` in chunks of `chunk` bytes; nullopt on an error or a timeout.
  std::optional<std::string> Drain(BlobStream& stream, int64_t chunk) {
    std::string out;
    while (stream.remaining() > 0) {
      std::optional<Result<std::string>> got;
      stream.Read(chunk, [&](Result<std::string> r) { got = std::move(r); });
      if (!RunUntil(&loop, [&] { return got.has_value(); }) || !got->ok()) return std::nullopt;
      out += **got;
    }
    return out;
  }

  TempRoot root;
  Loop loop;
  FakeContainerd fake;
  ContentStore store{&loop, &fake, {}};
};

TEST_CASE_FIXTURE(StoreFixture, "content store: Open gives the file of the expected size") {
  const std::string bytes = "layer bytes";
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob(bytes));
  root.Write(d, bytes);
  auto blob = store.Open(d, static_cast<int64_t>(bytes.size()));
  REQUIRE(blob.ok());
  CHECK(blob->digest() == d);
  CHECK(blob->size() == static_cast<int64_t>(bytes.size()));
  REQUIRE(blob->file() != nullptr);
  CHECK(blob->file()->ReadAll().value() == bytes);
}

TEST_CASE_FIXTURE(StoreFixture,
                  "content store: a gone or wrong file is NotFound, even when "
                  "containerd still streams it") {
  const std::string bytes = "twelve bytes";
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob(bytes));
  // Gone: GC removed the file without an event.
  CHECK(store.Open(d, 12).status().IsNotFound());
  // Present but not what the index says.
  root.Write(d, "short");
  CHECK(store.Open(d, 12).status().IsNotFound());
  fs::remove(root.BlobPath(d));
  fs::create_directories(root.BlobPath(d));
  CHECK(store.Open(d, 12).status().IsNotFound());
}

TEST_CASE_FIXTURE(StoreFixture,
                  "content store: without a readable file the bytes come through "
                  "Content.Read") {
  const std::string bytes = "0123456789abcdefghij";
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob(bytes));
  const int64_t size = static_cast<int64_t>(bytes.size());

  SUBCASE("no directory") { store.SetDirectory(ContentDirectory()); }
  SUBCASE("a file that cannot be opened") {
    const oci::Digest other = DigestOf("other");
    root.Write(other, bytes);
    fs::create_symlink(root.BlobPath(other), root.BlobPath(d));
  }
  auto blob = store.Open(d, size);
  REQUIRE(blob.ok());
  CHECK(blob->file() == nullptr);
  auto whole = blob->Stream(0, size);
  CHECK(Drain(*whole, 7) == bytes);  // 7 + 7 + 6: the last chunk is what remains
  auto range = blob->Stream(3, 10);
  CHECK(range->offset() == 3);
  CHECK(Drain(*range, 4) == bytes.substr(3, 10));
  CHECK(range->offset() == 13);
  CHECK(range->remaining() == 0);
}

TEST_CASE_FIXTURE(StoreFixture, "content store: the directory in use is the last one set") {
  CHECK(store.directory().root() == root.path.string());
  CHECK(store.Discover().empty());  // configured with none; the fake exports none
  store.SetDirectory(ContentDirectory());
  CHECK(store.directory().empty());
}

// ---------------------------------------------------------------------------------------------
// BlobStream

TEST_CASE_FIXTURE(StoreFixture,
                  "blob stream: each Read answers once, on the loop thread, never "
                  "inline") {
  store.SetDirectory(ContentDirectory());
  const std::string bytes = "abcdef";
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob(bytes));
  auto blob = store.Open(d, 6);
  REQUIRE(blob.ok());
  auto stream = blob->Stream(0, 6);
  int calls = 0;
  std::thread::id thread;
  std::string got;
  stream->Read(4, [&](Result<std::string> r) {
    ++calls;
    thread = std::this_thread::get_id();
    got = r.value();
  });
  CHECK(calls == 0);  // Not inline.
  CHECK(stream->remaining() == 6);
  REQUIRE(RunUntil(&loop, [&] { return calls > 0; }));
  RunFor(&loop, 20);
  CHECK(calls == 1);
  CHECK(thread == std::this_thread::get_id());  // The loop runs on the test thread.
  CHECK(got == "abcd");
  CHECK(stream->offset() == 4);
  CHECK(stream->remaining() == 2);
}

TEST_CASE_FIXTURE(StoreFixture, "blob stream: errors leave the position; early end is DataLoss") {
  store.SetDirectory(ContentDirectory());
  const std::string bytes = "abcdef";
  const std::string digest = fake.AddBlob(bytes);
  const oci::Digest d = *oci::Digest::Parse(digest);
  auto blob = store.Open(d, 6);
  REQUIRE(blob.ok());

  // The index claims more than containerd holds: the read comes up short.
  auto tail = blob->Stream(4, 2);
  auto past_end = store.Open(d, 10)->Stream(4, 6);
  std::optional<Result<std::string>> short_read;
  past_end->Read(6, [&](Result<std::string> r) { short_read = std::move(r); });
  REQUIRE(RunUntil(&loop, [&] { return short_read.has_value(); }));
  CHECK(short_read->status().code() == Code::kDataLoss);
  CHECK(past_end->offset() == 4);
  CHECK(past_end->remaining() == 6);

  fake.RemoveBlob(digest);  // GC'd behind our back.
  std::optional<Result<std::string>> gone;
  tail->Read(2, [&](Result<std::string> r) { gone = std::move(r); });
  REQUIRE(RunUntil(&loop, [&] { return gone.has_value(); }));
  CHECK(gone->status().IsNotFound());
  CHECK(tail->remaining() == 2);
}

TEST_CASE_FIXTURE(StoreFixture, "blob stream: a misuse is FailedPrecondition, still not inline") {
  store.SetDirectory(ContentDirectory());
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob("abc"));
  auto stream = store.Open(d, 3)->Stream(0, 3);
  std::optional<Result<std::string>> first, second, empty;
  stream->Read(3, [&](Result<std::string> r) { first = std::move(r); });
  stream->Read(3, [&](Result<std::string> r) { second = std::move(r); });  // One is pending.
  CHECK_FALSE(second.has_value());
  REQUIRE(RunUntil(&loop, [&] { return first.has_value() && second.has_value(); }));
  CHECK(first->value() == "abc");
  CHECK(second->status().code() == Code::kFailedPrecondition);
  stream->Read(3, [&](Result<std::string> r) { empty = std::move(r); });  // Nothing remains.
  CHECK_FALSE(empty.has_value());
  REQUIRE(RunUntil(&loop, [&] { return empty.has_value(); }));
  CHECK(empty->status().code() == Code::kFailedPrecondition);
}

TEST_CASE_FIXTURE(StoreFixture, "blob stream: no callback after the stream is destroyed") {
  store.SetDirectory(ContentDirectory());
  const oci::Digest d = *oci::Digest::Parse(fake.AddBlob("abcdef"));
  auto stream = store.Open(d, 6)->Stream(0, 6);
  bool called = false;
  stream->Read(6, [&](Result<std::string>) { called = true; });
  stream.reset();
  RunFor(&loop, 50);
  CHECK_FALSE(called);
}

}  // namespace
}  // namespace spegel::containerd
