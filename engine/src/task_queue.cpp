// TaskQueue implementation. The flag is cleared before the swap, so a push that lands after the
// swap always sees it clear and wakes the loop: no post can be stranded.
#include "task_queue.hpp"

namespace volley::engine {

bool TaskQueue::push(Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  return !signaled_.exchange(true, std::memory_order_acq_rel);
}

void TaskQueue::drain(std::vector<Task>& out) {
  out.clear();
  // Nothing posted since the last drain: no lock (this runs every loop pass). A push that has
  // appended but not yet raised the flag is not stranded: it then finds the flag clear and
  // wakes the loop, or, on the loop thread, the pass sees the flag before it waits.
  if (!signaled_.load(std::memory_order_acquire)) return;
  signaled_.store(false, std::memory_order_release);
  std::lock_guard lock(mutex_);
  out.swap(tasks_);
}

std::size_t TaskQueue::size() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

}  // namespace volley::engine
