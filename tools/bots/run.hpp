// The phases of one volley-bots run, whatever engine drives it: run for --seconds (bots ramp
// up, churn, send), settle (the last echoes come back, the last chat lines are shown), leave
// (every bot disconnects, bounded), done. Samples once a second and prints the progress line.
// Engines call step() from their loop about every millisecond. SIGINT or SIGTERM (once
// handle_stop_signals() ran) ends the running phase early, as --seconds would: the report still
// comes, and every bot leaves; a second one ends the process at once.
#pragma once

#include <cstdio>
#include <vector>

#include "options.hpp"
#include "report.hpp"
#include "swarm.hpp"

namespace volley::bots {

// Installs the handlers step() looks at (the process's first SIGINT / SIGTERM only).
void handle_stop_signals();

class Run {
 public:
  Run(const Options& options, Swarm& swarm, bool show_progress);
  // Advances the run; false once it is over.
  bool step(TimePoint now);
  // The report of the finished run (its RunInfo's CPU is filled by the caller).
  Report report() const;
  bool interrupted() const noexcept { return interrupted_; }

 private:
  enum class Phase : std::uint8_t { kStart, kRunning, kSettling, kLeaving, kDone };
  void sample(TimePoint now);

  const Options& options_;
  Swarm& swarm_;
  bool show_progress_;
  bool tty_ = false;
  Phase phase_ = Phase::kStart;
  bool interrupted_ = false;
  TimePoint start_ = 0, phase_at_ = 0, next_sample_ = 0, end_ = 0;
  std::vector<Sample> series_;
};

}  // namespace volley::bots
