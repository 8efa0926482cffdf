#include "http/server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "base/log.h"
#include "http/connection.h"

namespace spegel::http {
namespace {

// Pool chunk sizes: about 60 connections, or 15 read buffers, per chunk.
constexpr size_t kConnectionChunkBytes = 64 * 1024;
constexpr size_t kReadBufferChunkBytes = 256 * 1024;
constexpr size_t kTrimBurst = 1024;  // Open connections that make a burst worth a heap trim.
constexpr int kMaxAcceptsPerTurn = 128;
constexpr uint64_t kAcceptBackoffMs = 100;

}  // namespace

Server::Server(Loop* loop, Handler* handler, ServerOptions options)
    : loop_(loop),
      handler_(handler),
      options_(options),
      body_budget_(options.max_buffered_body_bytes),
      handles_(loop),
      connection_pool_(sizeof(Connection), kConnectionChunkBytes),
      read_buffer_pool_(Connection::kReadBufferSize, kReadBufferChunkBytes) {}

Server::~Server() {
  assert(handles_.count() == 0 && connections_ == nullptr && body_budget_.used() == 0);
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
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&bind_address.storage), bind_address.length) !=
      0) {
    const std::string err = strerror(errno);
    ::close(fd);
    return Status::Unavailable("http server: cannot bind " + address.ToString() + ": " + err);
  }
  if (::listen(fd, backlog) != 0) {
    const std::string err = strerror(errno);
    ::close(fd);
    return Status::Unavailable("http server: cannot listen on " + address.ToString() + ": " + err);
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
  assert(loop_->IsLoopThread());
  if (listen_fd_ >= 0 || shutting_down_) {
    return Status::FailedPrecondition("http server: Listen called twice");
  }
  auto socket = ListenSocket::Bind(address, options_.backlog);
  if (!socket.ok()) return socket.status();
  return Listen(std::move(*socket));
}

Result<uint16_t> Server::Listen(ListenSocket socket) {
  assert(loop_->IsLoopThread());
  if (listen_fd_ >= 0 || shutting_down_) {
    return Status::FailedPrecondition("http server: Listen called twice");
  }
  if (!socket.valid()) return Status::InvalidArgument("http server: no listening socket");
  Status watched = listen_poll_.Open(
      loop_, socket.fd(), [this](int status, int) { OnListenReadable(status); }, &handles_);
  if (!watched.ok()) return Status::Internal("http server: " + watched.message());
  port_ = socket.port();
  listen_fd_ = socket.Release();
  listen_poll_.Start(UV_READABLE);
  return port_;
}

void Server::OnListenReadable(int status) {
  if (status < 0) {
    LOG_WARN("http: listening socket error").Str("error", uv_strerror(status));
    return;
  }
  AcceptMany();
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
      listen_poll_.Stop();
      if (accept_backoff_ == nullptr) accept_backoff_ = std::make_unique<Timer>(loop_, &handles_);
      accept_backoff_->Start(kAcceptBackoffMs, 0, [this] {
        if (!shutting_down_) listen_poll_.Start(UV_READABLE);
      });
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
  peak_since_trim_ = std::max(peak_since_trim_, connection_pool_.blocks_in_use());
}

void Server::ConnectionClosed(Connection* connection) {
  if (connection->prev_ != nullptr) connection->prev_->next_ = connection->next_;
  if (connection->next_ != nullptr) connection->next_->prev_ = connection->prev_;
  if (connections_ == connection) connections_ = connection->next_;
  connection->prev_ = connection->next_ = nullptr;
  --connection_count_;
  // The deadline is useless once every connection is gone (this may run inside its callback).
  if (shutting_down_ && connections_ == nullptr) deadline_.reset();
}

void Server::FreeConnection(Connection* connection) {
  connection->~Connection();
  connection_pool_.Free(connection);
  // Counted in connection objects still allocated: a burst's connections are closed in one turn
  // and freed from their close callbacks later.
  const size_t alive = connection_pool_.blocks_in_use();
  if (peak_since_trim_ >= kTrimBurst && alive <= peak_since_trim_ / 64) {
    malloc_trim(0);  // A few milliseconds for a heap of tens of MiB, once per burst.
    LOG_DEBUG("http: heap trimmed after a burst of connections")
        .Int("peak", static_cast<int64_t>(peak_since_trim_))
        .Int("alive", static_cast<int64_t>(alive));
    peak_since_trim_ = alive;
  }
}

std::vector<Connection*> Server::OpenConnections() const {
  std::vector<Connection*> open;
  open.reserve(connection_count_);
  for (Connection* c = connections_; c != nullptr; c = c->next_) open.push_back(c);
  return open;
}

void Server::Shutdown(uint64_t deadline_ms, std::function<void()> done) {
  assert(loop_->IsLoopThread());
  if (shutting_down_) return;
  shutting_down_ = true;
  accept_backoff_.reset();
  listen_poll_.Close();  // Before close(2): the fd leaves epoll first.
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  // Copy: draining may close (and unregister) connections.
  for (Connection* c : OpenConnections()) c->OnServerDraining();
  if (connections_ != nullptr) {
    deadline_ = std::make_unique<Timer>(loop_, &handles_);
    deadline_->Start(deadline_ms, 0, [this] {
      for (Connection* c : OpenConnections()) c->Abort("shutdown deadline");
    });
  }
  handles_.WhenAllClosed(std::move(done));
}

}  // namespace spegel::http
