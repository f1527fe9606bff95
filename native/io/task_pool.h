// TaskPool: a fixed set of threads that run the iterations of one parallel
// loop at a time. The pwrite backend of IoEngine uses it to drive different
// drive files at once (their writes and their fdatasyncs), since each of
// those calls blocks its thread for the whole device round trip.
//
// Concurrency contract: Start, Run and Stop are called by one owner thread
// (the engine thread after Start). Run blocks until every iteration has
// returned; the owner runs iterations too, so a pool of 0 threads runs
// everything inline. Iterations must not call Run.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"

namespace tessera {
namespace io {

class TaskPool {
 public:
  TaskPool() = default;
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  Status Start(uint32_t threads);
  void Run(size_t count, const std::function<void(size_t)>& fn);
  void Stop();

 private:
  void Worker();

  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable finished_;
  const std::function<void(size_t)>* fn_ = nullptr;  // guarded by mu_
  size_t count_ = 0;                                 // guarded by mu_
  size_t next_ = 0;                                  // guarded by mu_
  size_t done_ = 0;                                  // guarded by mu_
  bool stop_ = false;                                // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace io
}  // namespace tessera
