#include "http/connection_pool.h"

#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

namespace spegel::http {
namespace {

enum class Liveness { kAlive, kClosed, kUnsolicited };

// What a non-blocking peek says about an idle connection: nothing to read is the only good news.
Liveness Peek(int fd) {
  char byte;
  ssize_t n;
  do {
    n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? Liveness::kAlive : Liveness::kClosed;
  return n == 0 ? Liveness::kClosed : Liveness::kUnsolicited;
}

}  // namespace

ConnectionPool::ConnectionPool(Loop* loop, ConnectionPoolOptions options)
    : loop_(loop), options_(options) {
  options_.max_idle_per_peer = std::max<size_t>(options_.max_idle_per_peer, 1);
  options_.max_idle_total = std::max<size_t>(options_.max_idle_total, 1);
  options_.idle_timeout_ms = std::max<uint64_t>(options_.idle_timeout_ms, 1);
}

ConnectionPool::~ConnectionPool() {
  assert(loop_->IsLoopThread());
  while (!idle_.empty()) Close(idle_.begin());
}

int ConnectionPool::Take(std::string_view peer) {
  assert(loop_->IsLoopThread());
  for (auto it = idle_.end(); it != idle_.begin();) {
    --it;
    if (it->peer != peer) continue;
    const Liveness liveness = Peek(it->fd);
    if (liveness != Liveness::kAlive) {
      ++(liveness == Liveness::kClosed ? stats_.closed_by_peer : stats_.unsolicited);
      auto dead = it++;
      Close(dead);
      continue;
    }
    const int fd = it->fd;
    it->watcher.Close();  // Leaves epoll now: the exchange watches the fd with its own handle.
    idle_.erase(it);
    ++stats_.reused;
    if (idle_.empty() && sweep_) sweep_->Stop();
    return fd;
  }
  return -1;
}

void ConnectionPool::Put(std::string_view peer, int fd) {
  assert(loop_->IsLoopThread());
  ++stats_.returned;
  size_t of_peer = 0;
  for (const Idle& idle : idle_) of_peer += idle.peer == peer ? 1 : 0;
  if (of_peer >= options_.max_idle_per_peer) {
    auto oldest = std::find_if(idle_.begin(), idle_.end(),
                               [&](const Idle& idle) { return idle.peer == peer; });
    ++stats_.evicted;
    Close(oldest);
  } else if (idle_.size() >= options_.max_idle_total) {
    ++stats_.evicted;
    Close(idle_.begin());
  }
  auto it = idle_.emplace(idle_.end());
  it->peer = std::string(peer);
  it->fd = fd;
  it->since_ms = loop_->NowMs();
  Status opened = it->watcher.Open(loop_, fd,
                                   [this, it](int status, int) { OnIdleEvent(it, status); });
  if (opened.ok()) opened = it->watcher.Start(UV_READABLE | UV_DISCONNECT);
  if (!opened.ok()) {
    Close(it);
    return;
  }
  it->watcher.Unref();  // An idle connection alone does not keep the loop running.
  if (!sweep_) {
    sweep_ = std::make_unique<Timer>(loop_);
    sweep_->Unref();
  }
  if (!sweep_->active()) {
    const uint64_t period = std::max<uint64_t>(options_.idle_timeout_ms / 4, 1);
    sweep_->Start(period, period, [this] { Sweep(); });
  }
}

void ConnectionPool::OnIdleEvent(List::iterator it, int status) {
  // Readable while idle: EOF, a reset, or bytes nobody asked for. None of them leaves a
  // connection that can carry the next request.
  const Liveness liveness = status < 0 ? Liveness::kClosed : Peek(it->fd);
  if (liveness == Liveness::kAlive) return;  // Spurious wake-up.
  ++(liveness == Liveness::kClosed ? stats_.closed_by_peer : stats_.unsolicited);
  Close(it);
  if (idle_.empty() && sweep_) sweep_->Stop();
}

void ConnectionPool::Close(List::iterator it) {
  it->watcher.Close();
  ::close(it->fd);
  idle_.erase(it);
}

void ConnectionPool::Sweep() {
  const uint64_t now = loop_->NowMs();
  // Entries are appended on Put() and only ever removed elsewhere: the list stays oldest first.
  while (!idle_.empty() && now - idle_.front().since_ms >= options_.idle_timeout_ms) {
    ++stats_.expired;
    Close(idle_.begin());
  }
  if (idle_.empty()) sweep_->Stop();
}

ConnectionPoolStats ConnectionPool::stats() const {
  ConnectionPoolStats stats = stats_;
  stats.idle = idle_.size();
  return stats;
}

}  // namespace spegel::http
