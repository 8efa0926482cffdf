#include "http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/numbers.h"

namespace spegel::http {

// ---------------------------------------------------------------------------------------------
// Addresses.

uint16_t Address::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::string Address::ToString() const {
  const std::string port_text = std::to_string(port());
  if (dual_stack_wildcard) return ":" + port_text;
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf,
              sizeof(buf));
    return std::string(buf) + ":" + port_text;
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
            sizeof(buf));
  return "[" + std::string(buf) + "]:" + port_text;
}

namespace {

Address MakeV4(const in_addr& addr, uint16_t port) {
  Address a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  sin->sin_family = AF_INET;
  sin->sin_addr = addr;
  sin->sin_port = htons(port);
  a.length = sizeof(sockaddr_in);
  return a;
}

Address MakeV6(const in6_addr& addr, uint16_t port) {
  Address a;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_addr = addr;
  sin6->sin6_port = htons(port);
  a.length = sizeof(sockaddr_in6);
  return a;
}

}  // namespace

Result<Address> ParseListenAddress(std::string_view text) {
  const std::string quoted = "listen address \"" + std::string(text) + "\"";
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(quoted + ": missing ']' after IPv6 address");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Status::InvalidArgument(quoted + ": expected \":PORT\" after \"]\"");
    }
    port_text = rest.substr(1);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(quoted + ": missing \":PORT\" (e.g. \":5000\")");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(quoted +
                                     ": IPv6 addresses must be in brackets, e.g. \"[::1]:5000\"");
    }
  }
  uint64_t port = 0;
  if (port_text.size() > 5 || !ParseDecimal(port_text, &port) || port > 65535) {
    return Status::InvalidArgument(quoted + ": port must be a number from 0 to 65535");
  }
  const std::string host_str(host);
  if (bracketed) {
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host_str.c_str(), &addr6) != 1) {
      return Status::InvalidArgument(quoted + ": \"" + host_str + "\" is not an IPv6 address");
    }
    return MakeV6(addr6, static_cast<uint16_t>(port));
  }
  if (host.empty()) {
    Address a = MakeV6(in6addr_any, static_cast<uint16_t>(port));
    a.dual_stack_wildcard = true;
    return a;
  }
  in_addr addr4{};
  if (host == "localhost") {
    addr4.s_addr = htonl(INADDR_LOOPBACK);
    return MakeV4(addr4, static_cast<uint16_t>(port));
  }
  if (inet_pton(AF_INET, host_str.c_str(), &addr4) != 1) {
    return Status::InvalidArgument(quoted + ": host must be an IPv4 address, [IPv6] address, " +
                                   "\"localhost\" or empty; got \"" + host_str + "\"");
  }
  return MakeV4(addr4, static_cast<uint16_t>(port));
}

// ---------------------------------------------------------------------------------------------
// Connection.

namespace {

constexpr size_t kReadBufferSize = 16 * 1024;
// Pool chunk sizes: about 60 connections, or 15 read buffers, per chunk.
constexpr size_t kConnectionChunkBytes = 64 * 1024;
constexpr size_t kReadBufferChunkBytes = 256 * 1024;
// An output buffer larger than this (an in-memory body went through it) is given back when its
// exchange ends, so an idle keep-alive connection holds no more than a response head's worth.
constexpr size_t kKeptOutputCapacity = 4 * 1024;
constexpr int kMaxAcceptsPerTurn = 128;
constexpr uint64_t kAcceptBackoffMs = 100;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// The IP literal of an accepted peer; IPv4-mapped IPv6 (dual-stack listener) as plain IPv4.
// `buf` has INET6_ADDRSTRLEN bytes; it is always NUL-terminated.
void PeerAddressText(const sockaddr_storage& peer, char* buf) {
  buf[0] = '\0';
  if (peer.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &sin->sin_addr, buf, INET6_ADDRSTRLEN);
  } else if (peer.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, INET6_ADDRSTRLEN);
    } else {
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, INET6_ADDRSTRLEN);
    }
  }
}

}  // namespace

// One accepted socket: parser, the current exchange and its response. Owned by the Server (in
// its connection list while open), which places it in a block of its connection pool. The
// Connection owns its two uv handles (members, so they cost no allocation of their own) and is
// destroyed from the close callback of the second of them, so no callback can ever run on a
// destroyed Connection. Loop thread only.
class Connection final : public ResponseWriter, public BodySink {
 public:
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
  void RespondFile(int status, Headers headers, int fd, uint64_t offset,
                   uint64_t length) override;
  void RespondStream(int status, Headers headers, uint64_t length,
                     std::unique_ptr<BodySource> source) override;
  void SetAbortCallback(std::function<void()> callback) override;

  // BodySink.
  void Write(std::string_view data) override;
  void Fail(std::string_view reason) override;

 private:
  enum class Phase {
    kIdle,      // Between requests; no request bytes buffered.
    kReading,   // Request bytes received; parsing.
    kHandling,  // The handler has the request and has not responded yet.
    kWriting,   // A response (or an error response) is being written.
    kLingering, // Half-closed after the last response; draining unread client bytes.
    kFailed,    // Doomed by a BodySink call; aborted from the timer in the next loop turn.
  };
  enum class TimerKind { kNone, kIdle, kHeader, kWriteStall, kLinger, kAbort };

  friend class Server;  // The intrusive list links.

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnHandleClosed(uv_handle_t* handle);

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
  uv_poll_t poll_;
  uv_timer_t timer_;
  int open_handles_ = 0;  // Initialised handles whose close callback has not run.
  TimerKind timer_kind_ = TimerKind::kNone;
  int poll_mask_ = 0;
  bool closing_ = false;
  bool peer_eof_ = false;
  bool writing_inline_ = false;  // Dispatch() is writing an inline answer (no nesting).
  bool dispatching_ = false;     // Inside Handler::Handle(): Dispatch() updates the poll after.
  bool draining_ = false;  // Close after the current exchange.
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
  bool keep_alive_ = false;  // Of the response being written.

  // Output: bytes of out_ from out_off_ first, then the file body, then the streamed body.
  std::string out_;
  size_t out_off_ = 0;
  int file_fd_ = -1;
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  std::unique_ptr<BodySource> source_;
  uint64_t source_remaining_ = 0;
  bool source_pending_ = false;  // Proceed() called, answer not yet received.
};

Connection::Connection(Server* server, int fd, const sockaddr_storage& peer)
    : server_(server),
      fd_(fd),
      parser_(ParserLimits{server->options_.max_header_bytes, server->options_.max_url_bytes,
                           server->options_.max_request_body_bytes,
                           server->options_.keep_request_body}) {
  PeerAddressText(peer, peer_address_);
}

Connection::~Connection() {
  assert(open_handles_ == 0);
  ReleaseInputBuffer();
}

bool Connection::Start() {
  const int rc = uv_poll_init_socket(server_->loop_->uv(), &poll_, fd_);
  if (rc != 0) {
    LOG_WARN("http: cannot watch accepted socket").Str("error", uv_strerror(rc));
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  poll_.data = this;
  ++open_handles_;
  server_->HandleOpened();
  uv_timer_init(server_->loop_->uv(), &timer_);
  timer_.data = this;
  ++open_handles_;
  server_->HandleOpened();
  ArmTimer(TimerKind::kIdle, server_->options_.header_read_timeout_ms);
  UpdatePoll();
  return true;
}

void Connection::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Connection*>(handle->data);
  if (status < 0) {
    self->Abort("socket error");
    return;
  }
  if ((events & UV_WRITABLE) && !self->closing_) self->OnWritable();
  if ((events & UV_READABLE) && !self->closing_) self->OnReadable();
  if ((events & UV_DISCONNECT) && !self->closing_ && !(events & UV_READABLE)) {
    // The client shut down its side while we were not reading. Requests already received are
    // still answered; the connection closes after them.
    self->peer_eof_ = true;
    self->UpdatePoll();
  }
}

void Connection::OnReadable() {
  if (phase_ == Phase::kLingering) {
    char scratch[4096];
    for (;;) {
      const ssize_t n = ::read(fd_, scratch, sizeof(scratch));
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      Abort("linger done");  // EOF or error: the client has read what it wanted.
      return;
    }
  }
  if (phase_ != Phase::kIdle && phase_ != Phase::kReading) return;
  if (in_buf_ == nullptr) {
    in_buf_ = static_cast<char*>(server_->read_buffer_pool_.Allocate());
    if (in_buf_ == nullptr) {
      Abort("out of memory for a read buffer");
      return;
    }
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_end_ == kReadBufferSize) {
    // Cannot happen (input is parsed before more is read), but never spin on a full buffer.
    Abort("input buffer full");
    return;
  }
  ssize_t n;
  do {
    n = ::read(fd_, in_buf_ + in_end_, kReadBufferSize - in_end_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return;
    Abort("read error");
    return;
  }
  if (n == 0) {
    // EOF between requests or inside a partial one: nothing to answer.
    Abort("client closed");
    return;
  }
  in_end_ += static_cast<size_t>(n);
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kReading;
    ArmTimer(TimerKind::kHeader, server_->options_.header_read_timeout_ms);
  }
  ProcessInput();
}

void Connection::ProcessInput() {
  while (!closing_ && phase_ == Phase::kReading && in_begin_ < in_end_) {
    const RequestParser::FeedResult r =
        parser_.Feed(in_buf_ + in_begin_, in_end_ - in_begin_);
    in_begin_ += r.consumed;
    switch (r.event) {
      case RequestParser::Event::kNeedMore:
        break;
      case RequestParser::Event::kContinue:
        out_.append(kContinueResponse);
        continue;
      case RequestParser::Event::kRequest:
        Dispatch(parser_.TakeRequest());
        break;
      case RequestParser::Event::kError:
        SendErrorAndClose(parser_.error_status(), parser_.error_reason());
        return;
    }
    break;
  }
  if (closing_) return;
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  UpdatePoll();
}

void Connection::Dispatch(Request request) {
  StopTimer();
  phase_ = Phase::kHandling;
  request_ = std::make_unique<Request>(std::move(request));
  request_->set_peer_address(peer_address_);
  abort_callback_ = nullptr;
  dispatching_ = true;
  server_->handler_->Handle(*request_, *this);
  dispatching_ = false;
  if (closing_) return;
  // Most answers are given inline (local content): send them now instead of one loop turn
  // later, and without touching the poll mask in between (each change costs epoll_ctl calls), so
  // a request answered at once leaves the connection watching for reads as before. Only the
  // outermost dispatch does it, so a pipelined burst never recurses; the rest go out from the
  // poll callback. The handler has returned: this is not a callback from a ResponseWriter method.
  if (phase_ == Phase::kWriting && !writing_inline_) {
    writing_inline_ = true;
    OnWritable();
    writing_inline_ = false;
  } else {
    UpdatePoll();
  }
}

bool Connection::BeginResponse(int status, const Headers& headers, uint64_t content_length) {
  if (closing_ || phase_ != Phase::kHandling) {
    LOG_ERROR("http: response outside an exchange ignored").Int("status", status);
    return false;
  }
  keep_alive_ = request_->keep_alive() && !draining_ && !server_->shutting_down_;
  const bool http10 = request_->version_minor() == 0;
  out_.append(SerializeHead(status, headers, content_length, keep_alive_, http10));
  phase_ = Phase::kWriting;
  return true;
}

void Connection::Respond(int status, Headers headers, std::string body) {
  if (!BeginResponse(status, headers, body.size())) return;
  if (request_->method() != Method::kHead) out_.append(body);
  if (!dispatching_) UpdatePoll();
}

void Connection::RespondHead(int status, Headers headers, uint64_t content_length) {
  if (phase_ == Phase::kHandling && request_->method() != Method::kHead && content_length > 0) {
    draining_ = true;  // The promised body never comes: end the connection after the head.
  }
  if (!BeginResponse(status, headers, content_length)) return;
  if (!dispatching_) UpdatePoll();
}

void Connection::RespondFile(int status, Headers headers, int fd, uint64_t offset,
                             uint64_t length) {
  if (!BeginResponse(status, headers, length)) {
    if (fd >= 0) ::close(fd);
    return;
  }
  if (request_->method() == Method::kHead || length == 0) {
    if (fd >= 0) ::close(fd);
  } else {
    file_fd_ = fd;
    file_offset_ = offset;
    file_remaining_ = length;
  }
  if (!dispatching_) UpdatePoll();
}

void Connection::RespondStream(int status, Headers headers, uint64_t length,
                               std::unique_ptr<BodySource> source) {
  if (!BeginResponse(status, headers, length)) return;
  if (request_->method() != Method::kHead && length > 0 && source != nullptr) {
    source_ = std::move(source);
    source_remaining_ = length;
  } else if (request_->method() != Method::kHead && length > 0) {
    draining_ = true;  // No source for a promised body: the client sees a short body.
    keep_alive_ = false;
  }
  if (!dispatching_) UpdatePoll();
}

void Connection::SetAbortCallback(std::function<void()> callback) {
  abort_callback_ = std::move(callback);
}

void Connection::Write(std::string_view data) {
  if (closing_ || !source_ || !source_pending_) {
    LOG_ERROR("http: body write without a pending Proceed ignored");
    return;
  }
  source_pending_ = false;
  if (data.empty() || data.size() > source_remaining_) {
    LOG_WARN("http: body source wrote an invalid amount").Int("bytes", data.size());
    source_.reset();  // Answered, so it gets no Stop().
    DeferAbort();
    return;
  }
  source_remaining_ -= data.size();
  out_.append(data);
  UpdatePoll();
}

void Connection::Fail(std::string_view reason) {
  if (closing_ || !source_ || !source_pending_) return;
  source_pending_ = false;
  LOG_WARN("http: body source failed").Str("reason", reason);
  source_.reset();  // No Stop() after Fail().
  DeferAbort();
}

void Connection::DeferAbort() {
  phase_ = Phase::kFailed;
  UpdatePoll();
  ArmTimer(TimerKind::kAbort, 0);
}

bool Connection::WantsWrite() const {
  if (out_off_ < out_.size()) return true;
  if (phase_ != Phase::kWriting) return false;
  if (file_remaining_ > 0) return true;
  if (source_ && source_remaining_ > 0) return !source_pending_;
  return true;  // Everything sent: the writable callback completes the response.
}

void Connection::OnWritable() {
  uint64_t budget = server_->options_.max_bytes_per_turn;
  bool progress = false;
  bool blocked = false;
  while (!closing_ && !blocked && budget > 0) {
    if (out_off_ < out_.size()) {
      const ssize_t n =
          ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          blocked = true;
          break;
        }
        Abort("write error");
        return;
      }
      out_off_ += static_cast<size_t>(n);
      budget -= std::min<uint64_t>(budget, static_cast<uint64_t>(n));
      progress = true;
      if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
      }
      continue;
    }
    if (phase_ != Phase::kWriting) break;  // Only an interim 100 Continue was pending.
    if (file_remaining_ > 0) {
      off_t offset = static_cast<off_t>(file_offset_);
      const size_t chunk = static_cast<size_t>(std::min(file_remaining_, budget));
      const ssize_t n = ::sendfile(fd_, file_fd_, &offset, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          blocked = true;
          break;
        }
        LOG_WARN("http: sendfile failed").Str("error", strerror(errno));
        Abort("sendfile error");
        return;
      }
      if (n == 0) {
        LOG_WARN("http: file shorter than its response length")
            .Int("missing_bytes", static_cast<int64_t>(file_remaining_));
        Abort("file truncated");
        return;
      }
      file_offset_ += static_cast<uint64_t>(n);
      file_remaining_ -= static_cast<uint64_t>(n);
      budget -= std::min<uint64_t>(budget, static_cast<uint64_t>(n));
      progress = true;
      if (file_remaining_ == 0) CloseFile();
      continue;
    }
    if (source_ && source_remaining_ > 0) {
      if (source_pending_) break;
      source_pending_ = true;
      source_->Proceed(*this);  // May answer inline: Write() appends to out_.
      if (phase_ == Phase::kFailed) return;
      if (source_pending_) break;
      continue;
    }
    FinishResponse();
    return;
  }
  if (closing_) return;
  // The stall timer measures time since the last progress.
  if (progress && timer_kind_ == TimerKind::kWriteStall) StopTimer();
  UpdatePoll();
}

void Connection::FinishResponse() {
  StopTimer();
  CloseFile();
  source_.reset();
  request_.reset();
  abort_callback_ = nullptr;
  ReleaseOutputBuffer();
  const bool keep = keep_alive_ && !draining_ && !server_->shutting_down_;
  if (!keep) {
    StartLinger();
    return;
  }
  if (in_begin_ < in_end_) {
    // A pipelined request is already buffered (even if the client has half-closed since).
    phase_ = Phase::kReading;
    ArmTimer(TimerKind::kHeader, server_->options_.header_read_timeout_ms);
    ProcessInput();
    return;
  }
  if (peer_eof_) {
    Abort("client closed");
    return;
  }
  phase_ = Phase::kIdle;
  ReleaseInputBuffer();
  ArmTimer(TimerKind::kIdle, server_->options_.keepalive_idle_timeout_ms);
  UpdatePoll();
}

void Connection::SendErrorAndClose(int status, std::string_view reason) {
  LOG_DEBUG("http: request rejected").Int("status", status).Str("reason", reason);
  request_.reset();
  phase_ = Phase::kWriting;
  keep_alive_ = false;
  out_.append(ErrorResponse(status, reason));
  UpdatePoll();
}

void Connection::StartLinger() {
  phase_ = Phase::kLingering;
  ::shutdown(fd_, SHUT_WR);
  ReleaseInputBuffer();
  if (peer_eof_) {
    Abort("closed");
    return;
  }
  ArmTimer(TimerKind::kLinger, server_->options_.linger_timeout_ms);
  UpdatePoll();
}

void Connection::OnServerDraining() {
  draining_ = true;
  if (phase_ == Phase::kIdle) Abort("server shutdown");
}

void Connection::OnTimer(uv_timer_t* handle) {
  static_cast<Connection*>(handle->data)->OnTimeout();
}

void Connection::OnTimeout() {
  const TimerKind kind = timer_kind_;
  timer_kind_ = TimerKind::kNone;
  switch (kind) {
    case TimerKind::kNone:
      return;
    case TimerKind::kIdle:
      Abort("idle timeout");
      return;
    case TimerKind::kHeader:
      if (phase_ == Phase::kReading) {
        SendErrorAndClose(408, "request header timeout");
      }
      return;
    case TimerKind::kWriteStall:
      LOG_DEBUG("http: client stopped reading; closing");
      Abort("write stall timeout");
      return;
    case TimerKind::kLinger:
      Abort("linger timeout");
      return;
    case TimerKind::kAbort:
      Abort("body source failed");
      return;
  }
}

void Connection::ArmTimer(TimerKind kind, uint64_t ms) {
  timer_kind_ = kind;
  uv_timer_start(&timer_, &Connection::OnTimer, ms, 0);
}

void Connection::StopTimer() {
  timer_kind_ = TimerKind::kNone;
  uv_timer_stop(&timer_);
}

void Connection::UpdatePoll() {
  if (closing_) return;
  int mask = 0;
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kReading:
      mask = UV_READABLE;
      if (out_off_ < out_.size()) mask |= UV_WRITABLE;
      break;
    case Phase::kHandling:
      if (!peer_eof_) mask = UV_DISCONNECT;
      if (out_off_ < out_.size()) mask |= UV_WRITABLE;  // A 100 Continue still going out.
      break;
    case Phase::kWriting:
      if (WantsWrite()) mask |= UV_WRITABLE;
      if (!peer_eof_) mask |= UV_DISCONNECT;
      break;
    case Phase::kLingering:
      mask = UV_READABLE;
      break;
    case Phase::kFailed:
      break;
  }
  // Waiting for the socket to take response bytes arms the write-stall timer; waiting for the
  // handler or a BodySource does not (those are not the client's fault).
  if (phase_ == Phase::kWriting && (mask & UV_WRITABLE)) {
    if (timer_kind_ != TimerKind::kWriteStall) {
      ArmTimer(TimerKind::kWriteStall, server_->options_.write_stall_timeout_ms);
    }
  } else if (timer_kind_ == TimerKind::kWriteStall) {
    StopTimer();
  }
  if (mask == poll_mask_) return;
  poll_mask_ = mask;
  if (mask == 0) {
    uv_poll_stop(&poll_);
  } else {
    uv_poll_start(&poll_, mask, &Connection::OnPoll);
  }
}

void Connection::ReleaseInputBuffer() {
  server_->read_buffer_pool_.Free(in_buf_);
  in_buf_ = nullptr;
  in_begin_ = in_end_ = 0;
}

void Connection::ReleaseOutputBuffer() {
  if (out_off_ < out_.size()) return;  // Still sending (e.g. a 100 Continue before the next).
  if (out_.capacity() > kKeptOutputCapacity) {
    std::string().swap(out_);
  } else {
    out_.clear();
  }
  out_off_ = 0;
}

void Connection::CloseFile() {
  if (file_fd_ >= 0) ::close(file_fd_);
  file_fd_ = -1;
  file_remaining_ = 0;
}

void Connection::Abort(std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  LOG_DEBUG("http: connection closed").Str("reason", reason);
  // Handles first: after uv_close neither callback can run, and the fd leaves epoll before it
  // is closed.
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Connection::OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &Connection::OnHandleClosed);
  ::close(fd_);
  fd_ = -1;
  CloseFile();
  std::unique_ptr<BodySource> source = std::move(source_);
  if (source) source->Stop();
  source.reset();
  std::function<void()> abort_callback = std::move(abort_callback_);
  abort_callback_ = nullptr;
  const bool had_exchange = request_ != nullptr;
  request_.reset();
  ReleaseInputBuffer();
  std::string().swap(out_);
  out_off_ = 0;
  server_->ConnectionClosed(this);
  if (had_exchange && abort_callback) abort_callback();
}

void Connection::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  Server* server = self->server_;
  // The last close destroys the connection before the server hears of it: HandleClosed() may
  // complete a shutdown, whose callback may destroy the server.
  if (--self->open_handles_ == 0) server->FreeConnection(self);
  server->HandleClosed();
}

// ---------------------------------------------------------------------------------------------
// Server.

Server::Server(Loop* loop, Handler* handler, ServerOptions options)
    : loop_(loop),
      handler_(handler),
      options_(options),
      connection_pool_(sizeof(Connection), kConnectionChunkBytes),
      read_buffer_pool_(kReadBufferSize, kReadBufferChunkBytes) {}

Server::~Server() {
  assert(open_handles_ == 0 && connections_ == nullptr);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) ::close(fd_);
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

Result<ListenSocket> ListenSocket::Bind(const Address& address, int backlog) {
  int family = address.storage.ss_family;
  Address bind_address = address;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && address.dual_stack_wildcard && errno == EAFNOSUPPORT) {
    in_addr any{};
    any.s_addr = htonl(INADDR_ANY);
    auto* sin = reinterpret_cast<sockaddr_in*>(&bind_address.storage);
    bind_address.storage = {};
    sin->sin_family = AF_INET;
    sin->sin_addr = any;
    sin->sin_port = htons(address.port());
    bind_address.length = sizeof(sockaddr_in);
    family = AF_INET;
    fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) {
    return Status::Unavailable("http server: socket: " + std::string(strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) {
    const int v6only = address.dual_stack_wildcard ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&bind_address.storage),
             bind_address.length) != 0) {
    const std::string err = strerror(errno);
    ::close(fd);
    return Status::Unavailable("http server: cannot bind " + address.ToString() + ": " + err);
  }
  if (::listen(fd, backlog) != 0) {
    const std::string err = strerror(errno);
    ::close(fd);
    return Status::Unavailable("http server: cannot listen on " + address.ToString() + ": " +
                               err);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  ListenSocket socket;
  socket.fd_ = fd;
  socket.port_ = bound.ss_family == AF_INET
                     ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                     : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return socket;
}

Result<uint16_t> Server::Listen(const Address& address) {
  if (listen_fd_ >= 0 || shutting_down_) {
    return Status::FailedPrecondition("http server: Listen called twice");
  }
  auto socket = ListenSocket::Bind(address, options_.backlog);
  if (!socket.ok()) return socket.status();
  return Listen(std::move(*socket));
}

Result<uint16_t> Server::Listen(ListenSocket socket) {
  if (listen_fd_ >= 0 || shutting_down_) {
    return Status::FailedPrecondition("http server: Listen called twice");
  }
  if (!socket.valid()) return Status::InvalidArgument("http server: no listening socket");
  listen_poll_ = new uv_poll_t;
  const int rc = uv_poll_init_socket(loop_->uv(), listen_poll_, socket.fd());
  if (rc != 0) {
    delete listen_poll_;
    listen_poll_ = nullptr;
    return Status::Internal("http server: uv_poll_init_socket: " + std::string(uv_strerror(rc)));
  }
  port_ = socket.port();
  listen_fd_ = socket.Release();
  listen_poll_->data = this;
  HandleOpened();
  StartListenPoll();
  return port_;
}

void Server::StartListenPoll() { uv_poll_start(listen_poll_, UV_READABLE, &Server::OnListenPoll); }

void Server::OnListenPoll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Server*>(handle->data);
  if (status < 0) {
    LOG_WARN("http: listening socket error").Str("error", uv_strerror(status));
    return;
  }
  self->AcceptMany();
}

uv_timer_t* Server::NewServerTimer() {
  auto* timer = new uv_timer_t;
  uv_timer_init(loop_->uv(), timer);
  timer->data = this;
  HandleOpened();
  return timer;
}

void Server::AcceptMany() {
  for (int i = 0; i < kMaxAcceptsPerTurn && !shutting_down_; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      // Out of descriptors or memory: the pending connection stays in the backlog and the level-
      // triggered poll would spin, so pause accepting for a moment.
      LOG_WARN("http: accept failed; pausing").Str("error", strerror(errno));
      uv_poll_stop(listen_poll_);
      if (accept_backoff_ == nullptr) {
        accept_backoff_ = NewServerTimer();
      }
      uv_timer_start(
          accept_backoff_,
          [](uv_timer_t* t) {
            auto* s = static_cast<Server*>(t->data);
            if (!s->shutting_down_) s->StartListenPoll();
          },
          kAcceptBackoffMs, 0);
      return;
    }
    if (connection_count_ >= options_.max_connections) {
      ::close(fd);
      continue;
    }
    void* block = connection_pool_.Allocate();
    if (block == nullptr) {
      LOG_WARN("http: out of memory for a connection; closing it");
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto* connection = new (block) Connection(this, fd, peer);
    if (!connection->Start()) {
      FreeConnection(connection);
      continue;
    }
    ConnectionOpened(connection);
  }
}

void Server::ConnectionOpened(Connection* connection) {
  connection->prev_ = nullptr;
  connection->next_ = connections_;
  if (connections_ != nullptr) connections_->prev_ = connection;
  connections_ = connection;
  ++connection_count_;
}

void Server::ConnectionClosed(Connection* connection) {
  if (connection->prev_ != nullptr) connection->prev_->next_ = connection->next_;
  if (connection->next_ != nullptr) connection->next_->prev_ = connection->prev_;
  if (connections_ == connection) connections_ = connection->next_;
  connection->prev_ = connection->next_ = nullptr;
  --connection_count_;
}

void Server::FreeConnection(Connection* connection) {
  connection->~Connection();
  connection_pool_.Free(connection);
}

std::vector<Connection*> Server::OpenConnections() const {
  std::vector<Connection*> open;
  open.reserve(connection_count_);
  for (Connection* c = connections_; c != nullptr; c = c->next_) open.push_back(c);
  return open;
}

void Server::OnTimerClosed(uv_handle_t* handle) {
  auto* self = static_cast<Server*>(handle->data);
  delete reinterpret_cast<uv_timer_t*>(handle);
  self->HandleClosed();
}

void Server::CloseServerTimer(uv_timer_t*& timer) {
  if (timer == nullptr) return;
  uv_timer_stop(timer);
  uv_close(reinterpret_cast<uv_handle_t*>(timer), &Server::OnTimerClosed);
  timer = nullptr;
}

void Server::HandleClosed() {
  assert(open_handles_ > 0);
  --open_handles_;
  MaybeDone();
}

void Server::MaybeDone() {
  if (!shutting_down_ || done_called_) return;
  if (connections_ != nullptr) return;
  // The deadline timer is useless once every connection is gone.
  CloseServerTimer(deadline_);
  if (open_handles_ != 0) return;
  done_called_ = true;
  auto done = std::move(done_);
  if (done) done();
}

void Server::Shutdown(uint64_t deadline_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  done_ = std::move(done);
  CloseServerTimer(accept_backoff_);
  if (listen_poll_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listen_poll_), [](uv_handle_t* h) {
      auto* self = static_cast<Server*>(h->data);
      delete reinterpret_cast<uv_poll_t*>(h);
      self->HandleClosed();
    });
    listen_poll_ = nullptr;
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  // Copy: draining may close (and unregister) connections.
  for (Connection* c : OpenConnections()) c->OnServerDraining();
  // The deadline timer exists even with no connection left: closing it guarantees that `done`
  // runs from a close callback, never inline.
  deadline_ = NewServerTimer();
  uv_timer_start(
      deadline_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        for (Connection* c : self->OpenConnections()) c->Abort("shutdown deadline");
      },
      deadline_ms, 0);
  MaybeDone();
}

}  // namespace spegel::http
