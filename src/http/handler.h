// The handler side of the HTTP server: Handler, ResponseWriter, BodySource and BodySink.
//
// Everything here runs on the server's loop thread. The server never calls a handler, writer
// callback or body source inline from a ResponseWriter or BodySink method, so handlers need not
// guard against re-entrance. See server.h for the life of a request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/request.h"
#include "http/response.h"
#include "loop/liveness.h"

namespace spegel::http {

// Receives the bytes of a streamed body. Implemented by the server. An answer that aborts the
// response (a wrong amount, Fail()) may destroy the source before the call returns: a source
// touches none of its members after answering.
class BodySink {
 public:
  // Delivers the next bytes of the body (copied), answering one BodySource::Proceed(). `data`
  // must be non-empty and no longer than what remains of the declared length; otherwise the
  // response is aborted, like Fail().
  virtual void Write(std::string_view data) = 0;
  // Like Write(), without the copy: the server sends straight from `data`, which must stay valid
  // and unchanged until the source's next Proceed(), Stop() or destruction, whichever comes first
  // (a Proceed() after Lend() means every lent byte has been handed to the kernel).
  virtual void Lend(std::string_view data) = 0;
  // Like Lend(), from a file: `length` bytes of `fd` from `offset`, sent with sendfile(2). The fd
  // stays the source's and must stay open until the source's next Proceed(), Stop() or
  // destruction. If the file holds fewer bytes than that, the response is aborted, like Fail().
  virtual void SendFile(int fd, uint64_t offset, uint64_t length) = 0;
  // The source cannot produce the rest. The connection is closed, so the client sees a body
  // shorter than its Content-Length and never mistakes it for a complete one.
  virtual void Fail(std::string_view reason) = 0;

 protected:
  ~BodySink() = default;
};

// Pull-based body (for bodies from gRPC or peers). The server asks for more only when the socket
// has taken everything produced so far, so memory stays bounded by one answer per connection.
// Owned by the server once handed to RespondStream(); destroyed when the response ends.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Called on the loop thread when more bytes are wanted. The source answers exactly once, inline
  // or later on the loop thread, with sink.Write() or sink.Fail(). Proceed() is not called again
  // before that answer. `sink` is valid until the answer or until Stop().
  virtual void Proceed(BodySink& sink) = 0;
  // The response ended before the whole body was sent (client gone, timeout, shutdown). Called at
  // most once, on the loop thread, never after the body completed and never after Fail(); after
  // it there are no more calls and the sink must not be used. The source is destroyed after it.
  virtual void Stop() = 0;
};

// Sends the response of one exchange. Implemented by the server; valid from Handler::Handle()
// until the exchange ends: its response has been completely sent, or the client went away.
// LivenessToken() tells a later callback which side of that it is on. Exactly one Respond* call
// per exchange, on the loop thread, inline in Handle() or later.
//
// Content-Length is always set by the server from the body; Content-Length, Transfer-Encoding
// and Connection in `headers` are ignored. For a HEAD request the head is sent with that
// Content-Length and no body (a file is closed, a source destroyed without any call).
class ResponseWriter {
 public:
  // An in-memory body.
  virtual void Respond(int status, Headers headers, std::string body) = 0;
  // Only a head, announcing `content_length`. Meant for HEAD requests (or content_length 0): on
  // another request with content_length > 0 the connection closes after the head, because the
  // promised body will never come.
  virtual void RespondHead(int status, Headers headers, uint64_t content_length) = 0;
  // `length` bytes of `fd` from `offset`, sent with sendfile(2). Takes ownership of `fd` (closed
  // when the response ends, also on error). If the file ends before `length` bytes, the connection
  // is aborted: the body is never padded.
  virtual void RespondFile(int status, Headers headers, int fd, uint64_t offset,
                           uint64_t length) = 0;
  // `length` bytes pulled from `source`.
  virtual void RespondStream(int status, Headers headers, uint64_t length,
                             std::unique_ptr<BodySource> source) = 0;
  // "The client went away" as one value: a token that is alive while this exchange is open and
  // dead from the moment it ends, never alive again. The exchange ends when the client goes away
  // (reset, socket error, write stall, server shutdown deadline: the token dies just before the
  // abort callback runs), when its response has been completely sent (just before the done
  // callback runs), or when the writer is destroyed. The token dies on the loop thread; the
  // server's never dies inside a call on this writer, but other writers may end the exchange
  // within a Respond* call. Asked outside an exchange, this returns a dead token.
  //
  // A callback that may run after the exchange ended captures the token next to `&writer` (and
  // the Request) and does nothing unless token.alive(): then neither may be touched. An alive
  // token does not permit a second Respond* call, and code that made its Respond* call uses the
  // writer no more, whatever the token says (a forwarding writer may be gone by then).
  virtual Liveness::Token LivenessToken() = 0;
  // Replaces the abort callback. It runs at most once, on the loop thread, if the exchange ends
  // before its response was completely sent (client reset, timeout, server shutdown deadline).
  // When it runs the Request and this writer are already unusable; nothing else is called after.
  // It is for work that must react to the client leaving (cancel what was started for it, count
  // it); to find out whether the writer may still be used, ask LivenessToken() instead.
  virtual void SetAbortCallback(std::function<void()> callback) = 0;
  // Replaces the done callback. It runs at most once, on the loop thread, when the response has
  // been completely handed to the kernel (never inline in a Respond* call, never after the abort
  // callback: exactly one of the two runs for an exchange that set both). When it runs the
  // Request and this writer are already unusable.
  virtual void SetDoneCallback(std::function<void()> callback) = 0;

 protected:
  ~ResponseWriter() = default;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the loop thread once per request, in the order requests arrived on a connection,
  // when the request head and its (small, discarded) body are complete. `request` and `writer`
  // stay valid as described for ResponseWriter. The next request on the connection is not parsed
  // until this one's response is complete.
  virtual void Handle(Request& request, ResponseWriter& writer) = 0;

  // Called on the loop thread, on a server that keeps request bodies (keep_request_body), when
  // the head of a request that announces a body is complete, before any byte of that body is
  // read. `head` is the request without its body (addresses set); it is valid during the call
  // only. A refusal is answered at once with its status and reason (`Connection: close`; the
  // body is drained unread) and Handle() never sees the request. It is for the checks a head
  // alone decides (route, method, credentials' form and age), so that memory is never spent on
  // a body that would be refused anyway. The default accepts every head.
  virtual HeadVerdict AcceptHead(const Request& head) {
    (void)head;
    return {};
  }
};

}  // namespace spegel::http
