// Loop: the one libuv loop thread that owns all of Spegel's state.
//
// Threading: every method except Post() and IsLoopThread() must be called on the loop thread
// (the thread that calls Run()). Post() is the only way another thread hands work to the loop:
// it is safe from any thread, and the posted function runs on the loop thread, in FIFO order,
// during a later loop iteration (never inline). Functions posted after Close() began are dropped.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace spegel {

class Loop {
 public:
  Loop();
  // REQUIRES: Run() has returned (or was never called) and every handle created on this loop
  // has been closed.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* uv() { return &loop_; }

  // Runs until Stop() or until no active handles remain. Binds the loop thread.
  void Run();
  // Makes Run() return after the current iteration. Loop thread only.
  void Stop();

  // Thread-safe. Runs `fn` on the loop thread in a later iteration.
  void Post(std::function<void()> fn);
  bool IsLoopThread() const;

  // Milliseconds of the loop's cached clock (uv_now). Loop thread only.
  uint64_t NowMs() const { return uv_now(const_cast<uv_loop_t*>(&loop_)); }

 private:
  static void OnAsync(uv_async_t* handle);
  void DrainPosted();

  uv_loop_t loop_;
  uv_async_t* async_;  // Owned; freed in its close callback inside ~Loop.
  std::mutex mu_;
  std::deque<std::function<void()>> posted_;  // Guarded by mu_.
  bool closing_ = false;                      // Guarded by mu_.
  std::atomic<std::thread::id> loop_thread_{};
};

class HandleGroup;

// A one-shot or repeating timer. Owns its uv_timer_t, which lives on the heap and is freed from
// its close callback (the PollWatcher pattern of loop/handle.h), so a Timer may be destroyed at
// any time on the loop thread, even from its own callback. With a `group`, the handle counts in
// it from construction until its close callback. The callback runs on the loop thread; after
// Stop() or destruction it never runs again. Loop thread only.
class Timer {
 public:
  explicit Timer(Loop* loop, HandleGroup* group = nullptr);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer: first call after `timeout_ms`, then every `repeat_ms` if non-zero.
  void Start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> callback);
  void Stop();
  bool active() const;
  // The timer no longer keeps Loop::Run() going on its own (uv_unref): for housekeeping.
  void Unref();

 private:
  struct Core;
  static void OnTimer(uv_timer_t* handle);
  Loop* loop_;
  Core* core_;  // Freed by its close callback, after the Timer is gone.
};

// Closes any libuv handle and frees it with `delete` (as T*) from the close callback. For the
// Loop's own async handle, which comes before the handle kit; everything else owns its handles
// through loop/handle.h. REQUIRES: `handle` was allocated with `new T` and initialised on a loop.
template <typename T>
void CloseAndDelete(T* handle) {
  auto* h = reinterpret_cast<uv_handle_t*>(handle);
  if (uv_is_closing(h)) return;
  uv_close(h, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
}

}  // namespace spegel

namespace spegel {

// Watches one signal on the loop (uv_signal_t). The callback runs on the loop thread each time
// the signal arrives, until Stop() or destruction. Owns its handle, which lives on the heap and
// is freed from its close callback (like Timer's), so the watcher may be destroyed from its own
// callback. Loop thread only (asserted).
class SignalWatcher {
 public:
  SignalWatcher(Loop* loop, int signum, std::function<void()> callback);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  void Stop();

 private:
  struct Core;
  static void OnSignal(uv_signal_t* handle, int signum);
  Loop* loop_;
  Core* core_;  // Freed by its close callback, after the watcher is gone.
};

}  // namespace spegel
