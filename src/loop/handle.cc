#include "loop/handle.h"

#include <memory>
#include <string>
#include <utility>

namespace spegel {

// ---------------------------------------------------------------------------------------------
// HandleGroup

HandleGroup::~HandleGroup() {
  for (handle_internal::GroupLink* link = head_; link != nullptr;) {
    handle_internal::GroupLink* next = link->next;
    *link = handle_internal::GroupLink{};
    link = next;
  }
}

namespace {

// The handle an empty group closes so that its done runs from a close callback.
struct CloseKick {
  UvHandle<uv_idle_t> handle;
};

}  // namespace

void HandleGroup::WhenAllClosed(std::function<void()> done) {
  assert(loop_->IsLoopThread());
  done_ = std::move(done);
  if (count_ != 0) return;
  auto* kick = new CloseKick;
  kick->handle.Init(loop_, kick, this, uv_idle_init);  // Cannot fail.
  kick->handle.Close([](void* owner) { delete static_cast<CloseKick*>(owner); });
}

void HandleGroup::Join(handle_internal::GroupLink* link) {
  link->group = this;
  link->prev = nullptr;
  link->next = head_;
  if (head_ != nullptr) head_->prev = link;
  head_ = link;
  ++count_;
}

void HandleGroup::Leave(handle_internal::GroupLink* link) {
  assert(link->group == this && count_ > 0);
  if (link->prev != nullptr) link->prev->next = link->next;
  if (link->next != nullptr) link->next->prev = link->prev;
  if (head_ == link) head_ = link->next;
  *link = handle_internal::GroupLink{};
  --count_;
}

void HandleGroup::RunDoneIfEmpty() {
  if (count_ != 0 || !done_) return;
  std::function<void()> done = std::move(done_);
  done_ = nullptr;
  done();  // May destroy this group: nothing after.
}

// ---------------------------------------------------------------------------------------------
// PollWatcher

// The heap half of a PollWatcher: the handle and the callback, freed together from the close
// callback, so a callback that closes or destroys its watcher still runs on live memory.
struct PollWatcher::Core {
  Loop* loop = nullptr;
  UvHandle<uv_poll_t> handle;
  Callback callback;
  int events = 0;
};

PollWatcher::PollWatcher(PollWatcher&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)) {}

PollWatcher& PollWatcher::operator=(PollWatcher&& other) noexcept {
  if (this != &other) {
    Close();
    core_ = std::exchange(other.core_, nullptr);
  }
  return *this;
}

Status PollWatcher::Open(Loop* loop, int fd, Callback callback, HandleGroup* group) {
  assert(loop->IsLoopThread());
  assert(core_ == nullptr);
  auto core = std::make_unique<Core>();
  core->loop = loop;
  core->callback = std::move(callback);
  if (const int rc = core->handle.Init(loop, core.get(), group, uv_poll_init_socket, fd); rc != 0) {
    return Status::Unavailable(std::string("cannot watch socket: ") + uv_strerror(rc));
  }
  core_ = core.release();
  return Status::Ok();
}

Status PollWatcher::Start(int events) {
  assert(core_ != nullptr && core_->loop->IsLoopThread());
  if (events == core_->events) return Status::Ok();
  if (events == 0) {
    Stop();
    return Status::Ok();
  }
  if (const int rc = uv_poll_start(core_->handle.get(), events, &PollWatcher::OnPoll); rc != 0) {
    return Status::Unavailable(std::string("cannot poll socket: ") + uv_strerror(rc));
  }
  core_->events = events;
  return Status::Ok();
}

void PollWatcher::Stop() {
  assert(core_ != nullptr && core_->loop->IsLoopThread());
  uv_poll_stop(core_->handle.get());
  core_->events = 0;
}

void PollWatcher::Close() {
  if (core_ == nullptr) return;
  Core* core = std::exchange(core_, nullptr);
  core->events = 0;
  core->handle.Close([](void* owner) { delete static_cast<Core*>(owner); });
}

void PollWatcher::Unref() {
  assert(core_ != nullptr && core_->loop->IsLoopThread());
  uv_unref(reinterpret_cast<uv_handle_t*>(core_->handle.get()));
}

int PollWatcher::events() const { return core_ != nullptr ? core_->events : 0; }

void PollWatcher::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* core = static_cast<Core*>(handle->data);
  if (status < 0) core->events = 0;  // libuv stopped the poll.
  core->callback(status, events);    // May close or destroy the watcher; `core` stays valid.
}

// ---------------------------------------------------------------------------------------------
// FileWatcher

struct FileWatcher::Core {
  Loop* loop = nullptr;
  UvHandle<uv_fs_event_t> handle;
  Callback callback;
};

FileWatcher::FileWatcher(FileWatcher&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)) {}

FileWatcher& FileWatcher::operator=(FileWatcher&& other) noexcept {
  if (this != &other) {
    Close();
    core_ = std::exchange(other.core_, nullptr);
  }
  return *this;
}

Status FileWatcher::Open(Loop* loop, const std::string& path, Callback callback) {
  assert(loop->IsLoopThread());
  assert(core_ == nullptr);
  auto core = std::make_unique<Core>();
  core->loop = loop;
  core->callback = std::move(callback);
  if (const int rc = core->handle.Init(loop, core.get(), nullptr, uv_fs_event_init); rc != 0) {
    return Status::Unavailable(std::string("cannot watch file: ") + uv_strerror(rc));
  }
  if (const int rc = uv_fs_event_start(core->handle.get(), &FileWatcher::OnEvent, path.c_str(), 0);
      rc != 0) {
    Core* failed = core.release();
    failed->handle.Close([](void* owner) { delete static_cast<Core*>(owner); });
    return Status::Unavailable("cannot watch " + path + ": " + uv_strerror(rc));
  }
  core_ = core.release();
  return Status::Ok();
}

void FileWatcher::Close() {
  if (core_ == nullptr) return;
  Core* core = std::exchange(core_, nullptr);
  core->handle.Close([](void* owner) { delete static_cast<Core*>(owner); });
}

void FileWatcher::OnEvent(uv_fs_event_t* handle, const char* /*filename*/, int /*events*/,
                          int status) {
  auto* core = static_cast<Core*>(handle->data);
  core->callback(status);  // May close or destroy the watcher; `core` stays valid.
}

}  // namespace spegel
