#include "game_checker.hpp"

#include <algorithm>

namespace volley::bots {

void GameCounts::add(const GameCounts& o) noexcept {
  frames_applied += o.frames_applied;
  frame_regressions += o.frame_regressions;
  events_shown += o.events_shown;
  events_duplicated += o.events_duplicated;
  events_unchecked += o.events_unchecked;
  sessions_without_snapshots += o.sessions_without_snapshots;
}

GameChecker::GameChecker(std::size_t id_window) : bits_((std::max<std::size_t>(id_window, 64) + 63) / 64) {}

void GameChecker::on_frame(std::uint32_t number) {
  ++counts_.frames_applied;
  // Frame numbers are 32-bit and a session never wraps them (years at 30 Hz): plain compare.
  if (newest_frame_ && number <= *newest_frame_) {
    ++counts_.frame_regressions;
    return;
  }
  newest_frame_ = number;
}

bool GameChecker::test_and_set(std::uint64_t id) {
  const std::uint64_t window = bits_.size() * 64;
  const std::uint64_t slot = id % window;
  std::uint64_t& word = bits_[slot / 64];
  const std::uint64_t mask = std::uint64_t{1} << (slot % 64);
  const bool was = (word & mask) != 0;
  word |= mask;
  return was;
}

bool GameChecker::on_event(std::uint64_t id) {
  const std::uint64_t window = bits_.size() * 64;
  if (!newest_id_) {
    newest_id_ = id;
  } else if (id > *newest_id_) {
    // Slide the window: ids between the old newest and this one were not seen yet.
    if (id - *newest_id_ >= window) {
      std::fill(bits_.begin(), bits_.end(), 0);
    } else {
      for (std::uint64_t q = *newest_id_ + 1; q < id; ++q) {
        bits_[(q % window) / 64] &= ~(std::uint64_t{1} << (q % window % 64));
      }
      bits_[(id % window) / 64] &= ~(std::uint64_t{1} << (id % window % 64));
    }
    newest_id_ = id;
  } else if (*newest_id_ - id >= window) {
    ++counts_.events_unchecked;
    ++counts_.events_shown;
    return true;
  }
  if (test_and_set(id)) {
    ++counts_.events_duplicated;
    return false;
  }
  ++counts_.events_shown;
  return true;
}

}  // namespace volley::bots
