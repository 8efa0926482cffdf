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

VerifiedStream::VerifiedStream(Feeder* feeder, oci::Digest digest, uint64_t size,
                               uint64_t window_first, uint64_t window_last)
    : feeder_(feeder),
      digest_(std::move(digest)),
      size_(size),
      window_first_(window_first),
      window_last_(window_last) {}

VerifiedStream::~VerifiedStream() {
  if (body_ != nullptr) body_->Detach();
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
    const bool completes = delivered_ + part.size() == window_length();
    if (sink_ != nullptr && pending_.empty() && !completes) {
      // The client is waiting and nothing is queued: hand the bytes over without a copy here.
      http::BodySink* sink = sink_;
      sink_ = nullptr;
      delivered_ += part.size();
      feeder_->Delivered(part.size());
      sink->Write(part);
    } else {
      pending_.append(part);
    }
  }
  if (!complete()) return AppendResult::kAccepted;
  hashed_ = oci::Digest::FromSha256(hasher_.Finish());
  if (*hashed_ != digest_) return AppendResult::kDigestMismatch;
  verified_ = true;
  return AppendResult::kVerified;
}

void VerifiedStream::Deliver() {
  if (stopped_ || failed_) return;
  // The last byte of the client's answer waits until the whole blob hashed to its digest, so a
  // client can never receive a complete response with wrong bytes.
  const bool holds_end = delivered_ + pending_.size() == window_length() && !verified_;
  const size_t deliverable = pending_.size() - (holds_end && !pending_.empty() ? 1 : 0);
  if (sink_ != nullptr && deliverable > 0) {
    http::BodySink* sink = sink_;
    sink_ = nullptr;
    std::string out;
    if (deliverable == pending_.size()) {
      out.swap(pending_);
    } else {
      out = pending_.substr(0, deliverable);
      pending_.erase(0, deliverable);
    }
    delivered_ += out.size();
    feeder_->Delivered(out.size());
    sink->Write(out);
  }
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
  sink_ = &sink;
  Deliver();
}

void VerifiedStream::BodyGone() {
  body_ = nullptr;
  sink_ = nullptr;
  feeder_->BodyClosed();
}

}  // namespace spegel::registry
