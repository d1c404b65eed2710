// TaskQueue: the multi-producer queue behind Loop::post(). Producers append under a short lock;
// the loop swaps the whole vector out once per iteration. Wake-ups are coalesced: only the first
// post after the loop last drained asks for a wake, so a burst of posts costs one wake syscall.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "volley/engine/loop.hpp"

namespace volley::engine {

class TaskQueue {
 public:
  // Returns true when the caller must wake the loop.
  bool push(Task task);
  // Moves every queued task into `out` (which is cleared first), in posting order.
  void drain(std::vector<Task>& out);
  std::size_t size() const;
  bool maybe_nonempty() const noexcept { return signaled_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::vector<Task> tasks_;
  // True from the first push after a drain until the next drain.
  std::atomic<bool> signaled_{false};
};

}  // namespace volley::engine
