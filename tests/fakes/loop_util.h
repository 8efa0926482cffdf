// Test helpers for driving a Loop from the test thread.
#pragma once

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

}  // namespace spegel::testing
