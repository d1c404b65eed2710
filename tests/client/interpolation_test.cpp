// The interpolation helper on synthetic arrivals (virtual time, seeded): a 30 Hz server, 5%
// loss, jittered one-way delay, a 60 Hz renderer for a simulated minute. Checks the delay bound
// (2 send intervals + the p95 jitter of the same window, from ground truth), counts hitches
// (render time past the newest frame), and checks the blend between frames.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "support/seed.hpp"
#include "volley/client/interpolation.hpp"

namespace vc = volley::client;
using volley::TimePoint;
using volley::kMillisecond;
using volley::kSecond;

namespace {

struct Run {
  std::uint64_t frames = 0, applied = 0, renders = 0, hitches = 0, hitch_renders = 0;
  std::uint64_t bound_checks = 0, bound_violations = 0;
  std::uint64_t backwards = 0;  // renders whose position (frame + alpha) went back
  double max_backwards_ticks = 0;
  TimePoint max_delay = 0;
  double mean_delay_ms = 0;
};

// `loss` iid per frame; one-way delay = 40 ms + jitter: 90% uniform 0..5 ms, 10% 5..20 ms.
Run simulate(std::mt19937_64& rng, double loss, int seconds, TimePoint tick) {
  std::uniform_real_distribution<double> unit(0, 1);
  constexpr TimePoint kClockOffset = 987'654'321;  // the client clock's unrelated origin
  struct Arrival {
    std::uint32_t frame;
    TimePoint at;
    TimePoint jitter;
  };
  std::vector<Arrival> arrivals;
  const auto frames = static_cast<std::uint32_t>(seconds * kSecond / tick);
  for (std::uint32_t n = 100; n < 100 + frames; ++n) {
    if (unit(rng) < loss) continue;
    const double u = unit(rng);
    const TimePoint jitter = u < 0.9 ? static_cast<TimePoint>(unit(rng) * 5 * kMillisecond)
                                     : static_cast<TimePoint>((5 + unit(rng) * 15) * kMillisecond);
    arrivals.push_back({n, kClockOffset + n * tick + 40 * kMillisecond + jitter, jitter});
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at < b.at; });

  vc::InterpolationConfig config;
  config.tick_interval = tick;
  vc::Interpolator interp(config);
  Run run;
  run.frames = frames;
  std::vector<TimePoint> window;  // ground-truth jitters of the applied frames, last 64
  std::size_t next = 0;
  std::optional<std::uint32_t> newest;
  bool in_hitch = false;
  double delay_sum = 0;
  double last_position = 0;
  const TimePoint start = arrivals.front().at;
  const TimePoint warmup = start + 2 * kSecond;
  for (TimePoint now = start; now < arrivals.back().at; now += 16'667) {
    while (next < arrivals.size() && arrivals[next].at <= now) {
      const Arrival& a = arrivals[next++];
      if (newest && a.frame <= *newest) continue;  // the Receiver applies only newer frames
      newest = a.frame;
      interp.on_frame(a.frame, a.at);
      ++run.applied;
      window.push_back(a.jitter);
      if (window.size() > config.window) window.erase(window.begin());
      if (now >= warmup) {
        // The bound, from ground truth: 2 send intervals + p95 of the window's jitter (jitter
        // measured above the window's least-delayed frame, as a client can see it).
        std::vector<TimePoint> sorted = window;
        std::sort(sorted.begin(), sorted.end());
        const TimePoint floor = sorted.front();
        const TimePoint p95 = sorted[(sorted.size() * 95 + 99) / 100 - 1] - floor;
        ++run.bound_checks;
        if (interp.delay() > 2 * tick + p95 + 1) ++run.bound_violations;
      }
    }
    const auto point = interp.at(now);
    if (!point || now < warmup) continue;
    ++run.renders;
    delay_sum += static_cast<double>(interp.delay());
    run.max_delay = std::max(run.max_delay, interp.delay());
    if (point->hitch) {
      ++run.hitch_renders;
      if (!in_hitch) ++run.hitches;
    }
    in_hitch = point->hitch;
    const double position = point->from + point->alpha * (point->to - point->from);
    if (position < last_position) {
      ++run.backwards;
      run.max_backwards_ticks = std::max(run.max_backwards_ticks, last_position - position);
    }
    last_position = position;
    CHECK(point->alpha >= 0.0);
    CHECK(point->alpha < 1.0);
  }
  run.mean_delay_ms = delay_sum / static_cast<double>(std::max<std::uint64_t>(run.renders, 1)) / 1000;
  return run;
}

}  // namespace

TEST_CASE("interpolation: delay within 2 send intervals + p95 jitter - hitches at 0% and 5% loss") {
  constexpr TimePoint kTick = 33'333;
  VOLLEY_SEEDED_RNG(rng, 1010);
  const Run clean = simulate(rng, 0.0, 60, kTick);
  const Run lossy = simulate(rng, 0.05, 60, kTick);
  for (const Run* run : {&clean, &lossy}) {
    MESSAGE("frames ", run->frames, " applied ", run->applied, " renders ", run->renders,
            " hitches ", run->hitches, " (", run->hitch_renders, " renders) mean delay ",
            run->mean_delay_ms, " ms, max ", run->max_delay / 1000.0, " ms, backwards ",
            run->backwards, " (max ", run->max_backwards_ticks, " ticks)");
    CHECK(run->bound_checks > 1000);
    CHECK(run->bound_violations == 0);
    CHECK(run->backwards == 0);  // the delay adapts without stepping the rendered time back
    CHECK(run->max_delay >= 2 * kTick);
    CHECK(run->max_delay <= 2 * kTick + 20 * kMillisecond);
  }
  // Without loss the only hitches are arrivals later than the window's p95: rare.
  CHECK(clean.hitches <= 3);
  // With 5% iid loss a hitch needs two frames lost in a row, or one lost and the next later
  // than p95: about 2 x 0.05^2 x 1800 = 9 a minute at 30 Hz.
  CHECK(lossy.hitches >= 1);
  CHECK(lossy.hitches <= 20);
}

TEST_CASE("interpolation: the render point blends the two frames around it") {
  vc::InterpolationConfig config;
  config.tick_interval = 10'000;
  vc::Interpolator interp(config);
  CHECK_FALSE(interp.at(0));
  // Frames 1..10 arrive exactly on time (no jitter), 10 ms apart, client origin 5 s.
  for (std::uint32_t n = 1; n <= 10; ++n) interp.on_frame(n, 5 * kSecond + n * 10'000);
  CHECK(interp.send_interval() == 10'000);
  CHECK(interp.jitter_p95() == 0);
  CHECK(interp.delay() == 20'000);
  // At the arrival of frame 10 the render time is frame 8.
  auto p = interp.at(5 * kSecond + 100'000);
  REQUIRE(p);
  CHECK(p->from == 8);
  CHECK(p->to == 8 + 1);
  CHECK(p->alpha == doctest::Approx(0.0));
  p = interp.at(5 * kSecond + 102'500);
  CHECK(p->from == 8);
  CHECK(p->alpha == doctest::Approx(0.25));
  p = interp.at(5 * kSecond + 125'000);
  CHECK(p->hitch);
  CHECK(p->from == 10);
  // A lost frame (12 missing): 11 -> 13 is one wider span, blended across.
  interp.on_frame(11, 5 * kSecond + 110'000);
  interp.on_frame(13, 5 * kSecond + 130'000);
  CHECK(interp.send_interval() == 10'000);  // the median ignores the gap
  p = interp.at(5 * kSecond + 125'000);  // render time 105 ms: frame 10.5
  CHECK(p->from == 10);
  CHECK(p->to == 11);
  p = interp.at(5 * kSecond + 135'000);  // render 11.5 -> between 11 and 13, alpha 0.25
  CHECK(p->from == 11);
  CHECK(p->to == 13);
  CHECK(p->alpha == doctest::Approx(0.25));

  volley::snapshot::Frame a, b;
  a.number = 11;
  b.number = 13;
  const std::int32_t va[] = {0, 100};
  const std::int32_t vb[] = {40, 60};
  a.add(7, 0, va);
  b.add(7, 0, vb);
  b.add(9, 0, vb);
  double out[2];
  REQUIRE(vc::interpolate(a, b, 0.25, 7, out));
  CHECK(out[0] == doctest::Approx(10));
  CHECK(out[1] == doctest::Approx(90));
  REQUIRE(vc::interpolate(a, b, 0.25, 9, out));  // only in `to`
  CHECK(out[0] == doctest::Approx(40));
  CHECK_FALSE(vc::interpolate(a, b, 0.5, 8, out));
  double wrong[3];
  CHECK_FALSE(vc::interpolate(a, b, 0.5, 7, wrong));
}
