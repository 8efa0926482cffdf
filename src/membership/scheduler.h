// Scheduler: time and one-shot timers behind an interface, so the membership and the routing core
// (src/cluster) run on the libuv loop in production (LoopScheduler) and on a fake clock in unit
// tests and the routing simulation (ManualScheduler).
//
// Threading: a Scheduler and every task it returns belong to one thread (the loop thread in
// production, the test thread for ManualScheduler). Nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

namespace spegel {
class Loop;
class Timer;
}  // namespace spegel

namespace spegel::cluster {

// A pending call made by Scheduler::After. Destroying it cancels the call (if it has not run
// yet); it may be destroyed from inside its own callback.
class ScheduledTask {
 public:
  virtual ~ScheduledTask() = default;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Milliseconds on a monotonic clock (arbitrary origin).
  virtual uint64_t NowMs() = 0;
  // `fn` runs once, on the scheduler's thread, no earlier than `delay_ms` from now, unless the
  // returned task was destroyed first. Never inline, even with delay_ms == 0.
  virtual std::unique_ptr<ScheduledTask> After(uint64_t delay_ms, std::function<void()> fn) = 0;
};

// Scheduler on a Loop's timers (one libuv timer per pending task, freed from its close callback).
// Owned by whoever owns the routing objects; REQUIRES: outlives every task it returned, and is
// used on the loop thread only.
class LoopScheduler : public Scheduler {
 public:
  explicit LoopScheduler(Loop* loop) : loop_(loop) {}
  uint64_t NowMs() override;
  std::unique_ptr<ScheduledTask> After(uint64_t delay_ms, std::function<void()> fn) override;

 private:
  Loop* loop_;
};

// A discrete-event fake clock. Time moves only when the owner runs events: RunUntil(t) runs every
// due callback in (time, creation) order and then sets the clock to t. Deterministic: the same
// calls produce the same order. Cancelled tasks cost a queue slot until their time comes.
class ManualScheduler : public Scheduler {
 public:
  ManualScheduler() = default;
  ManualScheduler(const ManualScheduler&) = delete;
  ManualScheduler& operator=(const ManualScheduler&) = delete;

  uint64_t NowMs() override { return now_ms_; }
  std::unique_ptr<ScheduledTask> After(uint64_t delay_ms, std::function<void()> fn) override;

  // Runs the earliest pending callback (advancing the clock to its time). False when none is left.
  bool RunOne();
  // Runs every callback due at or before `t_ms` (including ones they schedule), then sets the
  // clock to max(now, t_ms). Returns how many callbacks ran.
  uint64_t RunUntil(uint64_t t_ms);
  uint64_t RunFor(uint64_t duration_ms) { return RunUntil(now_ms_ + duration_ms); }
  // Runs callbacks until none is due within `quiet_ms` of the clock (periodic timers further out
  // do not count), or `max_events` ran. Returns how many ran.
  uint64_t RunUntilQuiet(uint64_t quiet_ms, uint64_t max_events);
  // Pending callbacks that were not cancelled.
  size_t pending() const;

 private:
  struct Event {
    std::function<void()> fn;
    bool cancelled = false;
  };
  class Task;
  struct Entry {
    uint64_t at_ms;
    uint64_t seq;
    std::shared_ptr<Event> event;
    bool operator>(const Entry& o) const {
      return at_ms != o.at_ms ? at_ms > o.at_ms : seq > o.seq;
    }
  };
  void DropCancelledHead();

  uint64_t now_ms_ = 0;
  uint64_t next_seq_ = 0;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_;
};

}  // namespace spegel::cluster
