// What a game bot checks about what it is shown, independently of the snapshot Receiver's own
// rules: applied frames only ever move forward, and no event id is shown twice in a session.
// Event ids are server-assigned and rise over time; a window of recent ids below the newest
// one is remembered (a bitmap), so memory stays bounded; an id older than the window cannot be
// checked and is counted as such. Pure: fed frame numbers and event ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace volley::bots {

struct GameCounts {
  std::uint64_t frames_applied = 0;
  std::uint64_t frame_regressions = 0;  // an applied frame not newer than the one before
  std::uint64_t events_shown = 0;
  std::uint64_t events_duplicated = 0;  // an id shown before
  std::uint64_t events_unchecked = 0;   // older than the id window: not checkable
  // Sessions connected for kStarvedAfter (swarm.cpp) that applied no snapshot: a game server
  // sends one every few ticks (an echo server none at all).
  std::uint64_t sessions_without_snapshots = 0;
  void add(const GameCounts& o) noexcept;
  std::uint64_t violations() const noexcept { return frame_regressions + events_duplicated + sessions_without_snapshots; }
};

class GameChecker {
 public:
  explicit GameChecker(std::size_t id_window = 8192);

  void on_frame(std::uint32_t number);
  // True when `id` is shown for the first time (counted shown); false for a repeat.
  bool on_event(std::uint64_t id);
  const GameCounts& counts() const noexcept { return counts_; }

 private:
  bool test_and_set(std::uint64_t id);  // whether `id` was already set

  std::optional<std::uint32_t> newest_frame_;
  std::optional<std::uint64_t> newest_id_;
  std::vector<std::uint64_t> bits_;  // bit (newest - id) % window: id seen
  GameCounts counts_;
};

}  // namespace volley::bots
