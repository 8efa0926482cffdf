// ConnectionPool: idle keep-alive connections toward peers, for the client (client.h) to reuse.
//
// A connection enters the pool only after a response that leaves it clean: complete, framed by
// its length (not by the close), no `Connection: close`, no byte after it, and the request sent
// in full (ResponseParser::reusable()). An exchange that is cancelled, fails, or is destroyed
// before its body ends closes its connection instead.
//
// Bounds: at most max_idle_per_peer idle connections per peer and max_idle_total in all; a Put()
// beyond either bound closes the least recently used idle connection (of that peer, or of all).
// An idle connection is closed after idle_timeout_ms, keep it below the peers' own keep-alive
// timeout (the server's default is 60 s) so that the peer rarely closes one first.
//
// Liveness: every idle connection is watched for readability. The peer closing it (EOF or
// reset) or sending bytes nobody asked for (a second response) closes it at once. Take() checks
// again with a non-blocking MSG_PEEK, so a close that arrived in the same loop turn is caught too.
// What no check can catch, the peer closing between Take() and its reading of the request, the
// client handles: a reused connection that ends before any response byte is retried once on a
// fresh connection (ClientOptions::pool).
//
// Keys are the peer's "ip:port" as the client writes it in Host (IPv6 in brackets, with zone).
//
// Ownership and threading: the owner keeps the pool alive for as long as any exchange that uses
// it exists (the pool outlives the PeerFetcher and the router transport it is given to).
// Destroying it closes every idle connection. Loop thread only (asserted); no callback is exposed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "loop/handle.h"
#include "loop/loop.h"

namespace spegel::http {

struct ConnectionPoolOptions {
  size_t max_idle_per_peer = 4;
  size_t max_idle_total = 64;
  uint64_t idle_timeout_ms = 30'000;
};

struct ConnectionPoolStats {
  size_t idle = 0;              // Idle connections now.
  uint64_t reused = 0;          // Take() calls that returned a connection.
  uint64_t returned = 0;        // Put() calls (connections that were clean after a response).
  uint64_t retried = 0;         // Reused connections found dead by the peer's silence: retried.
  uint64_t closed_by_peer = 0;  // Idle connections the peer closed (or reset).
  uint64_t unsolicited = 0;     // Idle connections on which the peer sent bytes unasked.
  uint64_t expired = 0;         // Idle past idle_timeout_ms.
  uint64_t evicted = 0;         // Closed to stay within the bounds.
};

class ConnectionPool {
 public:
  ConnectionPool(Loop* loop, ConnectionPoolOptions options = {});
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // The most recently returned idle connection to `peer` that still looks alive, or -1. The
  // caller owns the returned socket (non-blocking, TCP_NODELAY as the client set it). Dead ones
  // met on the way are closed and counted.
  int Take(std::string_view peer);
  // Hands over a clean connection to `peer` (see the top of this file); the pool owns `fd` from
  // here on and may close it at once to stay within its bounds.
  void Put(std::string_view peer, int fd);
  // Counts a reused connection that turned out dead (the client's one retry).
  void CountRetry() { ++stats_.retried; }

  ConnectionPoolStats stats() const;

 private:
  struct Idle {
    std::string peer;
    int fd = -1;
    uint64_t since_ms = 0;
    PollWatcher watcher;
  };
  using List = std::list<Idle>;  // Least recently returned first.

  void OnIdleEvent(List::iterator it, int status);
  void Close(List::iterator it);
  void Sweep();

  Loop* loop_;
  ConnectionPoolOptions options_;
  List idle_;
  std::unique_ptr<Timer> sweep_;  // Armed while connections are idle.
  ConnectionPoolStats stats_;
};

}  // namespace spegel::http
