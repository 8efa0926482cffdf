// Loop, Timer, SignalWatcher, CloseAndDelete and Worker: the contracts in loop/loop.h and
// loop/worker.h. Post() is the only way across threads, runs on the loop thread in FIFO order and
// never inline; a Timer's callback never runs after Stop() or destruction; CloseAndDelete frees the
// handle only from its close callback; a Worker runs jobs in order on its own thread and drops
// queued jobs on Stop(). Every wait is bounded, and every test ends with no handle left on its
// loop.
#include "loop/loop.h"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fakes/loop_util.h"
#include "loop/worker.h"

namespace spegel {
namespace {

using spegel::testing::OpenHandles;
using spegel::testing::RegisteredHandles;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;

// Spins (bounded, 5 s) until `done()` holds; for waits on threads other than the loop's.
template <typename Fn>
bool SpinUntil(Fn done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Handles left on `loop` once the pending close callbacks have run (one non-blocking iteration:
// RunUntil's own timers close as it returns), not counting the Loop's own async handle.
size_t HandlesLeft(Loop* loop) {
  uv_run(loop->uv(), UV_RUN_NOWAIT);
  return RegisteredHandles(loop);
}

// ---------------------------------------------------------------------------------------------
// Loop::Post

TEST_CASE(
    "loop: Post from other threads runs every function on the loop thread, each thread's "
    "in order") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  Loop loop;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::vector<std::pair<int, int>> ran;  // (thread, sequence); loop thread only.
  bool all_on_loop_thread = true;        // Loop thread only.
  std::atomic<int> off_loop_thread_calls{0};

  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      if (loop.IsLoopThread()) ++off_loop_thread_calls;  // Must not count: not the loop thread.
      for (int i = 0; i < kPerThread; ++i) {
        loop.Post([&, t, i] {
          all_on_loop_thread = all_on_loop_thread && std::this_thread::get_id() == loop_thread &&
                               loop.IsLoopThread();
          ran.emplace_back(t, i);
        });
      }
    });
  }
  const bool all_ran = RunUntil(&loop, [&] { return ran.size() == kThreads * kPerThread; });
  for (auto& p : producers) p.join();
  REQUIRE(all_ran);
  CHECK(all_on_loop_thread);
  CHECK(off_loop_thread_calls.load() == 0);
  std::vector<int> next(kThreads, 0);
  bool in_order = true;
  for (const auto& [t, i] : ran) {
    in_order = in_order && i == next[t];
    next[t] = i + 1;
  }
  CHECK(in_order);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("loop: Post from the loop thread never runs inline, and keeps FIFO order") {
  Loop loop;
  std::vector<int> ran;
  loop.Post([&] {
    ran.push_back(1);
    loop.Post([&] { ran.push_back(3); });
    CHECK(ran == std::vector<int>{1});  // Not inline, even from the loop thread.
  });
  loop.Post([&] { ran.push_back(2); });
  CHECK(ran.empty());
  REQUIRE(RunUntil(
      &loop, [&] { return ran.size() == 3; }, 2000));
  CHECK(ran == std::vector<int>{1, 2, 3});
  RunFor(&loop, 20);
  CHECK(ran.size() == 3);
}

TEST_CASE("loop: functions still queued when the Loop is destroyed are dropped, never run") {
  auto token = std::make_shared<int>(7);
  std::weak_ptr<int> watch = token;
  bool ran = false;
  {
    Loop loop;
    loop.Post([&ran, token = std::move(token)] { ran = *token == 7; });
    CHECK_FALSE(watch.expired());  // Held by the queued function.
  }
  CHECK_FALSE(ran);
  CHECK(watch.expired());  // The function (and what it captured) was destroyed with the queue.
}

TEST_CASE("loop: the async handle alone does not keep Run() alive") {
  Loop loop;
  const auto start = std::chrono::steady_clock::now();
  loop.Run();  // Nothing active: returns at once.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(OpenHandles(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// Timer

TEST_CASE("timer: a one-shot timer fires once, not before its timeout, then is inactive") {
  Loop loop;
  int fired = 0;
  uint64_t fired_at = 0;
  {
    Timer timer(&loop);
    CHECK_FALSE(timer.active());
    const uint64_t started = loop.NowMs();
    timer.Start(30, 0, [&] {
      ++fired;
      fired_at = loop.NowMs();
    });
    CHECK(timer.active());
    CHECK(fired == 0);  // Not inline.
    REQUIRE(RunUntil(
        &loop, [&] { return fired > 0; }, 2000));
    CHECK(fired_at >= started + 30);
    RunFor(&loop, 60);
    CHECK(fired == 1);
    CHECK_FALSE(timer.active());
  }
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("timer: a repeating timer fires until stopped, and never after Stop()") {
  Loop loop;
  int fired = 0;
  {
    Timer timer(&loop);
    timer.Start(5, 5, [&] {
      if (++fired == 3) timer.Stop();
    });
    REQUIRE(RunUntil(
        &loop, [&] { return fired >= 3; }, 2000));
    CHECK_FALSE(timer.active());
    RunFor(&loop, 40);
    CHECK(fired == 3);
  }
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("timer: Stop() before the timeout means the callback never runs") {
  Loop loop;
  bool fired = false;
  {
    Timer timer(&loop);
    timer.Start(10, 0, [&] { fired = true; });
    timer.Stop();
    CHECK_FALSE(timer.active());
    RunFor(&loop, 40);
  }
  CHECK_FALSE(fired);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("timer: Start() again re-arms with the new callback; the old one does not run") {
  Loop loop;
  std::vector<std::string> ran;
  {
    Timer timer(&loop);
    timer.Start(10, 0, [&] { ran.push_back("old"); });
    timer.Start(20, 0, [&] { ran.push_back("new"); });
    REQUIRE(RunUntil(
        &loop, [&] { return !ran.empty(); }, 2000));
    RunFor(&loop, 40);
  }
  CHECK(ran == std::vector<std::string>{"new"});
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("timer: a timer may destroy itself, or re-arm itself, from its own callback") {
  Loop loop;
  int fired = 0;
  auto self_destroying = std::make_unique<Timer>(&loop);
  self_destroying->Start(1, 1, [&] {
    ++fired;
    self_destroying.reset();  // The repeat never fires again.
  });
  int rearmed = 0;
  Timer rearming(&loop);
  rearming.Start(1, 0, [&] {
    if (++rearmed < 3) rearming.Start(1, 0, [&] { ++rearmed; });
  });
  REQUIRE(RunUntil(
      &loop, [&] { return self_destroying == nullptr && rearmed >= 2; }, 2000));
  RunFor(&loop, 30);
  CHECK(fired == 1);
  CHECK(rearmed == 2);  // The second callback replaced the first and does not re-arm.
  CHECK_FALSE(rearming.active());
  CHECK(OpenHandles(&loop) == 1);  // Only `rearming` is left.
}

TEST_CASE("timer: destroying an armed timer cancels it and frees its handle") {
  Loop loop;
  bool fired = false;
  {
    Timer timer(&loop);
    timer.Start(5, 0, [&] { fired = true; });
  }
  CHECK(OpenHandles(&loop) == 0);        // Closing at once...
  CHECK(RegisteredHandles(&loop) == 1);  // ...and freed only from its close callback.
  RunFor(&loop, 30);
  CHECK_FALSE(fired);
  CHECK(HandlesLeft(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// SignalWatcher

TEST_CASE("signal: the callback runs on the loop thread; the watcher may destroy itself there") {
  Loop loop;
  int calls = 0;
  bool on_loop_thread = false;
  std::unique_ptr<SignalWatcher> watcher;
  watcher = std::make_unique<SignalWatcher>(&loop, SIGUSR2, [&] {
    ++calls;
    on_loop_thread = loop.IsLoopThread();
    watcher.reset();  // The callback's own memory lives until the close callback.
  });
  REQUIRE(::raise(SIGUSR2) == 0);
  REQUIRE(RunUntil(
      &loop, [&] { return watcher == nullptr; }, 2000));
  CHECK(calls == 1);
  CHECK(on_loop_thread);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("signal: after Stop() the callback does not run") {
  Loop loop;
  int calls = 0;
  {
    // Keeps SIGUSR2 handled by libuv while `stopped` is stopped, so raise() cannot kill the test.
    SignalWatcher keeper(&loop, SIGUSR2, [] {});
    SignalWatcher stopped(&loop, SIGUSR2, [&] { ++calls; });
    stopped.Stop();
    REQUIRE(::raise(SIGUSR2) == 0);
    RunFor(&loop, 20);
  }
  CHECK(calls == 0);
  CHECK(HandlesLeft(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// CloseAndDelete

// A handle type with a destructor, to see when (and that) CloseAndDelete deletes it.
struct TrackedTimer {
  uv_timer_t handle;  // First member: a TrackedTimer* is a uv_timer_t* and a uv_handle_t*.
  bool* deleted = nullptr;
  ~TrackedTimer() { *deleted = true; }
};

TEST_CASE("CloseAndDelete: the handle is deleted as its own type, only from the close callback") {
  Loop loop;
  bool deleted = false;
  auto* t = new TrackedTimer;
  t->deleted = &deleted;
  REQUIRE(uv_timer_init(loop.uv(), &t->handle) == 0);
  CloseAndDelete(t);
  CloseAndDelete(t);     // A second call on a closing handle does nothing (no double close).
  CHECK_FALSE(deleted);  // Not before the loop runs the close callback.
  CHECK(OpenHandles(&loop) == 0);
  CHECK(RegisteredHandles(&loop) == 1);
  RunFor(&loop, 5);
  CHECK(deleted);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("CloseAndDelete: pending close callbacks run in ~Loop, so nothing leaks without Run()") {
  bool deleted = false;
  {
    Loop loop;
    auto* t = new TrackedTimer;
    t->deleted = &deleted;
    REQUIRE(uv_timer_init(loop.uv(), &t->handle) == 0);
    CloseAndDelete(t);
    CHECK_FALSE(deleted);
  }
  CHECK(deleted);
}

// ---------------------------------------------------------------------------------------------
// Worker

TEST_CASE("worker: jobs run in FIFO order on the worker's own thread; results come back by Post") {
  Loop loop;
  std::vector<int> results;  // Loop thread only.
  std::atomic<bool> on_caller_thread{false};
  std::atomic<bool> named{true};
  const std::thread::id caller = std::this_thread::get_id();
  {
    Worker worker("spegel-test-worker-long-name");
    for (int i = 0; i < 200; ++i) {
      worker.Push([&, i] {
        if (std::this_thread::get_id() == caller) on_caller_thread = true;
        char name[16] = {};
        pthread_getname_np(pthread_self(), name, sizeof(name));
        if (std::string(name) != "spegel-test-wor") named = false;  // Cut to 15 bytes.
        loop.Post([&, i] { results.push_back(i); });
      });
    }
    REQUIRE(RunUntil(&loop, [&] { return results.size() == 200; }));
  }
  CHECK_FALSE(on_caller_thread.load());
  CHECK(named.load());
  bool in_order = true;
  for (size_t i = 0; i < results.size(); ++i) in_order = in_order && results[i] == int(i);
  CHECK(in_order);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE(
    "worker: Stop() lets the running job finish, drops the queued ones; Push is then ignored") {
  Worker worker("stop-test");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first_started{false};
  std::atomic<bool> first_finished{false};
  std::atomic<int> later_ran{0};
  worker.Push([&] {
    first_started = true;
    released.wait_for(std::chrono::seconds(5));  // Bounded, so a failed check cannot hang.
    first_finished = true;
  });
  worker.Push([&] { ++later_ran; });
  worker.Push([&] { ++later_ran; });
  REQUIRE(SpinUntil([&] { return first_started.load(); }));
  CHECK(worker.pending() == 2);

  std::thread stopper([&] { worker.Stop(); });              // Blocks until the running job returns.
  CHECK(SpinUntil([&] { return worker.pending() == 0; }));  // The queue is dropped at once.
  CHECK_FALSE(first_finished.load());
  release.set_value();
  stopper.join();
  CHECK(first_finished.load());
  CHECK(later_ran.load() == 0);

  worker.Push([&] { ++later_ran; });
  CHECK(worker.pending() == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(later_ran.load() == 0);
  worker.Stop();  // Twice is fine (the destructor calls it a third time).
}

TEST_CASE("worker: the destructor stops and joins the thread with jobs still queued") {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> started{false};
  std::weak_ptr<int> queued_alive;  // Expires once the 10 queued jobs are destroyed.
  std::thread releaser;
  {
    Worker worker("dtor-test");
    worker.Push([&] {
      started = true;
      released.wait_for(std::chrono::seconds(5));
      ++ran;
    });
    {
      auto token = std::make_shared<int>(0);
      queued_alive = token;
      for (int i = 0; i < 10; ++i) worker.Push([&ran, token] { ++ran; });
    }
    CHECK(SpinUntil([&] { return started.load(); }));
    // Lets the running job finish only after ~Worker dropped the queue.
    releaser = std::thread([&] {
      SpinUntil([&] { return queued_alive.expired(); });
      release.set_value();
    });
  }  // ~Worker: drops the 10 queued jobs, waits for the running one.
  releaser.join();
  CHECK(queued_alive.expired());
  CHECK(ran.load() == 1);
}

}  // namespace
}  // namespace spegel
