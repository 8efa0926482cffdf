// Liveness (loop/liveness.h): a token reports its owner alive until Revoke() or the owner's
// destruction, whichever is first; tokens outlive the owner safely and travel through threads.
#include "loop/liveness.h"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <thread>

#include "fakes/loop_util.h"
#include "loop/loop.h"

namespace spegel {
namespace {

TEST_CASE("liveness: a token is alive until Revoke, for tokens issued before and after") {
  Liveness owner;
  Liveness::Token before = owner.token();
  CHECK(before.alive());
  owner.Revoke();
  CHECK_FALSE(before.alive());
  CHECK_FALSE(owner.token().alive());
  owner.Revoke();  // Idempotent.
  CHECK_FALSE(before.alive());
}

TEST_CASE("liveness: a token outlives its owner and reports it dead") {
  std::optional<Liveness::Token> token;
  {
    Liveness owner;
    token = owner.token();
    CHECK(token->alive());
  }
  CHECK_FALSE(token->alive());
}

TEST_CASE("liveness: a dead token was never alive") { CHECK_FALSE(Liveness::DeadToken().alive()); }

TEST_CASE("liveness: a token carried through a worker thread and Post sees the revoke") {
  Loop loop;
  auto owner = std::make_unique<Liveness>();
  int ran = 0;
  bool seen_alive = true;
  std::thread worker([&loop, token = owner->token(), &ran, &seen_alive]() mutable {
    loop.Post([token = std::move(token), &ran, &seen_alive] {
      ++ran;
      seen_alive = token.alive();
    });
  });
  worker.join();
  owner.reset();  // The owner dies before the posted callback runs.
  CHECK(testing::RunUntil(&loop, [&ran] { return ran == 1; }));
  CHECK_FALSE(seen_alive);
}

}  // namespace
}  // namespace spegel
