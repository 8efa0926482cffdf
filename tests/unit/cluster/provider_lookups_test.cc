// ProviderLookups (provider_lookups.h) on a manual clock, with a scripted lookup function in
// place of the router: rounds shared while in flight, answers kept for the TTL, invalidation.
#include "cluster/provider_lookups.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spegel::cluster {
namespace {

Provider Node(const std::string& id) { return Provider{id, "10.0.0.1", 5000}; }

// Stands in for Router::Lookup: records each round; the test answers it when it chooses, always
// from a scheduled task (never inline), as the router does.
struct ScriptedRouter {
  explicit ScriptedRouter(ManualScheduler* s) : sched(s) {}
  ManualScheduler* sched;
  std::vector<std::string> rounds;
  std::map<std::string, std::function<void(std::vector<Provider>)>> open;
  std::vector<std::unique_ptr<ScheduledTask>> tasks;

  ProviderLookups::LookupFn Fn() {
    return [this](const std::string& key, std::function<void(std::vector<Provider>)> done) {
      rounds.push_back(key);
      open[key] = std::move(done);
    };
  }
  void Answer(const std::string& key, std::vector<Provider> providers, uint64_t after_ms = 5) {
    auto done = std::move(open.at(key));
    open.erase(key);
    tasks.push_back(sched->After(after_ms, [done = std::move(done), providers]() mutable {
      done(std::move(providers));
    }));
  }
};

struct Answers {
  std::vector<std::vector<Provider>> got;
  std::function<void(std::vector<Provider>)> Sink() {
    return [this](std::vector<Provider> p) { got.push_back(std::move(p)); };
  }
};

TEST_CASE("provider lookups: concurrent asks for one key share one round and all get its answer") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  ProviderLookups lookups(&sched, router.Fn());
  Answers answers;
  for (int i = 0; i < 5; ++i) lookups.Find("sha256:aa", answers.Sink());
  lookups.Find("sha256:bb", answers.Sink());
  CHECK(router.rounds == std::vector<std::string>{"sha256:aa", "sha256:bb"});
  CHECK(answers.got.empty());  // Never inline.
  router.Answer("sha256:aa", {Node("a"), Node("b")});
  router.Answer("sha256:bb", {});
  sched.RunFor(10);
  REQUIRE(answers.got.size() == 6);
  int with_two = 0;
  for (const auto& g : answers.got) with_two += g.size() == 2 ? 1 : 0;
  CHECK(with_two == 5);
  const ProviderLookupsStats s = lookups.stats();
  CHECK(s.requests == 6);
  CHECK(s.router_rounds == 2);
  CHECK(s.coalesced == 4);
  CHECK(s.cache_hits == 0);
}

TEST_CASE(
    "provider lookups: a found answer is kept for the TTL, answered later, then asked again") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  ProviderLookups lookups(&sched, router.Fn(), {.cache_ttl_ms = 1000, .max_cached_keys = 16});
  Answers answers;
  lookups.Find("k", answers.Sink());
  router.Answer("k", {Node("a")});
  sched.RunFor(10);
  REQUIRE(answers.got.size() == 1);
  lookups.Find("k", answers.Sink());
  CHECK(answers.got.size() == 1);  // A kept answer too is given in a later turn.
  sched.RunFor(1);
  REQUIRE(answers.got.size() == 2);
  CHECK(answers.got[1] == std::vector<Provider>{Node("a")});
  CHECK(router.rounds.size() == 1);
  CHECK(lookups.stats().cache_hits == 1);
  sched.RunFor(1000);  // Past the TTL.
  lookups.Find("k", answers.Sink());
  CHECK(router.rounds.size() == 2);
}

TEST_CASE("provider lookups: empty answers are not kept; a TTL of 0 keeps nothing") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  ProviderLookups lookups(&sched, router.Fn());
  Answers answers;
  lookups.Find("k", answers.Sink());
  router.Answer("k", {});
  sched.RunFor(10);
  lookups.Find("k", answers.Sink());
  CHECK(router.rounds.size() == 2);

  ProviderLookups uncached(&sched, router.Fn(), {.cache_ttl_ms = 0, .max_cached_keys = 16});
  uncached.Find("j", answers.Sink());
  router.Answer("j", {Node("a")});
  sched.RunFor(10);
  uncached.Find("j", answers.Sink());
  CHECK(router.rounds.back() == "j");
  CHECK(router.rounds.size() == 4);
}

TEST_CASE("provider lookups: a failed provider drops the answers naming it, also one in flight") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  ProviderLookups lookups(&sched, router.Fn());
  Answers answers;
  lookups.Find("x", answers.Sink());
  lookups.Find("y", answers.Sink());
  router.Answer("x", {Node("a"), Node("b")});
  router.Answer("y", {Node("c")});
  sched.RunFor(10);
  CHECK(lookups.stats().cached_keys == 2);
  lookups.Find("z", answers.Sink());  // In flight while "a" fails.
  lookups.Invalidate("a");
  CHECK(lookups.stats().invalidated == 1);
  CHECK(lookups.stats().cached_keys == 1);
  router.Answer("z", {Node("a")});
  sched.RunFor(10);
  CHECK(answers.got.size() == 3);  // Answered, but not kept.
  CHECK(lookups.stats().cached_keys == 1);
  lookups.Find("x", answers.Sink());
  lookups.Find("y", answers.Sink());
  lookups.Find("z", answers.Sink());
  CHECK(router.rounds == std::vector<std::string>{"x", "y", "z", "x", "z"});
}

TEST_CASE(
    "provider lookups: at most max_cached_keys answers are kept, expired ones dropped first") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  ProviderLookups lookups(&sched, router.Fn(), {.cache_ttl_ms = 100, .max_cached_keys = 3});
  Answers answers;
  for (const std::string key : {"a", "b", "c"}) {
    lookups.Find(key, answers.Sink());
    router.Answer(key, {Node("n")});
    sched.RunFor(10);
  }
  CHECK(lookups.stats().cached_keys == 3);
  sched.RunFor(72);  // At 102; "a" (kept at 5) expires at 105, "b" at 115, "c" at 125.
  lookups.Find("d", answers.Sink());
  router.Answer("d", {Node("n")});
  sched.RunFor(10);
  CHECK(lookups.stats().cached_keys == 3);
  lookups.Find("b", answers.Sink());
  lookups.Find("c", answers.Sink());
  lookups.Find("d", answers.Sink());
  CHECK(router.rounds.size() == 4);  // All three still kept.
}

TEST_CASE("provider lookups: a waiter may destroy the lookups; no answer runs afterwards") {
  ManualScheduler sched;
  ScriptedRouter router(&sched);
  auto lookups = std::make_unique<ProviderLookups>(&sched, router.Fn());
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    lookups->Find("k", [&](std::vector<Provider>) {
      ++calls;
      lookups.reset();
    });
  }
  router.Answer("k", {Node("a")});
  sched.RunFor(10);
  CHECK(calls == 1);
  CHECK(lookups == nullptr);

  // A cache hit pending when the lookups go is dropped.
  lookups = std::make_unique<ProviderLookups>(&sched, router.Fn());
  lookups->Find("k", [&](std::vector<Provider>) { ++calls; });
  router.Answer("k", {Node("a")});
  sched.RunFor(10);
  lookups->Find("k", [&](std::vector<Provider>) { ++calls; });
  lookups.reset();
  sched.RunFor(10);
  CHECK(calls == 2);
}

}  // namespace
}  // namespace spegel::cluster
