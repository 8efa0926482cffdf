// Misbehaving peers on 127.0.0.1 for client-side tests: a port that refuses connections and a
// listener that never accepts. Each owns one socket (closed by the destructor) and is used from
// the test thread only; nothing leaves loopback.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace spegel::testing {

// A TCP socket bound to 127.0.0.1:<ephemeral port>; listening when `listen` is true.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    if (listen) REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~LoopbackSocket() { ::close(fd_); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A TCP port on 127.0.0.1 that refuses connections: bound, never listening.
class RefusedPort : public LoopbackSocket {
 public:
  RefusedPort() : LoopbackSocket(/*listen=*/false) {}
};

// A listening socket that never accepts: connect() succeeds (kernel backlog), nothing answers,
// so a connection hangs until the caller gives up.
class SilentListener : public LoopbackSocket {
 public:
  SilentListener() : LoopbackSocket(/*listen=*/true) {}
};

}  // namespace spegel::testing
