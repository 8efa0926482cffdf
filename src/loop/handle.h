// The handle kit: every libuv handle has one owner, and the memory of a handle is freed only once
// libuv's close callback for it has run (libuv docs/src/design.rst; style.md rule 6).
//
//   UvHandle<T>   a uv handle (uv_timer_t, uv_poll_t, uv_udp_t, uv_tcp_t, ...) embedded in the
//                 object that owns it, so it costs no allocation of its own. Its owner either
//                 frees itself from the handle's close callback (http's connections and client
//                 exchanges, mdns's sockets do), or outlives the close callback because it waits
//                 for a HandleGroup. The destructor asserts that libuv no longer holds the handle.
//   PollWatcher   a uv_poll_t on a socket plus its callback, for owners that must be free to
//                 destroy it at any moment (even from its own callback): the handle lives on the
//                 heap and frees itself from its close callback. FileWatcher (a uv_fs_event_t,
//                 inotify on Linux), Timer and SignalWatcher (loop.h) work the same way.
//   HandleGroup   counts the handles of one owner that libuv still holds and runs a callback once
//                 the last of them is closed: what a Stop(done) or Shutdown(done) waits for.
//
// Threading: loop thread only (the entry points assert it). Every callback named here runs on the
// loop thread, from a libuv callback, never inline from the call that led to it.
#pragma once

#include <uv.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include "base/status.h"
#include "loop/loop.h"

namespace spegel {

class HandleGroup;
template <typename T>
class UvHandle;

namespace handle_internal {

// A handle's place in its HandleGroup: an intrusive list, so that joining costs no allocation and
// a group destroyed before its handles' close callbacks ran can take them out.
struct GroupLink {
  HandleGroup* group = nullptr;
  GroupLink* prev = nullptr;
  GroupLink* next = nullptr;
};

}  // namespace handle_internal

// HandleGroup: the handles of one owner that libuv still holds, and a callback for when there are
// none left. A handle joins when its UvHandle::Init succeeds (PollWatcher::Open, a Timer built
// with the group) and leaves when its close callback has run.
//
// Ownership: a member of the owner of the handles. Destroying the group takes the handles still
// in it out (their close callbacks, which run later, no longer report anywhere) and drops a done
// callback that has not run: an owner destroyed without waiting for its handles (e.g. without
// Stop) is safe as long as those handles free their own memory (PollWatcher, Timer).
class HandleGroup {
 public:
  explicit HandleGroup(Loop* loop) : loop_(loop) {}
  ~HandleGroup();
  HandleGroup(const HandleGroup&) = delete;
  HandleGroup& operator=(const HandleGroup&) = delete;

  // Handles in the group: initialised, and their close callback has not run yet (open or
  // closing). Includes the handle WhenAllClosed may add.
  size_t count() const { return count_; }

  // `done` runs once, on the loop thread, from the close callback of the last handle in the group
  // (after that handle's own OnClosed); never inline. When the group is empty already, it opens
  // and closes a handle of its own to get there: a closing handle keeps Loop::Run() going, which
  // a Post would not (the Loop's async handle does not count as alive). Handles that join
  // meanwhile delay `done` until they are closed too. A second call replaces a `done` that has
  // not run. `done` may destroy the group.
  // REQUIRES: loop thread.
  void WhenAllClosed(std::function<void()> done);

 private:
  template <typename T>
  friend class UvHandle;

  void Join(handle_internal::GroupLink* link);
  void Leave(handle_internal::GroupLink* link);
  // Runs `done_` if it is set and the group is empty.
  void RunDoneIfEmpty();

  Loop* loop_;
  handle_internal::GroupLink* head_ = nullptr;
  size_t count_ = 0;
  std::function<void()> done_;
};

// UvHandle<T>: one libuv handle embedded in its owner.
//
// The handle moves through: unused (constructed, or Init failed) → open (Init succeeded) →
// closing (Close) → closed (libuv's close callback ran). libuv holds a pointer to the memory from
// Init until the close callback, so the memory that holds the UvHandle may be freed only while it
// is unused or closed; the destructor asserts that. The owner's libuv callbacks (poll, timer, recv
// callbacks given to uv_*_start) find the owner in handle->data.
template <typename T>
class UvHandle {
 public:
  // Runs from libuv's close callback, on the loop thread, never inline from Close(), with the
  // owner given to Init. closed() is true already: this is the first moment the memory holding
  // the UvHandle may be freed, and the place where an owner that ends with its handles frees
  // itself. It must not destroy the handle's group (the group hears of the close after it).
  using OnClosed = void (*)(void* owner);

  UvHandle() = default;
  ~UvHandle() {
    static_assert(std::is_standard_layout_v<UvHandle>, "the close callback casts the handle");
    assert(closed());
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // Registers the handle on `loop`: `init(loop->uv(), get(), args...)`, e.g.
  // Init(loop, this, &group, uv_poll_init_socket, fd). Sets handle->data = owner. On success the
  // handle is in `group` (none when null) until its close callback. Returns libuv's code; on
  // failure nothing is registered and the handle stays unused.
  // REQUIRES: loop thread; the handle is unused.
  template <typename InitFn, typename... Args>
  int Init(Loop* loop, void* owner, HandleGroup* group, InitFn init, Args... args) {
    assert(loop->IsLoopThread());
    assert(state_ == State::kUnused);
    const int rc = init(loop->uv(), &handle_, args...);
    if (rc != 0) return rc;
    handle_.data = owner;
    state_ = State::kOpen;
    if (group != nullptr) group->Join(&link_);
    return 0;
  }

  T* get() { return &handle_; }
  uv_handle_t* base() { return reinterpret_cast<uv_handle_t*>(&handle_); }

  // Initialised and not yet closing: the handle may be started and stopped.
  bool open() const { return state_ == State::kOpen; }
  // libuv holds no pointer to the handle: never initialised, or its close callback has run.
  bool closed() const { return state_ == State::kUnused || state_ == State::kClosed; }

  // Closes the handle: libuv stops it at once (none of its callbacks runs after this call) and
  // later runs the close callback, which calls `on_closed` (when not null) and then lets the
  // group know. A no-op unless open().
  void Close(OnClosed on_closed = nullptr) {
    if (state_ != State::kOpen) return;
    state_ = State::kClosing;
    on_closed_ = on_closed;
    uv_close(base(), &UvHandle::OnUvClose);
  }

 private:
  enum class State : uint8_t { kUnused, kOpen, kClosing, kClosed };

  static void OnUvClose(uv_handle_t* handle) {
    // handle_ is the first member of a standard-layout class: the two addresses are the same.
    auto* self = reinterpret_cast<UvHandle*>(handle);
    self->state_ = State::kClosed;
    HandleGroup* group = self->link_.group;
    if (group != nullptr) group->Leave(&self->link_);
    const OnClosed on_closed = self->on_closed_;
    void* owner = handle->data;
    if (on_closed != nullptr) on_closed(owner);  // May free *self: nothing touches it after.
    // The owner is gone before the group's done runs, which may destroy what holds the group.
    if (group != nullptr) group->RunDoneIfEmpty();
  }

  T handle_{};  // First member (see OnUvClose).
  handle_internal::GroupLink link_;
  OnClosed on_closed_ = nullptr;
  State state_ = State::kUnused;
};

// PollWatcher: a uv_poll_t on one socket, with its callback.
//
// The watcher does not own the socket. Its handle lives on the heap and is freed from its own
// close callback, so the watcher may be closed or destroyed at any time on the loop thread, also
// from inside its callback; no callback runs after that. Movable (the handle stays where it is).
class PollWatcher {
 public:
  // Runs on the loop thread when the socket is ready for one of the events given to Start()
  // (`events` holds those that are). status < 0 is a poll error: libuv has stopped watching, and
  // events() is 0 until the next Start(). The callback may Start, Stop, Close or destroy the
  // watcher.
  using Callback = std::function<void(int status, int events)>;

  PollWatcher() = default;
  ~PollWatcher() { Close(); }
  PollWatcher(PollWatcher&& other) noexcept;
  PollWatcher& operator=(PollWatcher&& other) noexcept;
  PollWatcher(const PollWatcher&) = delete;
  PollWatcher& operator=(const PollWatcher&) = delete;

  // Watches socket `fd` (uv_poll_init_socket), for no event yet. The handle is in `group` (none
  // when null) until its close callback. Unavailable (with libuv's reason) if libuv refuses the
  // fd; the watcher then stays closed. REQUIRES: loop thread; not open().
  Status Open(Loop* loop, int fd, Callback callback, HandleGroup* group = nullptr);

  // Watches for `events` (UV_READABLE, UV_WRITABLE, UV_DISCONNECT), replacing the previous set;
  // 0 stops. A no-op when exactly these are watched. REQUIRES: open().
  Status Start(int events);
  // Watches nothing until the next Start(). REQUIRES: open().
  void Stop();
  // Closes for good: the socket leaves epoll at once (the caller may close(2) it right after), the
  // callback never runs again, and the handle is freed from its close callback. Idempotent;
  // destruction does the same.
  void Close();

  // The watcher no longer keeps Loop::Run() going on its own (uv_unref): for sockets that wait
  // for an event nobody needs, such as an idle pooled connection. REQUIRES: open().
  void Unref();

  bool open() const { return core_ != nullptr; }
  // The events being watched; 0 when stopped or closed.
  int events() const;

 private:
  struct Core;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  Core* core_ = nullptr;  // Null when closed; freed by its close callback.
};

// FileWatcher: a uv_fs_event_t (inotify on Linux) on one path, with its callback: changes to the
// file (writes, attribute changes such as the link count, renames) wake the owner at once.
//
// Same lifetime rules as PollWatcher: the handle lives on the heap and frees itself from its close
// callback; the watcher may be closed or destroyed at any time on the loop thread, also from its
// own callback. It keeps Loop::Run() going only while open.
class FileWatcher {
 public:
  // Runs on the loop thread for each change libuv reports (`status` < 0: an error, and libuv
  // stops watching). Several writes may be reported as one. May Close or destroy the watcher.
  using Callback = std::function<void(int status)>;

  FileWatcher() = default;
  ~FileWatcher() { Close(); }
  FileWatcher(FileWatcher&& other) noexcept;
  FileWatcher& operator=(FileWatcher&& other) noexcept;
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Watches `path`. Unavailable, with libuv's reason, when it cannot (no such file, the inotify
  // watch limit reached): the caller polls instead. REQUIRES: loop thread; not open().
  Status Open(Loop* loop, const std::string& path, Callback callback);
  // Stops for good; the callback never runs again. Idempotent; destruction does the same.
  void Close();
  bool open() const { return core_ != nullptr; }

 private:
  struct Core;
  static void OnEvent(uv_fs_event_t* handle, const char* filename, int events, int status);
  Core* core_ = nullptr;  // Null when closed; freed by its close callback.
};

}  // namespace spegel
