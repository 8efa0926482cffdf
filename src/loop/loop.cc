#include "loop/loop.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "loop/handle.h"

namespace spegel {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0) {
    fprintf(stderr, "uv_loop_init failed\n");
    abort();
  }
  async_ = new uv_async_t;
  uv_async_init(&loop_, async_, &Loop::OnAsync);
  async_->data = this;
  // The async handle must not keep Run() alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  loop_thread_.store(std::this_thread::get_id());
}

Loop::~Loop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    posted_.clear();
  }
  CloseAndDelete(async_);
  // Let every pending close callback run so no handle memory leaks.
  uv_run(&loop_, UV_RUN_DEFAULT);
  const int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    fprintf(stderr, "spegel: uv_loop_close: %s (a handle was not closed)\n", uv_strerror(rc));
  }
}

void Loop::Run() {
  loop_thread_.store(std::this_thread::get_id());
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::Stop() { uv_stop(&loop_); }

void Loop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    posted_.push_back(std::move(fn));
  }
  uv_async_send(async_);
}

bool Loop::IsLoopThread() const { return loop_thread_.load() == std::this_thread::get_id(); }

void Loop::OnAsync(uv_async_t* handle) { static_cast<Loop*>(handle->data)->DrainPosted(); }

void Loop::DrainPosted() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

// The heap half of a Timer: the handle and the callback, freed together from the close callback.
struct Timer::Core {
  UvHandle<uv_timer_t> handle;
  std::function<void()> callback;
};

Timer::Timer(Loop* loop, HandleGroup* group) : loop_(loop), core_(new Core) {
  // uv_timer_init cannot fail.
  core_->handle.Init(loop, core_, group, uv_timer_init);
}

Timer::~Timer() {
  core_->handle.Close([](void* owner) { delete static_cast<Core*>(owner); });
}

void Timer::Start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> callback) {
  assert(loop_->IsLoopThread());
  core_->callback = std::move(callback);
  uv_timer_start(core_->handle.get(), &Timer::OnTimer, timeout_ms, repeat_ms);
}

void Timer::Stop() {
  assert(loop_->IsLoopThread());
  uv_timer_stop(core_->handle.get());
}

void Timer::Unref() {
  assert(loop_->IsLoopThread());
  uv_unref(reinterpret_cast<uv_handle_t*>(core_->handle.get()));
}

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(core_->handle.get())) != 0;
}

void Timer::OnTimer(uv_timer_t* handle) {
  auto* core = static_cast<Core*>(handle->data);
  // Copy: the callback may re-arm this Timer with another callback, which replaces the stored
  // one while it runs. (Destroying the Timer is fine: the core outlives the call.)
  auto cb = core->callback;
  cb();
}

}  // namespace spegel

namespace spegel {

// The heap half of a SignalWatcher: the handle and the callback, freed together from the close
// callback.
struct SignalWatcher::Core {
  UvHandle<uv_signal_t> handle;
  std::function<void()> callback;
};

SignalWatcher::SignalWatcher(Loop* loop, int signum, std::function<void()> callback)
    : loop_(loop), core_(new Core) {
  assert(loop->IsLoopThread());
  core_->callback = std::move(callback);
  if (core_->handle.Init(loop, core_, nullptr, uv_signal_init) == 0) {
    uv_signal_start(core_->handle.get(), &SignalWatcher::OnSignal, signum);
  }
}

SignalWatcher::~SignalWatcher() {
  if (core_->handle.open()) {
    core_->handle.Close([](void* owner) { delete static_cast<Core*>(owner); });
  } else {
    delete core_;  // uv_signal_init failed: libuv never held it.
  }
}

void SignalWatcher::Stop() {
  assert(loop_->IsLoopThread());
  if (core_->handle.open()) uv_signal_stop(core_->handle.get());
}

void SignalWatcher::OnSignal(uv_signal_t* handle, int /*signum*/) {
  // The core outlives a watcher destroyed by its own callback.
  static_cast<Core*>(handle->data)->callback();
}

}  // namespace spegel
