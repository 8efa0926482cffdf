// Worker: one background thread that runs blocking jobs (gRPC calls, file reads) in FIFO order,
// so the loop thread never blocks. Jobs hand their results back with Loop::Post().
//
// Threading: Push() and Stop() are safe from any thread. Jobs run on the worker thread, one at a
// time. Stop() lets the running job finish, drops the queued ones, and joins the thread; after
// it, Push() is ignored.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace spegel {

class Worker {
 public:
  explicit Worker(std::string name);
  ~Worker();  // Calls Stop().
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Push(std::function<void()> job);
  void Stop();
  // Number of jobs queued and not yet started.
  size_t pending() const;

 private:
  void Run();

  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // Guarded by mu_.
  bool stopping_ = false;                   // Guarded by mu_.
  std::thread thread_;
};

}  // namespace spegel
