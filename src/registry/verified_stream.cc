#include "registry/verified_stream.h"

#include <algorithm>
#include <atomic>
#include <utility>

namespace spegel::registry {

// The server's handle on the stream. Outlives it when the stream's owner ends first.
class VerifiedStream::Body : public http::BodySource {
 public:
  explicit Body(VerifiedStream* stream) : stream_(stream) {}
  ~Body() override {
    if (stream_ != nullptr) stream_->BodyGone();
  }
  void Proceed(http::BodySink& sink) override {
    if (stream_ != nullptr) {
      stream_->Proceed(sink);
    } else {
      sink.Fail("peer fetch ended");
    }
  }
  void Stop() override {
    if (stream_ != nullptr) stream_->BodyGone();
    stream_ = nullptr;
  }
  void Detach() { stream_ = nullptr; }

 private:
  VerifiedStream* stream_;
};

size_t ReadAheadBudget::Take(size_t want, size_t floor) {
  const size_t left = total_ > used_ ? total_ - used_ : 0;
  const size_t bytes = std::max(floor, std::min(want, left));
  used_ += bytes;
  return bytes;
}

void ReadAheadBudget::Give(size_t bytes) { used_ -= std::min(bytes, used_); }

size_t VerifiedStream::RingBytes(ReadAheadBudget* budget, uint64_t window_length) {
  // Never more than the window needs: a small blob gets a small ring.
  const size_t want = static_cast<size_t>(std::min<uint64_t>(kMaxRingBytes, window_length));
  const size_t floor = std::min(kMinRingBytes, want);
  return budget != nullptr ? budget->Take(want, floor) : want;
}

// What the stream and its chunks on the worker share. `hasher` and `skip` are the worker's once
// the stream has hashed through it; `stream` is the loop thread's.
struct VerifiedStream::HashState {
  oci::Sha256 hasher;
  std::atomic<bool> skip{false};     // The stream is gone: chunks still queued are not hashed.
  VerifiedStream* stream = nullptr;  // Null once the stream is gone.
};

VerifiedStream::VerifiedStream(Feeder* feeder, oci::Digest digest, uint64_t size,
                               uint64_t window_first, uint64_t window_last, ReadAheadBudget* budget,
                               HashWorker hash)
    : feeder_(feeder),
      digest_(std::move(digest)),
      size_(size),
      window_first_(window_first),
      window_last_(window_last),
      budget_(budget),
      budget_taken_(RingBytes(budget, window_last - window_first + 1)),
      hash_worker_(hash),
      ring_(std::make_shared<ByteRing>(budget_taken_)),
      hash_(std::make_shared<HashState>()) {
  if (hash_worker_.worker == nullptr) hash_worker_.loop = nullptr;
  hash_->stream = this;
}

VerifiedStream::~VerifiedStream() {
  hash_->stream = nullptr;
  hash_->skip.store(true, std::memory_order_relaxed);
  if (body_ != nullptr) body_->Detach();
  if (budget_ != nullptr) budget_->Give(budget_taken_);
}

std::unique_ptr<http::BodySource> VerifiedStream::OpenBody() {
  auto body = std::make_unique<Body>(this);
  body_ = body.get();
  return body;
}

VerifiedStream::AppendResult VerifiedStream::Append(std::string_view data) {
  if (offset_ + data.size() > size_) return AppendResult::kTooLong;
  const uint64_t chunk_first = offset_;
  offset_ += data.size();
  // The part of this chunk inside the client's window.
  const uint64_t from = std::max(chunk_first, window_first_);
  const uint64_t to = std::min(offset_, window_last_ + 1);
  const std::string_view part = from < to ? data.substr(from - chunk_first, to - from)
                                          : std::string_view();
  const bool in_place = !part.empty() && ring_->IsAtWritePosition(part);
  // Hashed (or queued, or copied for the worker) before the ring moves bytes: `data` may lie in
  // the ring's free space, where Append() below writes.
  const std::optional<AppendResult> verdict = Hash(data, in_place && part.size() == data.size());
  if (in_place) {
    ring_->Commit(part.size());  // Read in place: no copy.
  } else if (!part.empty()) {
    // A read that did not go into the ring (the one with the response head), or window bytes
    // behind skipped ones. It is one read at most, so the ring grows at most by that much.
    if (part.size() > ring_->free() && !GrowRing(ring_->size() + part.size())) {
      return AppendResult::kOutOfMemory;
    }
    if (!ring_->Append(part)) return AppendResult::kOutOfMemory;
    copied_bytes_ += part.size();
  }
  received_ += part.size();
  if (verdict == AppendResult::kDigestMismatch) return *verdict;
  LendToSink();
  return verified_ ? AppendResult::kVerified : AppendResult::kAccepted;
}

std::optional<VerifiedStream::AppendResult> VerifiedStream::Hash(std::string_view data,
                                                                 bool in_ring) {
  const bool last = complete();
  if (hash_worker_.worker == nullptr) {
    hash_->hasher.Update(data);
    hashed_bytes_ = offset_;
    if (!last) return std::nullopt;
    hashed_ = oci::Digest::FromSha256(hash_->hasher.Finish());
    if (*hashed_ != digest_) return AppendResult::kDigestMismatch;
    verified_ = true;
    return AppendResult::kVerified;
  }
  // In place, the chunk reads the ring's memory, which stays mapped (the chunk holds the ring)
  // and unwritten (ReleaseRing waits for the hash) until the worker is done with it. Otherwise
  // the bytes are in the client's buffer, which the next read reuses: the chunk takes a copy.
  std::shared_ptr<ByteRing> ring = in_ring ? ring_ : nullptr;
  std::string copy = in_ring ? std::string() : std::string(data);
  const std::string_view bytes = in_ring ? data : std::string_view();
  ++chunks_in_flight_;
  hash_worker_.worker->Push([state = hash_, ring = std::move(ring), copy = std::move(copy), bytes,
                             last, loop = hash_worker_.loop]() mutable {
    const uint64_t n = ring ? bytes.size() : copy.size();
    std::optional<oci::Digest> digest;
    if (!state->skip.load(std::memory_order_relaxed)) {
      state->hasher.Update(ring ? bytes : std::string_view(copy));
      if (last) digest = oci::Digest::FromSha256(state->hasher.Finish());
    }
    // The ring and the copy are let go here, on the worker, before the loop hears of it.
    ring.reset();
    copy = std::string();
    loop->Post([state = std::move(state), n, digest = std::move(digest)]() mutable {
      if (state->stream != nullptr) state->stream->OnHashed(n, std::move(digest));
    });
  });
  return std::nullopt;
}

void VerifiedStream::OnHashed(uint64_t bytes, std::optional<oci::Digest> digest) {
  --chunks_in_flight_;
  hashed_bytes_ += bytes;
  if (digest) {
    hashed_ = std::move(digest);
    if (*hashed_ != digest_) {
      feeder_->DigestMismatch();
      return;
    }
    verified_ = true;
  }
  ReleaseRing();
  Deliver();
}

void VerifiedStream::ReleaseRing() {
  const uint64_t hashed_window = hashed_bytes_ <= window_first_
                                     ? 0
                                     : std::min<uint64_t>(hashed_bytes_, window_last_ + 1) -
                                           window_first_;
  const uint64_t done = std::min(sent_, hashed_window);
  if (done <= consumed_) return;
  ring_->Consume(static_cast<size_t>(done - consumed_));
  consumed_ = done;
}

bool VerifiedStream::GrowRing(size_t capacity) {
  if (chunks_in_flight_ == 0) return ring_->Reserve(capacity);
  auto bigger = std::make_shared<ByteRing>(std::max(capacity, ring_->capacity()));
  for (size_t at = 0; at < ring_->size();) {
    const std::string_view part = ring_->ReadableAt(at);
    if (!bigger->Append(part)) return false;
    at += part.size();
  }
  ring_ = std::move(bigger);
  return true;
}

void VerifiedStream::LendToSink() {
  if (sink_ == nullptr || stopped_ || failed_) return;
  // The last byte of the client's answer waits until the whole blob hashed to its digest, so a
  // client can never receive a complete response with wrong bytes.
  const uint64_t queued = received_ - delivered_;
  const bool holds_end = received_ == window_length() && !verified_;
  const uint64_t deliverable = queued - (holds_end && queued > 0 ? 1 : 0);
  if (deliverable == 0) return;
  // Bytes already sent may still wait in the ring for their hash: start after them.
  const std::string_view view = ring_->ReadableAt(static_cast<size_t>(delivered_ - consumed_))
                                    .substr(0, static_cast<size_t>(deliverable));
  http::BodySink* sink = sink_;
  sink_ = nullptr;
  delivered_ += view.size();
  feeder_->Delivered(view.size());
  sink->Lend(view);
}

void VerifiedStream::Deliver() {
  if (stopped_ || failed_) return;
  LendToSink();
  feeder_->Pump();
}

void VerifiedStream::Fail(std::string_view why) {
  failed_ = true;
  if (sink_ != nullptr) {
    http::BodySink* sink = sink_;
    sink_ = nullptr;
    sink->Fail(why);  // The server aborts; it then stops or destroys the body.
  }
}

void VerifiedStream::Proceed(http::BodySink& sink) {
  if (failed_) {
    sink.Fail("peer fetch failed");
    return;
  }
  // A Proceed() means every byte lent before has gone to the kernel.
  sent_ = delivered_;
  ReleaseRing();
  sink_ = &sink;
  Deliver();
}

void VerifiedStream::BodyGone() {
  body_ = nullptr;
  sink_ = nullptr;
  feeder_->BodyClosed();
}

}  // namespace spegel::registry
