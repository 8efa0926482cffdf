#include "http/connection.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "http/address.h"

namespace spegel::http {
namespace {

// An output buffer larger than this (an in-memory body went through it) is given back when its
// exchange ends, so an idle keep-alive connection holds no more than a response head's worth.
constexpr size_t kKeptOutputCapacity = 4 * 1024;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

Connection::Connection(Server* server, int fd, const sockaddr_storage& peer)
    : server_(server),
      fd_(fd),
      parser_(ParserLimits{server->options_.max_header_bytes, server->options_.max_url_bytes,
                           server->options_.max_request_body_bytes,
                           server->options_.keep_request_body},
              this, &server->body_budget_) {
  FormatPeerAddress(peer, peer_address_);
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
    FormatPeerAddress(local, local_address_);
  } else {
    local_address_[0] = '\0';
  }
}

Connection::~Connection() { ReleaseInputBuffer(); }

bool Connection::Start() {
  Loop* loop = server_->loop_;
  HandleGroup* group = &server_->handles_;
  if (const int rc = poll_.Init(loop, this, group, uv_poll_init_socket, fd_); rc != 0) {
    LOG_WARN("http: cannot watch accepted socket").Str("error", uv_strerror(rc));
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  timer_.Init(loop, this, group, uv_timer_init);  // Cannot fail.
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
    const RequestParser::FeedResult r = parser_.Feed(in_buf_ + in_begin_, in_end_ - in_begin_);
    in_begin_ += r.consumed;
    switch (r.event) {
      case RequestParser::Event::kNeedMore: break;
      case RequestParser::Event::kContinue: out_.append(kContinueResponse); continue;
      case RequestParser::Event::kRequest: Dispatch(parser_.TakeRequest()); break;
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
  request_->set_local_address(local_address_);
  abort_callback_ = nullptr;
  done_callback_ = nullptr;
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
    file_owned_ = true;
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

Liveness::Token Connection::LivenessToken() {
  if (closing_ || request_ == nullptr) return Liveness::DeadToken();  // No exchange open.
  if (!exchange_liveness_) exchange_liveness_.emplace();
  return exchange_liveness_->token();
}

void Connection::SetAbortCallback(std::function<void()> callback) {
  abort_callback_ = std::move(callback);
}

void Connection::SetDoneCallback(std::function<void()> callback) {
  done_callback_ = std::move(callback);
}

bool Connection::AcceptBodyAnswer(uint64_t bytes) {
  if (closing_ || !source_ || !source_pending_) {
    LOG_ERROR("http: body write without a pending Proceed ignored");
    return false;
  }
  source_pending_ = false;
  if (bytes == 0 || bytes > source_remaining_) {
    LOG_WARN("http: body source wrote an invalid amount").Int("bytes", static_cast<int64_t>(bytes));
    source_.reset();  // Answered, so it gets no Stop().
    DeferAbort();
    return false;
  }
  source_remaining_ -= bytes;
  return true;
}

void Connection::Write(std::string_view data) {
  if (!AcceptBodyAnswer(data.size())) return;
  out_.append(data);
  UpdatePoll();
}

void Connection::Lend(std::string_view data) {
  if (!AcceptBodyAnswer(data.size())) return;
  lent_ = data;
  UpdatePoll();
}

void Connection::SendFile(int fd, uint64_t offset, uint64_t length) {
  if (!AcceptBodyAnswer(length)) return;
  // The file branch of OnWritable sends it before the source is asked again.
  file_fd_ = fd;
  file_owned_ = false;
  file_offset_ = offset;
  file_remaining_ = length;
  UpdatePoll();
}

void Connection::Fail(std::string_view reason) {
  if (closing_ || !source_ || !source_pending_) return;
  source_pending_ = false;
  LOG_WARN("http: body source failed").Str("reason", reason);
  source_.reset();  // No Stop() after Fail().
  DeferAbort();
}

HeadVerdict Connection::AdmitHead(Request& head) {
  head.set_peer_address(peer_address_);
  head.set_local_address(local_address_);
  return server_->handler_->AcceptHead(head);
}

void Connection::DeferAbort() {
  phase_ = Phase::kFailed;
  UpdatePoll();
  ArmTimer(TimerKind::kAbort, 0);
}

bool Connection::WantsWrite() const {
  if (out_off_ < out_.size() || !lent_.empty()) return true;
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
    if (out_off_ < out_.size() || !lent_.empty()) {
      // What is in out_ (a head, copied body bytes) goes before lent bytes; one sendmsg takes
      // both, so a response head and its first body bytes leave in one call.
      iovec iov[2];
      size_t count = 0;
      if (out_off_ < out_.size()) iov[count++] = {out_.data() + out_off_, out_.size() - out_off_};
      if (!lent_.empty()) iov[count++] = {const_cast<char*>(lent_.data()), lent_.size()};
      msghdr message{};
      message.msg_iov = iov;
      message.msg_iovlen = count;
      const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          blocked = true;
          break;
        }
        Abort("write error");
        return;
      }
      auto sent = static_cast<size_t>(n);
      const size_t from_out = std::min(sent, out_.size() - out_off_);
      out_off_ += from_out;
      if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
      }
      lent_.remove_prefix(sent - from_out);
      budget -= std::min<uint64_t>(budget, sent);
      progress = true;
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
  lent_ = {};
  source_.reset();
  request_.reset();
  abort_callback_ = nullptr;
  exchange_liveness_.reset();  // Before the done callback, which may look at a token.
  // Runs before the next exchange can start (below): its Dispatch would clear it.
  if (std::function<void()> done = std::move(done_callback_)) {
    done_callback_ = nullptr;
    done();
  }
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
  parser_.DropPartialRequest();  // A 408 inside a body: the body's room goes back now.
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
    case TimerKind::kNone: return;
    case TimerKind::kIdle: Abort("idle timeout"); return;
    case TimerKind::kHeader:
      if (phase_ == Phase::kReading) {
        SendErrorAndClose(408, "request header timeout");
      }
      return;
    case TimerKind::kWriteStall:
      LOG_DEBUG("http: client stopped reading; closing");
      Abort("write stall timeout");
      return;
    case TimerKind::kLinger: Abort("linger timeout"); return;
    case TimerKind::kAbort: Abort("body source failed"); return;
  }
}

void Connection::ArmTimer(TimerKind kind, uint64_t ms) {
  timer_kind_ = kind;
  uv_timer_start(timer_.get(), &Connection::OnTimer, ms, 0);
}

void Connection::StopTimer() {
  timer_kind_ = TimerKind::kNone;
  uv_timer_stop(timer_.get());
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
    case Phase::kLingering: mask = UV_READABLE; break;
    case Phase::kFailed: break;
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
    uv_poll_stop(poll_.get());
  } else {
    uv_poll_start(poll_.get(), mask, &Connection::OnPoll);
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
  if (file_fd_ >= 0 && file_owned_) ::close(file_fd_);
  file_fd_ = -1;
  file_owned_ = false;
  file_remaining_ = 0;
}

void Connection::Abort(std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  LOG_DEBUG("http: connection closed").Str("reason", reason);
  // Handles first: after Close neither callback can run, and the fd leaves epoll before it is
  // closed.
  timer_.Close(&Connection::OnHandleClosed);
  poll_.Close(&Connection::OnHandleClosed);
  ::close(fd_);
  fd_ = -1;
  CloseFile();
  lent_ = {};
  std::unique_ptr<BodySource> source = std::move(source_);
  if (source) source->Stop();
  source.reset();
  std::function<void()> abort_callback = std::move(abort_callback_);
  abort_callback_ = nullptr;
  done_callback_ = nullptr;
  const bool had_exchange = request_ != nullptr;
  request_.reset();
  parser_.DropPartialRequest();
  exchange_liveness_.reset();  // Before the abort callback, which may look at a token.
  ReleaseInputBuffer();
  std::string().swap(out_);
  out_off_ = 0;
  server_->ConnectionClosed(this);
  if (had_exchange && abort_callback) abort_callback();
}

void Connection::OnHandleClosed(void* connection) {
  auto* self = static_cast<Connection*>(connection);
  // The last close destroys the connection; the server's HandleGroup hears of that close after
  // this returns, so a shutdown completes (and may destroy the server) only once it is gone.
  if (self->poll_.closed() && self->timer_.closed()) self->server_->FreeConnection(self);
}

}  // namespace spegel::http
