#include "http/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "http/address.h"
#include "http/connection_pool.h"
#include "loop/handle.h"

namespace spegel::http {
namespace {

bool IsSafeValue(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool IsSafeTarget(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool IsClientOwnedHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "Host") || EqualsIgnoreCase(name, "Content-Length") ||
         EqualsIgnoreCase(name, "Transfer-Encoding") || EqualsIgnoreCase(name, "Connection");
}

// The request bytes, or InvalidArgument naming what cannot be sent.
Result<std::string> SerializeRequest(const ClientRequest& request, const std::string& host,
                                     bool keep_alive) {
  if (!IsToken(request.method)) {
    return Status::InvalidArgument("http client: invalid method \"" + request.method + "\"");
  }
  if (!IsSafeTarget(request.target)) {
    return Status::InvalidArgument("http client: invalid request target");
  }
  std::string out;
  out.reserve(256 + request.body.size());
  out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host).append("\r\n");
  for (const auto& h : request.headers) {
    if (!IsToken(h.name)) {
      return Status::InvalidArgument("http client: invalid header name \"" + h.name + "\"");
    }
    if (!IsSafeValue(h.value)) {
      return Status::InvalidArgument("http client: invalid value for header " + h.name);
    }
    if (IsClientOwnedHeader(h.name)) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  const bool body_method = request.method == "POST" || request.method == "PUT" ||
                           request.method == "PATCH";
  if (!request.body.empty() || body_method) {
    out.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  // HTTP/1.1 connections persist unless one side says otherwise.
  out.append(keep_alive ? "\r\n" : "Connection: close\r\n\r\n");
  out.append(request.body);
  return out;
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

// The state of one exchange: socket, handles, parser, callbacks. Created by Start() and owned by
// itself: it is deleted from the last handle close callback once the ClientExchange has detached
// (or by Detach() when no handle is open or closing), so no libuv callback and no frame of ours
// ever touches freed memory. Its two handles are embedded (loop/handle.h). Loop thread only.
class ClientExchange::Core {
 public:
  Core(Loop* loop, ClientRequest request, ClientOptions options, ClientCallbacks callbacks,
       ClientExchange* owner, bool may_reuse)
      : loop_(loop),
        request_(std::move(request)),
        options_(options),
        callbacks_(std::move(callbacks)),
        parser_(options.max_head_bytes, request_.method == "HEAD"),
        owner_(owner),
        may_reuse_(may_reuse) {
    if (options_.read_chunk_bytes == 0) options_.read_chunk_bytes = 1;
  }

  Loop* loop() const { return loop_; }
  void Attach(ClientExchange* owner) { owner_ = owner; }
  void Begin();
  void ReadMore();
  void Cancel() { CloseAll(); }
  void Detach();

 private:
  enum class Phase {
    kConnecting,  // Waiting for the TCP connection.
    kHead,        // Writing the request and reading the response head.
    kBody,        // Reading the body from the peer.
    kConsumer,    // An on_data is waiting for ReadMore().
    kFinishing,   // on_done is due from the timer (never inline).
  };
  enum class TimerKind { kNone, kConnect, kHead, kIdle, kFinish };

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  // The close callback of both handles.
  static void OnHandleClosed(void* core);

  void OnConnected();
  void OnWritable();
  void OnReadable();
  void Deliver();
  void OnTimeout();
  // Ends the exchange: closes everything, then runs on_done (inline: only from libuv callbacks).
  void Finish(Status status);
  // Ends the exchange from the timer in a later loop turn (for paths reachable from user calls).
  void FinishLater(Status status);
  void CloseAll();
  // A reused connection ended before any response byte: the peer closed it while it was idle.
  // The same request goes out once more on a fresh connection, in a new core that takes this
  // one's place in the ClientExchange; this core closes like a detached one. No callback has run,
  // so the consumer sees one exchange.
  bool RetryOnFreshConnection(const Status& status);
  // The response is complete: hands a clean connection to the pool at once, so that whatever the
  // consumer does next (ReadMore, Cancel, destruction) the connection is kept.
  void ReleaseConnection();
  // Detached, and libuv holds neither handle: nothing can reach this core any more.
  bool Finished() const { return detached_ && poll_.closed() && timer_.closed(); }
  void ArmTimer(TimerKind kind, uint64_t ms);
  void StopTimer();
  void SetPoll(int mask);
  std::string PeerName() const { return request_.host + ":" + std::to_string(request_.port); }

  Loop* loop_;
  ClientRequest request_;
  ClientOptions options_;
  ClientCallbacks callbacks_;
  ResponseParser parser_;
  Phase phase_ = Phase::kConnecting;
  int fd_ = -1;
  UvHandle<uv_poll_t> poll_;
  UvHandle<uv_timer_t> timer_;
  TimerKind timer_kind_ = TimerKind::kNone;
  int poll_mask_ = 0;
  bool closed_ = false;    // CloseAll() ran: no more I/O and no more callbacks except on_done.
  bool detached_ = false;  // The ClientExchange is gone.
  bool head_delivered_ = false;
  bool received_any_ = false;
  Status pending_;                     // For kFinish.
  ClientExchange* owner_;              // Null once detached.
  bool may_reuse_;                     // Take a pooled connection (false for the one retry).
  bool reused_ = false;                // The connection came from options_.pool.
  bool bytes_after_response_ = false;  // The peer sent more than the response: not reusable.
  std::string pool_key_;               // The peer as the Host header names it.
  std::string out_;
  size_t out_off_ = 0;
  std::vector<char> in_buf_;
};

void ClientExchange::Core::Begin() {
  timer_.Init(loop_, this, nullptr, uv_timer_init);  // Cannot fail.

  Result<PeerAddress> peer = ParsePeerAddress(request_.host, request_.port);
  if (!peer.ok()) {
    FinishLater(Status::InvalidArgument("http client: " + peer.status().message()));
    return;
  }
  Result<std::string> bytes = SerializeRequest(request_, peer->authority, options_.pool != nullptr);
  if (!bytes.ok()) {
    FinishLater(bytes.status());
    return;
  }
  out_ = std::move(bytes).value();
  if (options_.pool != nullptr) {
    pool_key_ = peer->authority;
    if (may_reuse_) fd_ = options_.pool->Take(pool_key_);
  }
  if (fd_ >= 0) {
    reused_ = true;  // request_ keeps its body for a retry.
    const int prc = poll_.Init(loop_, this, nullptr, uv_poll_init_socket, fd_);
    if (prc != 0) {
      ::close(fd_);
      fd_ = -1;
      FinishLater(Status::Unavailable(std::string("http client: cannot watch socket: ") +
                                      uv_strerror(prc)));
      return;
    }
    phase_ = Phase::kHead;
    ArmTimer(TimerKind::kHead, options_.head_timeout_ms);
    SetPoll(UV_WRITABLE);
    return;
  }
  request_.body.clear();
  request_.body.shrink_to_fit();

  fd_ = ::socket(peer->address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    FinishLater(Status::Unavailable("http client: socket: " + ErrnoText(errno)));
    return;
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc;
  do {
    rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&peer->address.storage),
                   peer->address.length);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    FinishLater(
        Status::Unavailable("http client: connect to " + PeerName() + ": " + ErrnoText(err)));
    return;
  }
  const int prc = poll_.Init(loop_, this, nullptr, uv_poll_init_socket, fd_);
  if (prc != 0) {
    ::close(fd_);
    fd_ = -1;
    FinishLater(
        Status::Unavailable(std::string("http client: cannot watch socket: ") + uv_strerror(prc)));
    return;
  }
  // Connected or not, the socket reports writable once the handshake has finished either way.
  ArmTimer(TimerKind::kConnect, options_.connect_timeout_ms);
  SetPoll(UV_WRITABLE);
}

void ClientExchange::Core::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Core*>(handle->data);
  if (self->closed_) return;
  if (status < 0) {
    // libuv stops the poll on POLLERR; the socket's pending error says why.
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    const std::string what = err != 0 ? ErrnoText(err) : std::string(uv_strerror(status));
    self->poll_mask_ = 0;
    if (self->phase_ == Phase::kConnecting) {
      self->Finish(
          Status::Unavailable("http client: connect to " + self->PeerName() + ": " + what));
    } else {
      self->Finish(
          Status::Unavailable("http client: socket error with " + self->PeerName() + ": " + what));
    }
    return;
  }
  if (self->phase_ == Phase::kConnecting) {
    self->OnConnected();
    return;
  }
  if ((events & UV_WRITABLE) && self->out_off_ < self->out_.size()) self->OnWritable();
  if (self->closed_) return;
  if ((events & UV_READABLE) && (self->phase_ == Phase::kHead || self->phase_ == Phase::kBody)) {
    self->OnReadable();
  }
}

void ClientExchange::Core::OnConnected() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    Finish(Status::Unavailable("http client: connect to " + PeerName() + ": " + ErrnoText(err)));
    return;
  }
  phase_ = Phase::kHead;
  ArmTimer(TimerKind::kHead, options_.head_timeout_ms);
  OnWritable();
}

void ClientExchange::Core::OnWritable() {
  while (out_off_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      const int err = errno;
      if (received_any_) {
        // The peer answered early (e.g. an error before reading our body) and closed: read
        // the answer instead of failing on the unsent rest.
        out_.clear();
        out_off_ = 0;
        break;
      }
      Finish(Status::Unavailable("http client: send to " + PeerName() + ": " + ErrnoText(err)));
      return;
    }
    out_off_ += static_cast<size_t>(n);
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_.shrink_to_fit();
    out_off_ = 0;
  }
  // Reading starts at once: a peer may answer before it has read the whole request.
  SetPoll(UV_READABLE | (out_.empty() ? 0 : UV_WRITABLE));
}

void ClientExchange::Core::OnReadable() {
  std::span<char> region;
  if (head_delivered_ && callbacks_.body_buffer) region = callbacks_.body_buffer();
  if (!region.empty() && !in_buf_.empty()) {
    std::vector<char>().swap(in_buf_);  // Reads go to the consumer's buffer from now on.
  }
  if (region.empty()) {
    if (in_buf_.empty()) in_buf_.resize(options_.read_chunk_bytes);
    region = std::span<char>(in_buf_);
  }
  ssize_t n;
  do {
    n = ::read(fd_, region.data(), region.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return;
    Finish(Status::Unavailable("http client: read from " + PeerName() + ": " + ErrnoText(errno)));
    return;
  }
  if (n == 0) {
    if (parser_.Finish() == ResponseParser::Event::kError) {
      Finish(Status(parser_.error().code(),
                    "http client: " + PeerName() + ": " + parser_.error().message()));
      return;
    }
    Deliver();
    return;
  }
  received_any_ = true;
  const ResponseParser::FeedResult r = parser_.Feed(region.data(), static_cast<size_t>(n));
  if (r.event == ResponseParser::Event::kComplete && r.consumed < static_cast<size_t>(n)) {
    bytes_after_response_ = true;
  }
  if (r.event == ResponseParser::Event::kError) {
    Finish(Status(parser_.error().code(),
                  "http client: " + PeerName() + ": " + parser_.error().message()));
    return;
  }
  if (phase_ == Phase::kBody) ArmTimer(TimerKind::kIdle, options_.idle_timeout_ms);
  Deliver();
}

// Hands what the parser produced to the callbacks, in order: head, body bytes, completion.
void ClientExchange::Core::Deliver() {
  if (parser_.complete()) ReleaseConnection();
  if (!head_delivered_ && parser_.head_complete()) {
    head_delivered_ = true;
    phase_ = Phase::kBody;
    ArmTimer(TimerKind::kIdle, options_.idle_timeout_ms);
    if (callbacks_.on_head) callbacks_.on_head(parser_.response());
    if (closed_) return;
  }
  if (!parser_.body().empty()) {
    phase_ = Phase::kConsumer;
    StopTimer();
    if (callbacks_.on_data) {
      callbacks_.on_data(parser_.body());
      if (closed_) return;
    } else {
      ReadMore();
    }
    parser_.ClearBody();
    // Still waiting for ReadMore(): stop watching the socket until then (the consumer's
    // backpressure). A ReadMore() from inside on_data left the registration as it was.
    if (phase_ == Phase::kConsumer) SetPoll(0);
    return;
  }
  if (parser_.complete()) Finish(Status::Ok());
}

void ClientExchange::Core::ReadMore() {
  if (closed_ || phase_ != Phase::kConsumer) return;
  if (parser_.complete()) {
    FinishLater(Status::Ok());
    return;
  }
  phase_ = Phase::kBody;
  ArmTimer(TimerKind::kIdle, options_.idle_timeout_ms);
  SetPoll(UV_READABLE);
}

void ClientExchange::Core::OnTimer(uv_timer_t* handle) {
  static_cast<Core*>(handle->data)->OnTimeout();
}

void ClientExchange::Core::OnTimeout() {
  const TimerKind kind = timer_kind_;
  timer_kind_ = TimerKind::kNone;
  if (closed_) return;
  switch (kind) {
    case TimerKind::kNone: return;
    case TimerKind::kConnect:
      Finish(Status::Unavailable("http client: connect to " + PeerName() + " timed out after " +
                                 std::to_string(options_.connect_timeout_ms) + " ms"));
      return;
    case TimerKind::kHead:
      Finish(Status::DeadlineExceeded("http client: no complete response head from " + PeerName() +
                                      " within " + std::to_string(options_.head_timeout_ms) +
                                      " ms"));
      return;
    case TimerKind::kIdle:
      Finish(Status::DeadlineExceeded("http client: " + PeerName() + " sent no body byte for " +
                                      std::to_string(options_.idle_timeout_ms) + " ms after " +
                                      std::to_string(parser_.body_bytes()) + " bytes"));
      return;
    case TimerKind::kFinish: Finish(std::move(pending_)); return;
  }
}

void ClientExchange::Core::FinishLater(Status status) {
  pending_ = std::move(status);
  phase_ = Phase::kFinishing;
  SetPoll(0);
  ArmTimer(TimerKind::kFinish, 0);
}

void ClientExchange::Core::Finish(Status status) {
  if (closed_) return;
  if (!status.ok() && RetryOnFreshConnection(status)) return;
  CloseAll();
  // Moved out: the callback may destroy the ClientExchange, and runs at most once.
  auto on_done = std::move(callbacks_.on_done);
  callbacks_.on_done = nullptr;
  if (on_done) on_done(std::move(status));
}

void ClientExchange::Core::CloseAll() {
  if (closed_) return;
  closed_ = true;
  timer_.Close(&Core::OnHandleClosed);
  poll_.Close(&Core::OnHandleClosed);  // The poll leaves epoll before the fd is closed.
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  in_buf_.clear();
  in_buf_.shrink_to_fit();
  out_.clear();
  out_.shrink_to_fit();
}

bool ClientExchange::Core::RetryOnFreshConnection(const Status& status) {
  const bool connection_lost = status.code() == Code::kUnavailable ||
                               status.code() == Code::kDataLoss;
  if (!reused_ || received_any_ || !connection_lost || owner_ == nullptr) return false;
  options_.pool->CountRetry();
  auto* fresh = new Core(loop_, std::move(request_), options_, std::move(callbacks_), owner_,
                         /*may_reuse=*/false);
  owner_->core_ = fresh;
  fresh->Begin();
  callbacks_ = {};
  Detach();  // Handles are open: this core is freed from their close callbacks, not here.
  return true;
}

void ClientExchange::Core::ReleaseConnection() {
  if (fd_ < 0 || options_.pool == nullptr || !parser_.reusable() || bytes_after_response_ ||
      !out_.empty()) {
    return;
  }
  // Every byte of the response has been read (the last ones may still wait for the consumer in
  // its own buffer or in in_buf_, which stay ours): the socket is done with this exchange.
  poll_.Close(&Core::OnHandleClosed);  // Leaves epoll now, before the pool watches the fd.
  poll_mask_ = 0;
  options_.pool->Put(pool_key_, fd_);
  fd_ = -1;
}

void ClientExchange::Core::Detach() {
  owner_ = nullptr;
  detached_ = true;
  CloseAll();
  if (Finished()) delete this;  // No close callback pending, and none of our frames.
}

void ClientExchange::Core::OnHandleClosed(void* core) {
  auto* self = static_cast<Core*>(core);
  if (self->Finished()) delete self;
}

void ClientExchange::Core::ArmTimer(TimerKind kind, uint64_t ms) {
  if (!timer_.open()) return;
  timer_kind_ = kind;
  uv_timer_start(timer_.get(), &Core::OnTimer, ms, 0);
}

void ClientExchange::Core::StopTimer() {
  timer_kind_ = TimerKind::kNone;
  if (timer_.open()) uv_timer_stop(timer_.get());
}

void ClientExchange::Core::SetPoll(int mask) {
  if (!poll_.open() || mask == poll_mask_) return;
  poll_mask_ = mask;
  if (mask == 0) {
    uv_poll_stop(poll_.get());
  } else {
    uv_poll_start(poll_.get(), mask, &Core::OnPoll);
  }
}

// ---------------------------------------------------------------------------------------------

std::unique_ptr<ClientExchange> ClientExchange::Start(Loop* loop, ClientRequest request,
                                                      ClientOptions options,
                                                      ClientCallbacks callbacks) {
  assert(loop->IsLoopThread());
  // Timers are armed from libuv's cached clock: refresh it, or a caller that just spent a while
  // on the loop thread (a big index update) would see its timeouts fire early.
  uv_update_time(loop->uv());
  auto* core = new Core(loop, std::move(request), options, std::move(callbacks), nullptr,
                        /*may_reuse=*/true);
  std::unique_ptr<ClientExchange> exchange(new ClientExchange(core));
  core->Attach(exchange.get());
  core->Begin();
  return exchange;
}

ClientExchange::~ClientExchange() {
  assert(core_->loop()->IsLoopThread());
  core_->Detach();
}

void ClientExchange::ReadMore() {
  assert(core_->loop()->IsLoopThread());
  core_->ReadMore();
}

void ClientExchange::Cancel() {
  assert(core_->loop()->IsLoopThread());
  core_->Cancel();
}

// ---------------------------------------------------------------------------------------------

namespace {

struct FetchState {
  ClientExchange* exchange = nullptr;  // Valid whenever a callback runs (see Fetch).
  size_t max_body = 0;
  FetchResult result;
  std::function<void(Result<FetchResult>)> done;

  // Ends the fetch early with `status` from inside an exchange callback.
  void Abort(Status status) {
    exchange->Cancel();
    auto d = std::move(done);
    done = nullptr;
    if (d) d(std::move(status));
  }
};

}  // namespace

std::unique_ptr<ClientExchange> Fetch(Loop* loop, ClientRequest request, ClientOptions options,
                                      size_t max_body,
                                      std::function<void(Result<FetchResult>)> done) {
  auto state = std::make_shared<FetchState>();
  state->max_body = max_body;
  state->done = std::move(done);
  ClientCallbacks callbacks;
  callbacks.on_head = [state](const ClientResponse& response) {
    if (response.content_length && *response.content_length > state->max_body) {
      state->Abort(Status::ResourceExhausted(
          "http client: response body of " + std::to_string(*response.content_length) +
          " bytes exceeds the limit of " + std::to_string(state->max_body)));
      return;
    }
    state->result.response = response;
  };
  callbacks.on_data = [state](std::string_view data) {
    if (data.size() > state->max_body - state->result.body.size()) {
      state->Abort(Status::ResourceExhausted("http client: response body exceeds the limit of " +
                                             std::to_string(state->max_body) + " bytes"));
      return;
    }
    state->result.body.append(data);
    state->exchange->ReadMore();
  };
  callbacks.on_done = [state](Status status) {
    auto d = std::move(state->done);
    state->done = nullptr;
    if (!d) return;
    if (status.ok()) {
      d(std::move(state->result));
    } else {
      d(std::move(status));
    }
  };
  // No callback runs inline from Start(), so `exchange` is set before any of them reads it, and
  // the caller's handle keeps it valid: destroying the handle stops every callback.
  std::unique_ptr<ClientExchange> exchange = ClientExchange::Start(loop, std::move(request),
                                                                   options, std::move(callbacks));
  state->exchange = exchange.get();
  return exchange;
}

}  // namespace spegel::http
