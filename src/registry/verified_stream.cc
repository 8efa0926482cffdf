#include "registry/verified_stream.h"

#include <algorithm>
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

VerifiedStream::VerifiedStream(Feeder* feeder, oci::Digest digest, uint64_t size,
                               uint64_t window_first, uint64_t window_last, ReadAheadBudget* budget)
    : feeder_(feeder),
      digest_(std::move(digest)),
      size_(size),
      window_first_(window_first),
      window_last_(window_last),
      budget_(budget),
      budget_taken_(RingBytes(budget, window_last - window_first + 1)),
      ring_(budget_taken_) {}

VerifiedStream::~VerifiedStream() {
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
  hasher_.Update(data);
  const uint64_t chunk_first = offset_;
  offset_ += data.size();
  // The part of this chunk inside the client's window.
  const uint64_t from = std::max(chunk_first, window_first_);
  const uint64_t to = std::min(offset_, window_last_ + 1);
  if (from < to) {
    const std::string_view part = data.substr(from - chunk_first, to - from);
    if (ring_.IsAtWritePosition(part)) {
      ring_.Commit(part.size());  // Read in place: no copy.
    } else {
      // A read that did not go into the ring (the one with the response head), or window bytes
      // behind skipped ones. It is one read at most, so the ring grows at most by that much.
      if (part.size() > ring_.free()) ring_.Reserve(ring_.size() + part.size());
      if (!ring_.Append(part)) return AppendResult::kOutOfMemory;
      copied_bytes_ += part.size();
    }
  }
  if (complete()) {
    hashed_ = oci::Digest::FromSha256(hasher_.Finish());
    if (*hashed_ != digest_) return AppendResult::kDigestMismatch;
    verified_ = true;
  }
  LendToSink();
  return verified_ ? AppendResult::kVerified : AppendResult::kAccepted;
}

void VerifiedStream::LendToSink() {
  if (sink_ == nullptr || stopped_ || failed_) return;
  // The last byte of the client's answer waits until the whole blob hashed to its digest, so a
  // client can never receive a complete response with wrong bytes.
  // A waiting sink has taken back everything it was lent (lent_ is 0), so every ring byte is
  // unlent and the readable view starts at the first of them.
  const size_t queued = ring_.size();
  const bool holds_end = delivered_ + queued == window_length() && !verified_;
  const size_t deliverable = queued - (holds_end && queued > 0 ? 1 : 0);
  if (deliverable == 0) return;
  const std::string_view view = ring_.Readable().substr(0, deliverable);
  http::BodySink* sink = sink_;
  sink_ = nullptr;
  lent_ = view.size();
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
  ring_.Consume(lent_);
  lent_ = 0;
  sink_ = &sink;
  Deliver();
}

void VerifiedStream::BodyGone() {
  body_ = nullptr;
  sink_ = nullptr;
  feeder_->BodyClosed();
}

}  // namespace spegel::registry
