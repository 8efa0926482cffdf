#include "membership/scheduler.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fakes/loop_util.h"
#include "loop/loop.h"

namespace spegel::cluster {

TEST_CASE("ManualScheduler runs callbacks in time order, never inline, and cancels") {
  ManualScheduler s;
  std::vector<std::string> ran;
  auto b = s.After(20, [&] { ran.push_back("b"); });
  auto a = s.After(10, [&] { ran.push_back("a"); });
  auto a2 = s.After(10, [&] { ran.push_back("a2"); });
  auto c = s.After(30, [&] { ran.push_back("c"); });
  auto zero = s.After(0, [&] { ran.push_back("zero"); });
  CHECK(ran.empty());  // Not inline, even with delay 0.
  c.reset();           // Cancelled.
  CHECK(s.pending() == 4);
  CHECK(s.RunUntil(15) == 3);
  CHECK(ran == std::vector<std::string>{"zero", "a", "a2"});
  CHECK(s.NowMs() == 15);
  s.RunFor(100);
  CHECK(ran == std::vector<std::string>{"zero", "a", "a2", "b"});
  CHECK(s.NowMs() == 115);
  CHECK_FALSE(s.RunOne());
}

TEST_CASE("ManualScheduler: a task may destroy itself and schedule more from its callback") {
  ManualScheduler s;
  int runs = 0;
  std::unique_ptr<ScheduledTask> task;
  std::unique_ptr<ScheduledTask> next;
  task = s.After(5, [&] {
    ++runs;
    task.reset();
    next = s.After(5, [&] { ++runs; });
  });
  s.RunUntil(7);
  CHECK(runs == 1);
  CHECK(task == nullptr);
  CHECK(s.RunUntilQuiet(10, 100) == 1);
  CHECK(runs == 2);
  CHECK(s.NowMs() == 10);
}

TEST_CASE("ManualScheduler::RunUntilQuiet stops before far timers") {
  ManualScheduler s;
  int near = 0;
  int far = 0;
  auto t1 = s.After(1, [&] { ++near; });
  auto t2 = s.After(10'000, [&] { ++far; });
  s.RunUntilQuiet(100, 1000);
  CHECK(near == 1);
  CHECK(far == 0);
}

TEST_CASE("LoopScheduler runs on the loop, not inline, and a destroyed task never runs") {
  Loop loop;
  {
    LoopScheduler s(&loop);
    int fired = 0;
    int cancelled = 0;
    auto t = s.After(0, [&] { ++fired; });
    auto c = s.After(1, [&] { ++cancelled; });
    CHECK(fired == 0);
    c.reset();
    uint64_t start = s.NowMs();
    std::unique_ptr<ScheduledTask> self_destroying;
    self_destroying = s.After(5, [&] {
      self_destroying.reset();
      ++fired;
    });
    CHECK(testing::RunUntil(&loop, [&] { return fired == 2; }));
    CHECK(s.NowMs() >= start + 5);
    testing::RunUntil(
        &loop, [] { return false; }, 20);
    CHECK(cancelled == 0);
  }
  // Closes the timer handles still pending close.
  loop.Run();
  CHECK(uv_loop_alive(loop.uv()) == 0);
}

}  // namespace spegel::cluster
