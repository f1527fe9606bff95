#include "io/task_pool.h"

#include <system_error>

#include "core/ts_assert.h"

namespace tessera {
namespace io {

TaskPool::~TaskPool() { Stop(); }

Status TaskPool::Start(uint32_t threads) {
  TS_ASSERT(threads_.empty());
  TS_ASSERT(threads <= 64);
  try {
    for (uint32_t i = 0; i < threads; i++) {
      threads_.emplace_back(&TaskPool::Worker, this);
    }
  } catch (const std::system_error& e) {
    Stop();
    return Status(
        StatusCode::kInternal,
        std::string("cannot start an I/O worker thread: ") + e.what());
  }
  return Status::Ok();
}

void TaskPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TS_ASSERT(next_ == count_ && done_ == count_);  // not inside Run
    stop_ = true;
  }
  work_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void TaskPool::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stop_ || next_ < count_; });
    if (stop_) return;
    const size_t i = next_++;
    const std::function<void(size_t)>* fn = fn_;
    lock.unlock();
    (*fn)(i);
    lock.lock();
    if (++done_ == count_) finished_.notify_all();
  }
}

void TaskPool::Run(size_t count, const std::function<void(size_t)>& fn) {
  if (count == 0) return;
  if (count == 1 || threads_.empty()) {
    // Nothing to share: waking the workers would only add latency.
    for (size_t i = 0; i < count; i++) fn(i);
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  TS_ASSERT(next_ == count_ && done_ == count_ && !stop_);
  fn_ = &fn;
  count_ = count;
  next_ = 0;
  done_ = 0;
  lock.unlock();
  work_.notify_all();
  lock.lock();
  while (next_ < count_) {
    const size_t i = next_++;
    lock.unlock();
    fn(i);
    lock.lock();
    ++done_;
  }
  finished_.wait(lock, [this] { return done_ == count_; });
  fn_ = nullptr;
  TS_ASSERT(next_ == count_);
}

}  // namespace io
}  // namespace tessera
