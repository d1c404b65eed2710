// What the loop thread shows the operations endpoints: the latest ServerStats it published and
// when. The loop never waits here: publish() only try-locks, and a publish that meets a reader
// mid-copy is skipped (the next one, a fraction of a second later, lands). Readers (civetweb's
// threads, the Agones health pinger) copy under the lock and work on their copy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "volley/server/server.hpp"

namespace volley::server::app {

class OpsBoard {
 public:
  using Clock = std::chrono::steady_clock;

  // Loop thread. Returns false when skipped.
  bool publish(ServerStats& stats, Clock::time_point now);
  // Any thread: the latest published stats, if any.
  std::optional<ServerStats> latest() const;
  std::uint64_t skipped() const noexcept { return skipped_.load(); }

  // /healthz: the loop published within `bound` of `now`.
  bool healthy(Clock::time_point now, Clock::duration bound) const noexcept;
  // /readyz: the loop has run (published), accepts peers, and no drain was asked for.
  bool ready() const;
  // The control thread marks a drain or stop at once, before the loop has taken the request.
  void mark_not_accepting() noexcept { draining_.store(true); }
  bool marked_not_accepting() const noexcept { return draining_.load(); }

 private:
  mutable std::mutex mutex_;
  std::optional<ServerStats> stats_;
  std::atomic<Clock::rep> published_at_{0};  // time_since_epoch; 0 = never
  std::atomic<bool> accepting_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace volley::server::app
