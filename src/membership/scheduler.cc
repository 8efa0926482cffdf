#include "membership/scheduler.h"

#include <utility>

#include "loop/loop.h"

namespace spegel::cluster {

namespace {

class LoopTask : public ScheduledTask {
 public:
  explicit LoopTask(Loop* loop) : timer_(loop) {}
  Timer& timer() { return timer_; }

 private:
  Timer timer_;  // Closing the timer (destructor) cancels the call; Timer copies its callback
                 // before running it, so destroying this task from the callback is safe.
};

}  // namespace

uint64_t LoopScheduler::NowMs() { return loop_->NowMs(); }

std::unique_ptr<ScheduledTask> LoopScheduler::After(uint64_t delay_ms, std::function<void()> fn) {
  auto task = std::make_unique<LoopTask>(loop_);
  task->timer().Start(delay_ms, 0, std::move(fn));
  return task;
}

class ManualScheduler::Task : public ScheduledTask {
 public:
  explicit Task(std::shared_ptr<Event> event) : event_(std::move(event)) {}
  ~Task() override {
    event_->cancelled = true;
    event_->fn = nullptr;  // Release captures now, not when the slot's time comes.
  }

 private:
  std::shared_ptr<Event> event_;
};

std::unique_ptr<ScheduledTask> ManualScheduler::After(uint64_t delay_ms, std::function<void()> fn) {
  auto event = std::make_shared<Event>();
  event->fn = std::move(fn);
  queue_.push(Entry{now_ms_ + delay_ms, next_seq_++, event});
  return std::make_unique<Task>(std::move(event));
}

void ManualScheduler::DropCancelledHead() {
  while (!queue_.empty() && queue_.top().event->cancelled) queue_.pop();
}

bool ManualScheduler::RunOne() {
  DropCancelledHead();
  if (queue_.empty()) return false;
  Entry e = queue_.top();
  queue_.pop();
  if (e.at_ms > now_ms_) now_ms_ = e.at_ms;
  // Move out: the callback may destroy its own task, which clears event->fn.
  std::function<void()> fn = std::move(e.event->fn);
  e.event->cancelled = true;
  fn();
  return true;
}

uint64_t ManualScheduler::RunUntil(uint64_t t_ms) {
  uint64_t ran = 0;
  for (;;) {
    DropCancelledHead();
    if (queue_.empty() || queue_.top().at_ms > t_ms) break;
    RunOne();
    ++ran;
  }
  if (t_ms > now_ms_) now_ms_ = t_ms;
  return ran;
}

uint64_t ManualScheduler::RunUntilQuiet(uint64_t quiet_ms, uint64_t max_events) {
  uint64_t ran = 0;
  while (ran < max_events) {
    DropCancelledHead();
    if (queue_.empty() || queue_.top().at_ms > now_ms_ + quiet_ms) break;
    RunOne();
    ++ran;
  }
  return ran;
}

size_t ManualScheduler::pending() const {
  // Not cheap (copies the heap); tests only.
  auto copy = queue_;
  size_t n = 0;
  while (!copy.empty()) {
    if (!copy.top().event->cancelled) ++n;
    copy.pop();
  }
  return n;
}

}  // namespace spegel::cluster
