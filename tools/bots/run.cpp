#include "run.hpp"

#include <unistd.h>

#include <csignal>
#include <ctime>
#include <string>

namespace volley::bots {
namespace {
constexpr TimePoint kLeaveLimit = 3'000'000;  // disconnect handshakes, at most

volatile std::sig_atomic_t g_stop = 0;
timespec g_first_signal{};  // written once, by the first signal's handler

// The first SIGINT/SIGTERM ends the run as --seconds would. One more within a second is the same
// request delivered twice (GNU timeout signals the process and its group), not a second one:
// ignored, or the report would be lost. A later one ends the process at once (the default
// action, re-raised). clock_gettime, signal and raise are async-signal-safe.
extern "C" void on_stop_signal(int signal) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (g_stop == 0) {
    g_first_signal = now;
    g_stop = 1;
    return;
  }
  const long long elapsed_ms = (now.tv_sec - g_first_signal.tv_sec) * 1000LL +
                               (now.tv_nsec - g_first_signal.tv_nsec) / 1'000'000;
  if (elapsed_ms < 1000) return;
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}
}  // namespace

void handle_stop_signals() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

Run::Run(const Options& options, Swarm& swarm, bool show_progress)
    : options_(options), swarm_(swarm), show_progress_(show_progress), tty_(isatty(STDERR_FILENO) != 0) {}

void Run::sample(TimePoint now) {
  series_.push_back(swarm_.sample(now));
  if (!show_progress_) return;
  const std::string line = progress_line(series_.back(), options_.swarm.bots);
  // A terminal gets one line rewritten in place; anything else a line per second.
  std::fprintf(stderr, tty_ ? "\r\033[K%s" : "%s\n", line.c_str());
  std::fflush(stderr);
}

bool Run::step(TimePoint now) {
  switch (phase_) {
    case Phase::kStart:
      start_ = phase_at_ = now;
      next_sample_ = now + 1'000'000;
      swarm_.start(now);
      series_.push_back(Sample{});  // the plots start at zero
      phase_ = Phase::kRunning;
      return true;
    case Phase::kRunning:
      swarm_.tick(now);
      if (now >= next_sample_) {
        sample(now);
        next_sample_ += 1'000'000;
      }
      if (g_stop != 0) interrupted_ = true;
      if (interrupted_ || now - start_ >= static_cast<TimePoint>(options_.seconds * 1e6)) {
        swarm_.stop(now);
        phase_ = Phase::kSettling;
        phase_at_ = now;
      }
      return true;
    case Phase::kSettling:
      swarm_.tick(now);
      if (swarm_.settled(now, static_cast<TimePoint>(options_.drain_s * 1e6))) {
        swarm_.leave_all(now);
        phase_ = Phase::kLeaving;
        phase_at_ = now;
      }
      return true;
    case Phase::kLeaving:
      if (swarm_.all_gone() || now - phase_at_ >= kLeaveLimit) {
        swarm_.finish(now);
        end_ = now;
        phase_ = Phase::kDone;
        if (show_progress_ && tty_) std::fputc('\n', stderr);
      }
      return phase_ != Phase::kDone;
    case Phase::kDone:
      return false;
  }
  return false;
}

Report Run::report() const {
  Report r;
  r.info.engine = options_.engine;
  r.info.behavior = options_.behavior;
  r.info.server = options_.server;
  r.info.sockets = options_.sockets;
  r.info.seconds = options_.seconds;
  r.info.rate_hz = options_.swarm.rate_hz;
  r.info.ramp_per_s = options_.swarm.ramp_per_s;
  r.info.churn_per_s = options_.swarm.churn_per_s;
  r.info.elapsed_s = static_cast<double>(end_ - start_) * 1e-6;
  r.info.interrupted = interrupted_;
  r.totals = swarm_.totals();
  r.rtt = swarm_.rtt();
  r.series = series_;
  return r;
}

}  // namespace volley::bots
