// Connection: one accepted socket of an http::Server (internal to the http layer; see server.h
// for the life of a request, the timeouts and the limits it enforces).
//
// A Connection holds the request parser, the current exchange and its response. It is owned by
// its Server, which places it in a block of its connection pool and keeps it in its list while it
// is open. The Connection owns its two uv handles (a poll on the socket and one timer), embedded,
// so they cost no allocation of their own; it is destroyed from the close callback of the second
// of them, so no libuv callback ever runs on a destroyed Connection, and both handles count in the
// server's HandleGroup until then.
//
// Threading: loop thread only; every callback (poll, timer, handler, body source) runs there.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/handler.h"
#include "http/request_parser.h"
#include "http/server.h"
#include "loop/handle.h"
#include "loop/liveness.h"

namespace spegel::http {

class Connection final : public ResponseWriter, public BodySink, public BodyGate {
 public:
  // Bytes of one read buffer (a block of the server's read buffer pool).
  static constexpr size_t kReadBufferSize = 16 * 1024;

  Connection(Server* server, int fd, const sockaddr_storage& peer);
  ~Connection();
  // Registers the poll and timer handles. False (and the fd closed) if libuv refused the fd.
  bool Start();

  // Server::Shutdown began: close now if idle, else close after the current exchange.
  void OnServerDraining();
  // Closes at once, aborting any exchange. Idempotent.
  void Abort(std::string_view reason);

  // ResponseWriter.
  void Respond(int status, Headers headers, std::string body) override;
  void RespondHead(int status, Headers headers, uint64_t content_length) override;
  void RespondFile(int status, Headers headers, int fd, uint64_t offset, uint64_t length) override;
  void RespondStream(int status, Headers headers, uint64_t length,
                     std::unique_ptr<BodySource> source) override;
  Liveness::Token LivenessToken() override;
  void SetAbortCallback(std::function<void()> callback) override;
  void SetDoneCallback(std::function<void()> callback) override;

  // BodySink.
  void Write(std::string_view data) override;
  void Lend(std::string_view data) override;
  void SendFile(int fd, uint64_t offset, uint64_t length) override;
  void Fail(std::string_view reason) override;

  // BodyGate: the handler's AcceptHead, with the addresses set as for Handle.
  HeadVerdict AdmitHead(Request& head) override;

 private:
  enum class Phase {
    kIdle,       // Between requests; no request bytes buffered.
    kReading,    // Request bytes received; parsing.
    kHandling,   // The handler has the request and has not responded yet.
    kWriting,    // A response (or an error response) is being written.
    kLingering,  // Half-closed after the last response; draining unread client bytes.
    kFailed,     // Doomed by a BodySink call; aborted from the timer in the next loop turn.
  };
  enum class TimerKind { kNone, kIdle, kHeader, kWriteStall, kLinger, kAbort };

  friend class Server;  // The intrusive list links.

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  // The close callback of both handles: the second one frees the connection.
  static void OnHandleClosed(void* connection);

  void OnReadable();
  void OnWritable();
  void OnTimeout();
  void ProcessInput();
  void Dispatch(Request request);
  // REQUIRES: phase_ == kHandling. Returns false (and logs) if the handler already responded.
  bool BeginResponse(int status, const Headers& headers, uint64_t content_length);
  void FinishResponse();
  void SendErrorAndClose(int status, std::string_view reason);
  void StartLinger();
  void ArmTimer(TimerKind kind, uint64_t ms);
  void StopTimer();
  void UpdatePoll();
  bool WantsWrite() const;
  void CloseFile();
  void ReleaseInputBuffer();
  void ReleaseOutputBuffer();
  // Aborts in the next loop turn, so that no callback runs inline from a BodySink method.
  void DeferAbort();

  Server* server_;
  Connection* prev_ = nullptr;  // Server's list of open connections.
  Connection* next_ = nullptr;
  int fd_;
  char peer_address_[INET6_ADDRSTRLEN];
  char local_address_[INET6_ADDRSTRLEN];
  // Both in the server's HandleGroup; embedded, so a connection costs no allocation but its pool
  // block.
  UvHandle<uv_poll_t> poll_;
  UvHandle<uv_timer_t> timer_;
  TimerKind timer_kind_ = TimerKind::kNone;
  int poll_mask_ = 0;
  bool closing_ = false;
  bool peer_eof_ = false;
  bool writing_inline_ = false;  // Dispatch() is writing an inline answer (no nesting).
  bool dispatching_ = false;     // Inside Handler::Handle(): Dispatch() updates the poll after.
  bool draining_ = false;        // Close after the current exchange.
  Phase phase_ = Phase::kIdle;
  RequestParser parser_;

  // Unparsed client bytes are in_buf_[in_begin_, in_end_): a block of the server's read buffer
  // pool (kReadBufferSize bytes), taken while reading and given back when the connection goes
  // idle with nothing buffered.
  char* in_buf_ = nullptr;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;

  // The current exchange (phases kHandling and kWriting).
  std::unique_ptr<Request> request_;
  std::function<void()> abort_callback_;
  std::function<void()> done_callback_;
  // The exchange's tokens (LivenessToken()): made on the first ask, so an exchange answered
  // without one costs no allocation; reset (revoking them) when the exchange ends.
  std::optional<Liveness> exchange_liveness_;
  bool keep_alive_ = false;  // Of the response being written.

  // Output: bytes of out_ from out_off_ first, then the file body, then the streamed body (copied
  // into out_ by Write(), or lent_ by Lend(): the source's bytes not yet sent).
  std::string out_;
  size_t out_off_ = 0;
  std::string_view lent_;
  int file_fd_ = -1;
  bool file_owned_ = false;  // RespondFile's (closed when done), not a source's SendFile().
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  std::unique_ptr<BodySource> source_;
  uint64_t source_remaining_ = 0;
  bool source_pending_ = false;  // Proceed() called, answer not yet received.

  // Takes a body answer to Proceed(): false (and the response is being aborted) when it is not
  // one the source may give now.
  bool AcceptBodyAnswer(uint64_t bytes);
};

}  // namespace spegel::http
