// The handle kit: the contracts in loop/handle.h. A UvHandle is freed only after its close
// callback (the owner hears of it from there, never inline); a HandleGroup's done runs once its
// last handle is closed, never inline, and a group destroyed early leaves its handles safe; a
// PollWatcher reports readiness on the loop thread, never after Stop, Close or destruction, and
// may be destroyed from its own callback. ASan proves the memory side; every test ends with no
// handle left on its loop.
#include "loop/handle.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fakes/loop_util.h"

namespace spegel {
namespace {

using spegel::testing::OpenHandles;
using spegel::testing::RegisteredHandles;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;

size_t HandlesLeft(Loop* loop) {
  uv_run(loop->uv(), UV_RUN_NOWAIT);
  return RegisteredHandles(loop);
}

// A connected pair of local stream sockets; the test writes to one end to make the other
// readable.
class SocketPair {
 public:
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_) == 0); }
  ~SocketPair() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  int watched() const { return fds_[0]; }
  void Send() { REQUIRE(::write(fds_[1], "x", 1) == 1); }
  void Drain() {
    char buf[64];
    while (::read(fds_[0], buf, sizeof(buf)) > 0) {
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

// An object that ends with its handle, as http's connections do: it frees itself from the
// handle's close callback.
struct SelfFreeing {
  UvHandle<uv_timer_t> timer;
  std::vector<std::string>* events = nullptr;

  static void OnClosed(void* owner) {
    auto* self = static_cast<SelfFreeing*>(owner);
    self->events->push_back("closed");
    delete self;
  }
};

// ---------------------------------------------------------------------------------------------
// UvHandle

TEST_CASE("UvHandle: unused, open, closing, closed; the owner hears of the close from libuv") {
  Loop loop;
  std::vector<std::string> events;
  auto* owner = new SelfFreeing;
  owner->events = &events;
  CHECK(owner->timer.closed());
  CHECK_FALSE(owner->timer.open());
  REQUIRE(owner->timer.Init(&loop, owner, nullptr, uv_timer_init) == 0);
  CHECK(owner->timer.open());
  CHECK_FALSE(owner->timer.closed());
  CHECK(owner->timer.get()->data == owner);
  CHECK(RegisteredHandles(&loop) == 1);

  owner->timer.Close(&SelfFreeing::OnClosed);
  CHECK_FALSE(owner->timer.open());
  CHECK_FALSE(owner->timer.closed());          // libuv still holds it.
  owner->timer.Close(&SelfFreeing::OnClosed);  // Not open: a no-op, no second close.
  CHECK(events.empty());                       // Never inline.
  RunFor(&loop, 5);
  CHECK(events == std::vector<std::string>{"closed"});  // Once; ASan proves it was freed.
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("UvHandle: a failed Init registers nothing and joins no group") {
  Loop loop;
  HandleGroup group(&loop);
  UvHandle<uv_poll_t> poll;
  int closed_fd = -1;
  {
    SocketPair pair;
    closed_fd = pair.watched();
  }  // Closed: libuv refuses the fd.
  CHECK(poll.Init(&loop, nullptr, &group, uv_poll_init_socket, closed_fd) != 0);
  CHECK(poll.closed());
  CHECK_FALSE(poll.open());
  CHECK(group.count() == 0);
  poll.Close();  // Not open: a no-op.
  CHECK(RegisteredHandles(&loop) == 0);
}

TEST_CASE("UvHandle: Close stops the handle at once; its callbacks never run afterwards") {
  Loop loop;
  struct Owner {
    UvHandle<uv_timer_t> timer;
    int fired = 0;
  } owner;
  REQUIRE(owner.timer.Init(&loop, &owner, nullptr, uv_timer_init) == 0);
  uv_timer_start(
      owner.timer.get(), [](uv_timer_t* t) { ++static_cast<Owner*>(t->data)->fired; }, 1, 1);
  RunFor(&loop, 10);
  const int fired = owner.fired;
  CHECK(fired > 0);
  owner.timer.Close();
  RunFor(&loop, 10);
  CHECK(owner.fired == fired);
  CHECK(owner.timer.closed());  // The close callback ran: `owner` may go now.
}

// ---------------------------------------------------------------------------------------------
// HandleGroup

TEST_CASE("HandleGroup: done runs from the last close callback, after that handle's owner") {
  Loop loop;
  HandleGroup group(&loop);
  std::vector<std::string> events;
  auto* a = new SelfFreeing;
  auto* b = new SelfFreeing;
  a->events = b->events = &events;
  REQUIRE(a->timer.Init(&loop, a, &group, uv_timer_init) == 0);
  REQUIRE(b->timer.Init(&loop, b, &group, uv_timer_init) == 0);
  CHECK(group.count() == 2);

  group.WhenAllClosed([&] { events.push_back("done"); });
  a->timer.Close(&SelfFreeing::OnClosed);
  RunFor(&loop, 5);
  CHECK(events == std::vector<std::string>{"closed"});  // One handle is still open.
  CHECK(group.count() == 1);
  b->timer.Close(&SelfFreeing::OnClosed);
  CHECK(group.count() == 1);  // Closing still counts: libuv holds the memory.
  RunFor(&loop, 5);
  CHECK(events == std::vector<std::string>{"closed", "closed", "done"});
  CHECK(group.count() == 0);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("HandleGroup: with nothing open, done runs in a later iteration, never inline") {
  Loop loop;
  HandleGroup group(&loop);
  int done = 0;
  group.WhenAllClosed([&] { ++done; });
  CHECK(done == 0);
  REQUIRE(RunUntil(
      &loop, [&] { return done > 0; }, 2000));
  RunFor(&loop, 10);
  CHECK(done == 1);
}

TEST_CASE("HandleGroup: a handle that joins before done ran delays it until it is closed") {
  Loop loop;
  HandleGroup group(&loop);
  int done = 0;
  group.WhenAllClosed([&] { ++done; });
  auto timer = std::make_unique<Timer>(&loop, &group);  // Joins before done could run.
  RunFor(&loop, 10);
  CHECK(done == 0);
  CHECK(group.count() == 1);
  timer.reset();
  CHECK(group.count() == 1);  // Closing.
  RunFor(&loop, 5);
  CHECK(done == 1);
  CHECK(group.count() == 0);
}

TEST_CASE("HandleGroup: done may destroy the group (and its owner)") {
  Loop loop;
  auto group = std::make_unique<HandleGroup>(&loop);
  auto timer = std::make_unique<Timer>(&loop, group.get());
  bool done = false;
  group->WhenAllClosed([&] {
    group.reset();
    done = true;
  });
  timer.reset();
  REQUIRE(RunUntil(
      &loop, [&] { return done; }, 2000));
  CHECK(group == nullptr);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("HandleGroup: destroyed before its handles' close callbacks; done never runs") {
  Loop loop;
  bool done = false;
  auto watcher = std::make_unique<PollWatcher>();
  SocketPair pair;
  {
    HandleGroup group(&loop);
    auto timer = std::make_unique<Timer>(&loop, &group);
    REQUIRE(watcher
                ->Open(
                    &loop, pair.watched(), [](int, int) {}, &group)
                .ok());
    CHECK(group.count() == 2);
    group.WhenAllClosed([&] { done = true; });
    timer.reset();  // Closing while the group goes away: its close callback must not touch it.
  }
  watcher.reset();  // Left the destroyed group: closing it touches nothing either.
  RunFor(&loop, 10);
  CHECK_FALSE(done);
  CHECK(HandlesLeft(&loop) == 0);  // ASan proves no destroyed group was touched.
}

TEST_CASE("HandleGroup: a pending done is dropped when the group is destroyed first") {
  Loop loop;
  bool done = false;
  {
    HandleGroup group(&loop);
    group.WhenAllClosed([&] { done = true; });
  }
  RunFor(&loop, 10);
  CHECK_FALSE(done);
}

// ---------------------------------------------------------------------------------------------
// PollWatcher

TEST_CASE("PollWatcher: reports readiness on the loop thread until Stop") {
  Loop loop;
  SocketPair pair;
  int calls = 0;
  bool on_loop_thread = true;
  PollWatcher watcher;
  CHECK_FALSE(watcher.open());
  REQUIRE(watcher
              .Open(&loop, pair.watched(),
                    [&](int status, int events) {
                      CHECK(status == 0);
                      CHECK((events & UV_READABLE) != 0);
                      on_loop_thread = on_loop_thread && loop.IsLoopThread();
                      ++calls;
                      pair.Drain();
                    })
              .ok());
  CHECK(watcher.open());
  CHECK(watcher.events() == 0);
  pair.Send();
  RunFor(&loop, 10);
  CHECK(calls == 0);  // Not watching any event yet.

  REQUIRE(watcher.Start(UV_READABLE).ok());
  CHECK(watcher.events() == UV_READABLE);
  REQUIRE(watcher.Start(UV_READABLE).ok());  // The same events: a no-op.
  REQUIRE(RunUntil(
      &loop, [&] { return calls == 1; }, 2000));
  CHECK(on_loop_thread);

  watcher.Stop();
  CHECK(watcher.events() == 0);
  pair.Send();
  RunFor(&loop, 10);
  CHECK(calls == 1);
  REQUIRE(watcher.Start(UV_READABLE).ok());
  REQUIRE(RunUntil(
      &loop, [&] { return calls == 2; }, 2000));
  watcher.Close();
  CHECK_FALSE(watcher.open());
  CHECK(watcher.events() == 0);
  pair.Send();
  RunFor(&loop, 10);
  CHECK(calls == 2);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("PollWatcher: destroyed from inside its own callback, it never runs again") {
  Loop loop;
  SocketPair pair;
  int calls = 0;
  auto watcher = std::make_unique<PollWatcher>();
  REQUIRE(watcher
              ->Open(&loop, pair.watched(),
                     [&](int, int) {
                       ++calls;
                       watcher.reset();  // The callback's own memory lives until the close.
                     })
              .ok());
  REQUIRE(watcher->Start(UV_READABLE).ok());
  pair.Send();  // Left unread: the socket stays readable.
  REQUIRE(RunUntil(
      &loop, [&] { return watcher == nullptr; }, 2000));
  RunFor(&loop, 10);
  CHECK(calls == 1);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("PollWatcher: a moved watcher keeps watching; the moved-from one is closed") {
  Loop loop;
  SocketPair pair;
  int calls = 0;
  PollWatcher first;
  REQUIRE(first
              .Open(&loop, pair.watched(),
                    [&](int, int) {
                      ++calls;
                      pair.Drain();
                    })
              .ok());
  REQUIRE(first.Start(UV_READABLE).ok());
  PollWatcher second = std::move(first);
  CHECK_FALSE(first.open());  // NOLINT(bugprone-use-after-move): moved-from state is specified.
  CHECK(second.open());
  CHECK(second.events() == UV_READABLE);
  pair.Send();
  REQUIRE(RunUntil(
      &loop, [&] { return calls == 1; }, 2000));
  second = PollWatcher();  // Closes what it held.
  CHECK(OpenHandles(&loop) == 0);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("PollWatcher: an fd libuv refuses is an error, and the watcher stays closed") {
  Loop loop;
  int closed_fd = -1;
  {
    SocketPair pair;
    closed_fd = pair.watched();
  }
  PollWatcher watcher;
  Status status = watcher.Open(&loop, closed_fd, [](int, int) {});
  CHECK(status.code() == Code::kUnavailable);
  CHECK_FALSE(watcher.open());
  CHECK(RegisteredHandles(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// Timer in a group

TEST_CASE("Timer: with a group, it counts from construction until its close callback") {
  Loop loop;
  HandleGroup group(&loop);
  bool done = false;
  {
    Timer timer(&loop, &group);
    CHECK(group.count() == 1);
    timer.Start(1, 0, [] {});
    group.WhenAllClosed([&] { done = true; });
  }
  CHECK(group.count() == 1);
  CHECK_FALSE(done);
  REQUIRE(RunUntil(
      &loop, [&] { return done; }, 2000));
  CHECK(group.count() == 0);
  CHECK(HandlesLeft(&loop) == 0);
}

TEST_CASE("FileWatcher: writes wake it on the loop thread; a missing path is an error") {
  Loop loop;
  const std::string path = "/tmp/spegel-filewatcher-" + std::to_string(::getpid());
  FILE* file = std::fopen(path.c_str(), "w");
  REQUIRE(file != nullptr);
  int calls = 0;
  bool on_loop_thread = true;
  FileWatcher watcher;
  REQUIRE(watcher
              .Open(&loop, path,
                    [&](int status) {
                      CHECK(status == 0);
                      on_loop_thread = on_loop_thread && loop.IsLoopThread();
                      ++calls;
                    })
              .ok());
  CHECK(watcher.open());
  RunFor(&loop, 10);
  CHECK(calls == 0);
  std::fputs("grown", file);
  std::fflush(file);
  REQUIRE(RunUntil(
      &loop, [&] { return calls >= 1; }, 2000));
  CHECK(on_loop_thread);
  watcher.Close();
  CHECK_FALSE(watcher.open());
  const int seen = calls;
  std::fputs("more", file);
  std::fflush(file);
  RunFor(&loop, 20);
  CHECK(calls == seen);  // Never after Close.
  std::fclose(file);

  // Destroyed from its own callback.
  auto self_destroying = std::make_unique<FileWatcher>();
  REQUIRE(self_destroying->Open(&loop, path, [&](int) { self_destroying.reset(); }).ok());
  file = std::fopen(path.c_str(), "a");
  REQUIRE(file != nullptr);
  std::fputs("x", file);
  std::fclose(file);
  REQUIRE(RunUntil(
      &loop, [&] { return self_destroying == nullptr; }, 2000));
  std::remove(path.c_str());

  FileWatcher missing;
  const Status st = missing.Open(&loop, path + ".absent", [](int) {});
  CHECK(st.code() == Code::kUnavailable);
  CHECK_FALSE(missing.open());
  CHECK(HandlesLeft(&loop) == 0);
}

}  // namespace
}  // namespace spegel
