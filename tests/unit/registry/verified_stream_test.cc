// VerifiedStream (verified_stream.h) driven directly: a fake feeder and a fake server sink, so
// each invariant is checked on exact bytes without sockets (peer_fetch_test.cc covers it end to
// end through real peers).
#include "registry/verified_stream.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "fakes/fake_writer.h"
#include "fakes/loop_util.h"
#include "loop/loop.h"
#include "loop/worker.h"
#include "oci/digest.h"
#include "oci/sha256.h"

namespace spegel::registry {
namespace {

using Appended = VerifiedStream::AppendResult;

using spegel::testing::RunUntil;

oci::Digest DigestOf(std::string_view bytes) {
  return oci::Digest::FromSha256(oci::Sha256::Hash(bytes));
}

// `n` bytes that differ from one offset to the next, so a byte out of place changes the hash.
std::string MakeBlob(size_t n) {
  std::string blob(n, '\0');
  for (size_t i = 0; i < n; ++i) blob[i] = static_cast<char>((i * 131 + (i >> 12)) & 0xff);
  return blob;
}

struct FakeFeeder : VerifiedStream::Feeder {
  int pumps = 0;
  size_t delivered = 0;
  bool closed = false;
  int mismatches = 0;
  void Pump() override { ++pumps; }
  void Delivered(size_t bytes) override { delivered += bytes; }
  void BodyClosed() override { closed = true; }
  void DigestMismatch() override { ++mismatches; }
};

struct FakeSink : http::BodySink {
  std::string received;
  int writes = 0;
  std::string failed;
  void Write(std::string_view data) override {
    received.append(data);
    ++writes;
  }
  void Lend(std::string_view data) override { Write(data); }
  void SendFile(int fd, uint64_t offset, uint64_t length) override {
    Write(testing::ReadFileRange(fd, offset, length));
  }
  void Fail(std::string_view reason) override { failed = std::string(reason); }
};

TEST_CASE("verified stream: every byte reaches the client, the last one only once verified") {
  const std::string blob = "hello, verified world";
  FakeFeeder feeder;
  FakeSink sink;
  VerifiedStream stream(&feeder, DigestOf(blob), blob.size(), 0, blob.size() - 1);
  auto body = stream.OpenBody();
  body->Proceed(sink);  // Nothing yet: the sink waits, the feeder is asked for bytes.
  CHECK(sink.writes == 0);
  CHECK(feeder.pumps == 1);

  // The client waits and nothing is queued: straight through.
  CHECK(stream.Append(blob.substr(0, 7)) == Appended::kAccepted);
  CHECK(sink.received == blob.substr(0, 7));
  CHECK(stream.offset() == 7);
  CHECK_FALSE(stream.complete());

  // The rest completes the window: queued; handed over on the next Proceed, now verified.
  CHECK(stream.Append(blob.substr(7)) == Appended::kVerified);
  CHECK(stream.complete());
  REQUIRE(stream.hashed());
  CHECK(*stream.hashed() == DigestOf(blob));
  stream.Deliver();
  CHECK(sink.received == blob.substr(0, 7));
  body->Proceed(sink);
  CHECK(sink.received == blob);
  CHECK(feeder.delivered == blob.size());
  CHECK(sink.failed.empty());
}

TEST_CASE("verified stream: wrong bytes never complete the client's answer") {
  const std::string blob = "abcdef";
  FakeFeeder feeder;
  FakeSink sink;
  VerifiedStream stream(&feeder, DigestOf("the real blob"), blob.size(), 0, blob.size() - 1);
  auto body = stream.OpenBody();
  CHECK(stream.Append(blob) == Appended::kDigestMismatch);
  REQUIRE(stream.hashed());
  CHECK(*stream.hashed() == DigestOf(blob));
  body->Proceed(sink);  // Everything but the held last byte.
  CHECK(sink.received == "abcde");
  body->Proceed(sink);  // The last byte stays held: the sink waits.
  CHECK(sink.received == "abcde");
  stream.Fail("digest mismatch");
  CHECK(sink.failed == "digest mismatch");
  FakeSink later;
  body->Proceed(later);  // After Fail(), at once.
  CHECK_FALSE(later.failed.empty());
  CHECK(later.received.empty());
}

TEST_CASE("verified stream: a client window gets exactly its bytes; the rest is hashed") {
  const std::string blob = "0123456789";
  FakeFeeder feeder;
  FakeSink sink;
  VerifiedStream stream(&feeder, DigestOf(blob), blob.size(), 2, 5);
  CHECK(stream.window_length() == 4);
  auto body = stream.OpenBody();
  CHECK(stream.Append("0123") == Appended::kAccepted);
  CHECK(stream.Append("456") == Appended::kAccepted);
  body->Proceed(sink);  // Window complete but blob not verified: the last window byte waits.
  CHECK(sink.received == "234");
  CHECK(stream.Append("789") == Appended::kVerified);
  body->Proceed(sink);
  CHECK(sink.received == "2345");
  CHECK(feeder.delivered == 4);
}

TEST_CASE("verified stream: too many bytes are refused without being taken") {
  FakeFeeder feeder;
  VerifiedStream stream(&feeder, DigestOf("abc"), 3, 0, 2);
  CHECK(stream.Append("ab") == Appended::kAccepted);
  CHECK(stream.Append("cd") == Appended::kTooLong);
  CHECK(stream.offset() == 2);
  CHECK(stream.Append("c") == Appended::kVerified);
}

TEST_CASE("verified stream: read-ahead is bounded by the ring, and lent from it in place") {
  constexpr size_t ring = VerifiedStream::kMaxRingBytes;
  const std::string blob(ring + 10, 'x');
  FakeFeeder feeder;
  VerifiedStream stream(&feeder, DigestOf(blob), blob.size(), 0, blob.size() - 1);
  CHECK(stream.ring_capacity() == ring);
  auto body = stream.OpenBody();
  // Reads go into the ring itself, at most kMaxReadBytes each.
  std::span<char> region = stream.WritableRegion();
  REQUIRE(region.size() == VerifiedStream::kMaxReadBytes);
  std::memset(region.data(), 'x', region.size());
  CHECK(stream.Append({region.data(), region.size()}) == Appended::kAccepted);
  CHECK(stream.HasRoom());
  // Fill up to three quarters: a quarter left is still room; less is not.
  static_assert(VerifiedStream::kMaxReadBytes <= ring * 3 / 4);
  CHECK(stream.Append(
            std::string_view(blob).substr(0, ring * 3 / 4 - VerifiedStream::kMaxReadBytes)) ==
        Appended::kAccepted);
  CHECK(stream.HasRoom());
  CHECK(stream.Append(std::string_view(blob).substr(0, ring / 4 - 1)) == Appended::kAccepted);
  CHECK_FALSE(stream.HasRoom());
  CHECK(stream.WritableRegion().size() == 1);
  FakeSink sink;
  body->Proceed(sink);  // Lent to the client, but not yet sent: still no room.
  CHECK(sink.received.size() == ring - 1);
  CHECK_FALSE(stream.HasRoom());
  body->Proceed(sink);  // The lent bytes went out: room again, and nothing more to lend.
  CHECK(stream.HasRoom());
  CHECK(sink.received.size() == ring - 1);
  CHECK(stream.WritableRegion().size() == VerifiedStream::kMaxReadBytes);
}

TEST_CASE("verified stream: rings come from the shared budget, then at the floor size") {
  ReadAheadBudget budget(VerifiedStream::kMaxRingBytes + VerifiedStream::kMinRingBytes);
  const std::string blob(100 << 20, 'y');
  FakeFeeder feeder;
  const oci::Digest digest = DigestOf("unused");
  auto first = std::make_unique<VerifiedStream>(&feeder, digest, blob.size(), 0, blob.size() - 1,
                                                &budget);
  CHECK(first->ring_capacity() == VerifiedStream::kMaxRingBytes);
  VerifiedStream second(&feeder, digest, blob.size(), 0, blob.size() - 1, &budget);
  CHECK(second.ring_capacity() == VerifiedStream::kMinRingBytes);
  VerifiedStream third(&feeder, digest, blob.size(), 0, blob.size() - 1, &budget);
  CHECK(third.ring_capacity() == VerifiedStream::kMinRingBytes);  // Spent: the floor.
  CHECK(budget.used() == VerifiedStream::kMaxRingBytes + 2 * VerifiedStream::kMinRingBytes);
  first.reset();  // Given back.
  CHECK(budget.used() == 2 * VerifiedStream::kMinRingBytes);
  VerifiedStream fourth(&feeder, digest, blob.size(), 0, blob.size() - 1, &budget);
  CHECK(fourth.ring_capacity() == VerifiedStream::kMaxRingBytes - VerifiedStream::kMinRingBytes);
  // A small blob gets a ring of its size (whole pages), and takes only that from the budget.
  const size_t used = budget.used();
  VerifiedStream small(&feeder, digest, 5000, 0, 4999, &budget);
  CHECK(small.ring_capacity() == 8192);
  CHECK(budget.used() == used + 5000);
}

TEST_CASE("verified stream: a read that did not go into the ring is copied, and may grow it") {
  const std::string blob(VerifiedStream::kMinRingBytes * 3, 'z');
  ReadAheadBudget spent(0);
  FakeFeeder feeder;
  FakeSink sink;
  VerifiedStream stream(&feeder, DigestOf(blob), blob.size(), 0, blob.size() - 1, &spent);
  CHECK(stream.ring_capacity() == VerifiedStream::kMinRingBytes);
  auto body = stream.OpenBody();
  // One fallback read larger than the ring (e.g. the read that carried the response head).
  CHECK(stream.Append(std::string_view(blob).substr(0, VerifiedStream::kMinRingBytes * 2)) ==
        Appended::kAccepted);
  CHECK(stream.ring_capacity() >= VerifiedStream::kMinRingBytes * 2);
  body->Proceed(sink);
  CHECK(sink.received == blob.substr(0, VerifiedStream::kMinRingBytes * 2));
  body->Proceed(sink);
  CHECK(stream.Append(std::string_view(blob).substr(VerifiedStream::kMinRingBytes * 2)) ==
        Appended::kVerified);
  body->Proceed(sink);
  CHECK(sink.received == blob);
}

TEST_CASE(
    "verified stream: the server ending the body tells the feeder; a body outliving the "
    "stream fails") {
  FakeFeeder feeder;
  {
    VerifiedStream stream(&feeder, DigestOf("abc"), 3, 0, 2);
    auto body = stream.OpenBody();
    body->Stop();
    CHECK(feeder.closed);
  }
  FakeFeeder destroyed_feeder;
  {
    VerifiedStream stream(&destroyed_feeder, DigestOf("abc"), 3, 0, 2);
    auto body = stream.OpenBody();
    body.reset();  // The server destroyed the body without Stop().
    CHECK(destroyed_feeder.closed);
  }
  std::unique_ptr<http::BodySource> orphan;
  FakeFeeder orphan_feeder;
  {
    VerifiedStream stream(&orphan_feeder, DigestOf("abc"), 3, 0, 2);
    orphan = stream.OpenBody();
  }
  FakeSink sink;
  orphan->Proceed(sink);
  CHECK_FALSE(sink.failed.empty());
  orphan.reset();
  CHECK_FALSE(orphan_feeder.closed);  // The stream was gone: nobody to tell.
}

TEST_CASE("verified stream: after Stop() nothing is handed over and the feeder is not pumped") {
  FakeFeeder feeder;
  FakeSink sink;
  VerifiedStream stream(&feeder, DigestOf("abc"), 3, 0, 2);
  auto body = stream.OpenBody();
  CHECK(stream.Append("ab") == Appended::kAccepted);
  stream.Stop();
  body->Proceed(sink);
  CHECK(sink.received.empty());
  CHECK(feeder.pumps == 0);
}

// ---------------------------------------------------------------------------------------------
// Hashing on a worker thread (HashWorker).

// A loop and a hash worker whose thread can be held still, so a test decides when hashing runs.
struct HashEnv {
  Loop loop;
  Worker worker{"sha256-test"};
  std::atomic<bool> release{true};
  // A stream of `blob` (whole, as the client's window) hashed on the worker.
  std::unique_ptr<VerifiedStream> Stream(FakeFeeder* feeder, const std::string& blob,
                                         const oci::Digest& digest) {
    return std::make_unique<VerifiedStream>(feeder, digest, blob.size(), 0, blob.size() - 1,
                                            nullptr, HashWorker{&loop, &worker});
  }
  // The worker hashes nothing until Release().
  void Hold() {
    release = false;
    worker.Push([this] {
      for (int i = 0; i < 5000 && !release; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  void Release() { release = true; }
};

TEST_CASE("verified stream on a worker: the last byte goes out once the digest came back") {
  HashEnv env;
  const std::string blob = "hashed off the loop, in order";
  FakeFeeder feeder;
  FakeSink sink;
  auto owned = env.Stream(&feeder, blob, DigestOf(blob));
  VerifiedStream& stream = *owned;
  auto body = stream.OpenBody();
  env.Hold();
  body->Proceed(sink);
  CHECK(stream.Append(blob.substr(0, 10)) == Appended::kAccepted);
  CHECK(sink.received == blob.substr(0, 10));  // Sent before it is hashed.
  body->Proceed(sink);
  CHECK(stream.Append(blob.substr(10)) == Appended::kAccepted);  // The verdict comes later.
  CHECK(stream.complete());
  CHECK(stream.hashed_bytes() == 0);
  CHECK(sink.received == blob.substr(0, blob.size() - 1));
  body->Proceed(sink);
  CHECK(sink.received == blob.substr(0, blob.size() - 1));  // Held until the digest.
  env.Release();
  REQUIRE(RunUntil(&env.loop, [&] { return sink.received.size() == blob.size(); }));
  CHECK(sink.received == blob);
  CHECK(stream.hashed_bytes() == blob.size());
  REQUIRE(stream.hashed());
  CHECK(*stream.hashed() == DigestOf(blob));
  CHECK(feeder.mismatches == 0);
}

TEST_CASE("verified stream on a worker: a mismatch reaches the feeder and the end stays held") {
  HashEnv env;
  const std::string blob = "not what the digest says";
  FakeFeeder feeder;
  FakeSink sink;
  auto owned = env.Stream(&feeder, blob, DigestOf("the real blob"));
  VerifiedStream& stream = *owned;
  auto body = stream.OpenBody();
  body->Proceed(sink);
  CHECK(stream.Append(blob) == Appended::kAccepted);
  REQUIRE(RunUntil(&env.loop, [&] { return feeder.mismatches == 1; }));
  REQUIRE(stream.hashed());
  CHECK(*stream.hashed() == DigestOf(blob));
  body->Proceed(sink);  // The sink waits for the held last byte.
  CHECK(sink.received == blob.substr(0, blob.size() - 1));
  stream.Fail("digest mismatch");
  CHECK(sink.failed == "digest mismatch");
  CHECK(sink.received == blob.substr(0, blob.size() - 1));
}

TEST_CASE("verified stream on a worker: ring bytes are reused only once sent and hashed") {
  HashEnv env;
  constexpr size_t ring = VerifiedStream::kMaxRingBytes;
  const std::string blob = MakeBlob(ring * 2);
  FakeFeeder feeder;
  FakeSink sink;
  auto owned = env.Stream(&feeder, blob, DigestOf(blob));
  VerifiedStream& stream = *owned;
  auto body = stream.OpenBody();
  env.Hold();
  size_t at = 0;
  while (stream.HasRoom()) {  // Fill the ring in place, read by read.
    std::span<char> region = stream.WritableRegion();
    REQUIRE(!region.empty());
    std::memcpy(region.data(), blob.data() + at, region.size());
    CHECK(stream.Append({region.data(), region.size()}) == Appended::kAccepted);
    at += region.size();
  }
  body->Proceed(sink);  // Lent...
  body->Proceed(sink);  // ...and sent: but not hashed, so the ring keeps every byte.
  CHECK(sink.received == blob.substr(0, at));
  CHECK_FALSE(stream.HasRoom());
  env.Release();
  REQUIRE(RunUntil(&env.loop, [&] { return stream.hashed_bytes() == at; }));
  CHECK(stream.HasRoom());   // Sent and hashed: the space is free again.
  CHECK(feeder.pumps >= 1);  // The feeder heard of the room.
  while (!stream.complete()) {
    std::span<char> region = stream.WritableRegion();
    const size_t n = std::min(region.size(), blob.size() - at);
    REQUIRE(n > 0);
    std::memcpy(region.data(), blob.data() + at, n);
    CHECK(stream.Append({region.data(), n}) == Appended::kAccepted);
    at += n;
    body->Proceed(sink);
    body->Proceed(sink);
    REQUIRE(RunUntil(&env.loop, [&] { return stream.hashed_bytes() == at; }));
  }
  REQUIRE(RunUntil(&env.loop, [&] {
    body->Proceed(sink);
    return sink.received.size() == blob.size();
  }));
  CHECK(sink.received == blob);
  CHECK(stream.copied_bytes() == 0);
}

TEST_CASE("verified stream on a worker: a stream destroyed with chunks queued is never called") {
  HashEnv env;
  const std::string blob = MakeBlob(3 << 20);
  FakeFeeder feeder;
  env.Hold();
  {
    auto owned = env.Stream(&feeder, blob, DigestOf(blob));
    VerifiedStream& stream = *owned;
    for (size_t at = 0; at < blob.size(); at += 1 << 20) {
      std::span<char> region = stream.WritableRegion();
      if (region.empty()) {
        CHECK(stream.Append(std::string_view(blob).substr(at, 1 << 20)) == Appended::kAccepted);
        continue;
      }
      std::memcpy(region.data(), blob.data() + at, region.size());
      CHECK(stream.Append({region.data(), region.size()}) == Appended::kAccepted);
    }
  }
  const int pumps = feeder.pumps;
  env.Release();
  spegel::testing::RunFor(&env.loop, 100);
  CHECK(feeder.pumps == pumps);
  CHECK(feeder.mismatches == 0);
}

}  // namespace
}  // namespace spegel::registry
