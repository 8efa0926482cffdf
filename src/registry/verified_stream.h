// VerifiedStream: the body of a blob GET that is answered from bytes still arriving from peers,
// handed to the client only as far as they can be trusted.
//
//   feeder (peer attempts) ──Append(bytes at offset())──▶ hash every byte of the blob
//                                                            │ bytes inside the client's window
//                                                            ▼
//   server ◀──sink.Lend── ring (read ahead, ReadAheadBudget) ◀── BodySource::Proceed
//
// Invariants:
//   * Bytes are appended in blob order, starting at offset 0; whoever feeds the stream resumes a
//     broken provider at offset() (a `Range: bytes=<offset>-` request), so the hash covers every
//     byte of the blob exactly once whichever providers sent them.
//   * The last byte of the client's window is held back until the whole blob hashed to the
//     digest. A client can never receive a complete response with wrong bytes: on a mismatch
//     Append() says so, the feeder calls Fail(), and the server aborts the client connection.
//   * Bytes outside the window (a client Range) are hashed and dropped.
//   * Window bytes wait for the client in one ByteRing, which the feeder's socket reads fill in
//     place (WritableRegion()) and the server sends from in place (BodySink::Lend): no copy in
//     user space between the two sockets. The feeder reads more only while HasRoom().
//   * With a HashWorker the SHA-256 runs on the worker's thread, off the loop: each Append()
//     queues its bytes (a view of the ring for bytes read into it in place, a copy otherwise) and
//     the worker reports each chunk hashed through Loop::Post, the last one with the digest. A
//     ring byte is reused only once it is both sent and hashed, and the last window byte goes out
//     only after the digest came back and matched, so a stream costs the larger of network and
//     hash time rather than their sum, and no 1 MiB update holds the loop. A mismatch then
//     reaches Feeder::DigestMismatch() instead of Append()'s result. Without a worker the hash
//     runs inside Append().
//   * Memory: the ring's capacity is taken from a ReadAheadBudget shared by all streams when the
//     stream is made: kMaxRingBytes while the budget lasts, kMinRingBytes once it is spent. So one
//     stream holds at most kMaxRingBytes (plus one fallback read of the feeder's, when a read
//     did not go into the ring), and all streams together hold at most the budget plus
//     kMinRingBytes per stream beyond it. The pages are mapped, and given back when the stream is
//     destroyed.
//
// Threading and ownership: loop thread only. The feeder owns the stream and outlives it. The
// server owns the BodySource from OpenBody(); it forwards to the stream while both live, and
// after the stream is gone answers Proceed() with Fail(). Feeder calls run inline: Pump() from
// Deliver() and from the server's Proceed(), Delivered() whenever bytes reach the sink,
// BodyClosed() from the server's Stop() or destruction of the body source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/byte_ring.h"
#include "http/handler.h"
#include "loop/loop.h"
#include "loop/worker.h"
#include "oci/digest.h"
#include "oci/sha256.h"

namespace spegel::registry {

// Where streams hash: the worker thread that runs SHA-256 and the loop its results come back to.
struct HashWorker {
  Loop* loop = nullptr;
  Worker* worker = nullptr;
};

// Read-ahead memory shared by the streams of one PeerFetcher (loop thread only).
class ReadAheadBudget {
 public:
  explicit ReadAheadBudget(size_t total_bytes) : total_(total_bytes) {}
  // A ring capacity for a new stream: `want` while the budget lasts, else `floor`.
  size_t Take(size_t want, size_t floor);
  void Give(size_t bytes);
  size_t used() const { return used_; }

 private:
  size_t total_;
  size_t used_ = 0;
};

class VerifiedStream {
 public:
  // Ring capacity of one stream, at most and at least (see the memory invariant above).
  static constexpr size_t kMaxRingBytes = 2 << 20;
  static constexpr size_t kMinRingBytes = 32 << 10;
  // One read from the provider, at most.
  static constexpr size_t kMaxReadBytes = 1 << 20;

  // What feeds the stream. Called on the loop thread, from the stream's methods or from the
  // server's calls into the body source.
  class Feeder {
   public:
    // The stream tried to hand queued bytes to the client (after Deliver(), and after each
    // Proceed() from the server). The feeder reads more from its provider if HasRoom(), or, if
    // its provider is gone and the blob is incomplete, resumes at offset(). Not called once the
    // stream failed or was stopped.
    virtual void Pump() = 0;
    // `bytes` more bytes of the body went to the client.
    virtual void Delivered(size_t bytes) = 0;
    // The server is done with the body (it stopped or destroyed the body source): nothing will
    // be asked of the stream again.
    virtual void BodyClosed() = 0;
    // With a HashWorker: the blob is complete and its hash is not the digest (hashed() says what
    // it is). The last byte was not sent; the feeder fails the stream. Runs from a posted task.
    virtual void DigestMismatch() = 0;

   protected:
    ~Feeder() = default;
  };

  enum class AppendResult {
    kAccepted,        // More bytes are expected, or (with a HashWorker) the verdict is due.
    kVerified,        // The blob is complete and hashed to its digest (no HashWorker).
    kTooLong,         // More bytes than the blob has: nothing was taken.
    kDigestMismatch,  // The blob is complete and its hash is not the digest (no HashWorker).
    kOutOfMemory,     // The ring could not take the bytes (no memory could be mapped).
  };

  // The client is answered bytes [window_first, window_last] of a blob of `size` bytes that must
  // hash to `digest` (SHA-256). REQUIRES: size > 0, window_first <= window_last < size; `feeder`
  // and `budget` (which may be null: the ring is then kMaxRingBytes) outlive the stream; so do
  // the hash worker's loop and worker when given (hashing inline otherwise). Chunks still queued
  // on the worker when the stream is destroyed are skipped and keep the ring's memory until then.
  VerifiedStream(Feeder* feeder, oci::Digest digest, uint64_t size, uint64_t window_first,
                 uint64_t window_last, ReadAheadBudget* budget = nullptr, HashWorker hash = {});
  ~VerifiedStream();
  VerifiedStream(const VerifiedStream&) = delete;
  VerifiedStream& operator=(const VerifiedStream&) = delete;

  // The body to pass to ResponseWriter::RespondStream with length window_length(). Call once.
  std::unique_ptr<http::BodySource> OpenBody();

  // Where the feeder's next socket read should go: free space of the ring, at most
  // kMaxReadBytes. Empty when the ring is full. Valid until the next Append().
  std::span<char> WritableRegion() { return ring_->WritableRegion(kMaxReadBytes); }
  // Takes the next bytes of the blob (those at offset()). Window bytes that start at the last
  // WritableRegion() are taken in place; others are copied into the ring. A waiting client is
  // lent what it may have at once. Call Deliver() afterwards unless the result is a failure.
  AppendResult Append(std::string_view data);
  // Hands queued bytes to a waiting client (all but the held last byte until verified), then
  // calls Feeder::Pump(). Does nothing after Fail() or Stop().
  void Deliver();
  // The rest of the body cannot come: a waiting client is failed now, a later Proceed() at once
  // (the server aborts the connection). Idempotent.
  void Fail(std::string_view why);
  // The feeder is done with the stream: Deliver() does nothing from now on, so a Proceed() stays
  // unanswered until the stream is destroyed.
  void Stop() { stopped_ = true; }

  const oci::Digest& digest() const { return digest_; }
  uint64_t size() const { return size_; }
  uint64_t window_length() const { return window_last_ - window_first_ + 1; }
  // Bytes of the blob received so far: where a resume starts.
  uint64_t offset() const { return offset_; }
  bool complete() const { return offset_ == size_; }
  // Bytes of the blob hashed so far (offset() without a HashWorker).
  uint64_t hashed_bytes() const { return hashed_bytes_; }
  // The ring has room for a worthwhile read: a quarter of it.
  bool HasRoom() const { return ring_->free() >= ring_->capacity() / 4; }
  size_t ring_capacity() const { return ring_->capacity(); }
  // Window bytes that were copied into the ring rather than read into it in place.
  uint64_t copied_bytes() const { return copied_bytes_; }
  // What the whole blob hashed to; set once complete().
  const std::optional<oci::Digest>& hashed() const { return hashed_; }

 private:
  class Body;
  friend class Body;
  // The ring capacity for a window of `window_length` bytes, taken from `budget` if there is one.
  static size_t RingBytes(ReadAheadBudget* budget, uint64_t window_length);
  struct HashState;
  void Proceed(http::BodySink& sink);
  void BodyGone();
  // Lends a waiting sink every ring byte it may have now (not the held last byte before
  // verification). Does nothing when no sink waits or nothing may go.
  void LendToSink();
  // Hashes `data` (the chunk at blob offset offset_ - data.size()): inline, or queued on the
  // worker reading `in_ring` bytes in place when the whole chunk went into the ring there.
  // Returns the verdict when it is known now (inline hashing of the last chunk).
  std::optional<AppendResult> Hash(std::string_view data, bool in_ring);
  // `bytes` more bytes were hashed; `digest` is set with the last chunk. Loop thread.
  void OnHashed(uint64_t bytes, std::optional<oci::Digest> digest);
  // Gives back ring bytes that are both sent and hashed.
  void ReleaseRing();
  // Makes room for `capacity` bytes. With chunks on the worker that read the ring in place, the
  // bytes move to a new ring and the old one stays mapped until those chunks are done.
  bool GrowRing(size_t capacity);

  Feeder* const feeder_;
  const oci::Digest digest_;
  const uint64_t size_;
  const uint64_t window_first_;
  const uint64_t window_last_;

  uint64_t offset_ = 0;
  uint64_t hashed_bytes_ = 0;
  // Window bytes: taken into the ring, handed to the sink, gone to the kernel, and dropped from
  // the ring's front (the lesser of sent and hashed): consumed_ <= sent_ <= delivered_ <=
  // received_.
  uint64_t received_ = 0;
  uint64_t delivered_ = 0;
  uint64_t sent_ = 0;
  uint64_t consumed_ = 0;
  ReadAheadBudget* budget_;
  size_t budget_taken_;
  HashWorker hash_worker_;
  // Window bytes [consumed_, received_). Shared with chunks queued on the worker, which read it.
  std::shared_ptr<ByteRing> ring_;
  // Chunks queued on the worker; each lets go of the ring it reads before its OnHashed is posted,
  // so at 0 no other thread reads any ring.
  size_t chunks_in_flight_ = 0;
  uint64_t copied_bytes_ = 0;
  std::shared_ptr<HashState> hash_;
  std::optional<oci::Digest> hashed_;
  bool verified_ = false;
  bool failed_ = false;
  bool stopped_ = false;
  http::BodySink* sink_ = nullptr;  // Set while a Proceed() waits for an answer.
  Body* body_ = nullptr;            // The server's body source, while it lives.
};

}  // namespace spegel::registry
