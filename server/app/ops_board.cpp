// OpsBoard: a try-locked swap on the loop side, a locked copy on the reader side.
#include "ops_board.hpp"

#include <utility>

namespace volley::server::app {

bool OpsBoard::publish(ServerStats& stats, Clock::time_point now) {
  const bool accepting = stats.accepting;
  {
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
      skipped_.fetch_add(1);
      return false;
    }
    if (!stats_) stats_.emplace();
    std::swap(*stats_, stats);  // the previous copy is freed by the caller, outside the lock
  }
  accepting_.store(accepting);
  published_at_.store(now.time_since_epoch().count());
  return true;
}

std::optional<ServerStats> OpsBoard::latest() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

bool OpsBoard::healthy(Clock::time_point now, Clock::duration bound) const noexcept {
  const Clock::rep at = published_at_.load();
  if (at == 0) return false;
  return now - Clock::time_point(Clock::duration(at)) <= bound;
}

bool OpsBoard::ready() const { return published_at_.load() != 0 && accepting_.load() && !draining_.load(); }

}  // namespace volley::server::app
