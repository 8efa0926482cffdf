// Bootstrapper: seeds (ip, router port) from DNS answers or the static list → members, through
// hello.
//
// A seed whose address is already a member is refreshed without a message when it comes from
// DNS (the DNS answer is the evidence); static seeds are re-hello'd each round (their liveness
// has no other source). A seed that turns out to be this node is remembered and skipped. A seed
// that does not answer is retried with backoff (hello_retry_min_ms … hello_retry_max_ms); at most
// max_hellos_in_flight hellos run at once, and a round that hits the cap leaves the rest to the
// next SetSeeds().
//
// Hellos go through a HelloClient (hello.h); the router API's transport is the one the node uses.
//
// Ownership and threading: owned by the node wiring; loop thread only. `loop`, `membership` and
// `hello` must outlive it; hello answers that arrive after its destruction are ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "loop/liveness.h"
#include "loop/loop.h"
#include "membership/hello.h"
#include "membership/member.h"
#include "membership/membership.h"

namespace spegel::cluster {

struct BootstrapOptions {
  uint64_t member_ttl_ms = 60'000;      // A member learned from DNS/static/hello lives this long.
  uint64_t hello_retry_min_ms = 1'000;  // Backoff for seeds that do not answer hello.
  uint64_t hello_retry_max_ms = 30'000;
  size_t max_hellos_in_flight = 64;
};

class Bootstrapper {
 public:
  Bootstrapper(Loop* loop, Membership* membership, HelloClient* hello, BootstrapOptions options);
  ~Bootstrapper();
  void SetSeeds(MemberSource source, const std::vector<std::pair<std::string, uint16_t>>& seeds);
  // Every seed known so far (but this node's own) gets a hello in the next SetSeeds, members
  // included: after this node was renamed, the others learn its new id from it.
  void HelloAgain();

 private:
  struct SeedState {
    uint64_t next_hello_ms = 0;
    uint64_t backoff_ms = 0;
    bool in_flight = false;
    bool is_self = false;
    bool hello_again = false;  // HelloAgain(): hello even if it is a member.
  };
  void HelloSeed(MemberSource source, const std::string& ip, uint16_t port);

  Loop* loop_;
  Membership* membership_;
  HelloClient* hello_;
  BootstrapOptions options_;
  std::map<std::string, SeedState> seeds_;  // by "ip|port"
  size_t in_flight_ = 0;
  Liveness liveness_;
};

}  // namespace spegel::cluster
