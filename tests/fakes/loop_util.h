// Test helpers for driving a Loop from the test thread, and for proving that a test left no
// handle behind (libuv's MAKE_VALGRIND_HAPPY in spirit: see style.md rule 13).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "loop/loop.h"

namespace spegel::testing {

// Runs `loop` until `done()` holds (checked every 2 ms) or `timeout_ms` passes. Returns done().
inline bool RunUntil(Loop* loop, const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
  if (done()) return true;
  Timer poll(loop);
  Timer deadline(loop);
  poll.Start(2, 2, [&] {
    if (done()) loop->Stop();
  });
  deadline.Start(timeout_ms, 0, [&] { loop->Stop(); });
  loop->Run();
  return done();
}

// Runs the loop for `ms` whatever happens (to prove that nothing more happens).
inline void RunFor(Loop* loop, uint64_t ms) {
  RunUntil(
      loop, [] { return false; }, ms);
}

// Handles still open (not closing) on `loop`, not counting the Loop's own async handle.
inline size_t OpenHandles(Loop* loop) {
  size_t count = 0;
  uv_walk(
      loop->uv(),
      [](uv_handle_t* h, void* arg) {
        if (h->type != UV_ASYNC && !uv_is_closing(h)) ++*static_cast<size_t*>(arg);
      },
      &count);
  return count;
}

// Handles still registered on `loop`, open or closing, not counting the Loop's own async handle:
// zero only once every close callback has run (stricter than OpenHandles).
inline size_t RegisteredHandles(Loop* loop) {
  size_t count = 0;
  uv_walk(
      loop->uv(),
      [](uv_handle_t* h, void* arg) {
        if (h->type != UV_ASYNC) ++*static_cast<size_t*>(arg);
      },
      &count);
  return count;
}

}  // namespace spegel::testing
