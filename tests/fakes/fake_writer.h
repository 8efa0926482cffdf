// FakeWriter: an http::ResponseWriter that records the one response of an exchange, for unit
// tests and fuzzers of handlers. A file body is read into `body` (then the fd is closed); a
// streamed body is drained synchronously only when `drain_streams` is set and the source answers
// inline, otherwise the source is stopped.
//
// The exchange stays open after the Respond* call until the test ends it the way the server
// would: ClientGone() (its token dies, then the abort callback runs) or Sent() (its token dies,
// then the done callback runs). Destroying or moving from the writer ends it too, since handlers
// hold its old address.
#pragma once

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "http/handler.h"
#include "loop/liveness.h"

namespace spegel::testing {

// `length` bytes of `fd` from `offset`, fewer if the file ends first (what a BodySink's
// SendFile() would send, for fake sinks).
inline std::string ReadFileRange(int fd, uint64_t offset, uint64_t length) {
  std::string bytes(length, '\0');
  const ssize_t n = pread(fd, bytes.data(), length, static_cast<off_t>(offset));
  bytes.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return bytes;
}

class FakeWriter : public http::ResponseWriter {
 public:
  int calls = 0;
  int status = 0;
  http::Headers headers;
  std::string body;
  uint64_t content_length = 0;
  bool head_only = false;
  bool file = false;
  bool stream = false;
  std::unique_ptr<http::BodySource> source;

  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& h : headers) {
      if (http::EqualsIgnoreCase(h.name, name)) return h.value;
    }
    return std::nullopt;
  }

  void Respond(int s, http::Headers h, std::string b) override {
    ++calls;
    status = s;
    headers = std::move(h);
    content_length = b.size();
    body = std::move(b);
  }
  void RespondHead(int s, http::Headers h, uint64_t length) override {
    ++calls;
    status = s;
    headers = std::move(h);
    content_length = length;
    head_only = true;
  }
  void RespondFile(int s, http::Headers h, int fd, uint64_t offset, uint64_t length) override {
    ++calls;
    status = s;
    headers = std::move(h);
    content_length = length;
    file = true;
    body = ReadFileRange(fd, offset, length);
    ::close(fd);
  }
  void RespondStream(int s, http::Headers h, uint64_t length,
                     std::unique_ptr<http::BodySource> src) override {
    ++calls;
    status = s;
    headers = std::move(h);
    content_length = length;
    stream = true;
    source = std::move(src);
  }
  Liveness::Token LivenessToken() override { return exchange_.liveness->token(); }
  void SetAbortCallback(std::function<void()> callback) override { abort = std::move(callback); }
  void SetDoneCallback(std::function<void()> callback) override { done = std::move(callback); }

  // The client went away, as the server reports it.
  void ClientGone() {
    exchange_.liveness->Revoke();
    done = nullptr;
    if (auto a = std::move(abort)) a();
  }
  // The response was completely sent, as the server reports it.
  void Sent() {
    exchange_.liveness->Revoke();
    abort = nullptr;
    if (auto d = std::move(done)) d();
  }

  std::function<void()> abort;
  std::function<void()> done;

 private:
  // Movable, so tests can return a FakeWriter by value: the moved-to writer starts a fresh
  // exchange and the moved-from one's tokens die.
  struct Exchange {
    Exchange() { liveness.emplace(); }
    Exchange(Exchange&& other) noexcept : Exchange() { other.liveness->Revoke(); }
    Exchange& operator=(Exchange&& other) noexcept {
      other.liveness->Revoke();
      liveness.emplace();  // The old one is destroyed, which revokes its tokens.
      return *this;
    }
    ~Exchange() = default;
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;
    std::optional<Liveness> liveness;
  };
  Exchange exchange_;
};

}  // namespace spegel::testing
