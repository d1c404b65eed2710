// The interpolation helper on a simulated stream (virtual time, seeded): a 30 Hz server sends
// frame numbers through the netsim impairment model (5% iid loss, 40 ms + 0..20 ms uniform
// one-way delay, so frames also reorder), a 60 Hz client loop stamps each arrival with its poll
// time, applies only newer frames (as the Receiver does) and renders once per loop. Checks the
// delay bound (2 send intervals + the p95 jitter of the same window, from the stamps), counts
// visible hitches (docs/client.md: runs of renders held because the render time is more than
// the extrapolation limit past the newest frame), and checks the blend between frames and the
// edges of the config and the estimates (window floor, p95 rank, the extrapolation limit).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <cstring>
#include <random>
#include <vector>

#include "support/seed.hpp"
#include "volley/client/interpolation.hpp"
#include "volley/netsim/link.hpp"

namespace vc = volley::client;
using volley::TimePoint;
using volley::kMillisecond;
using volley::kSecond;

namespace {

struct Run {
  std::uint64_t frames = 0, applied = 0, renders = 0, hitches = 0, hitch_renders = 0;
  std::uint64_t extrapolated_renders = 0;
  std::uint64_t bound_checks = 0, bound_violations = 0;
  std::uint64_t backwards = 0;  // renders whose position (frame + alpha) went back
  std::uint64_t bad_alpha = 0;  // alpha outside [0, 1) interpolating or past the limit
  double max_backwards_ticks = 0;
  TimePoint max_delay = 0;
  double mean_delay_ms = 0;
  double minutes = 0;
  // With strides: at the last render before each change, the render lag over the delay (the
  // link's least one-way delay plus up to one poll interval once the slew has caught up).
  std::vector<double> settled_lag_ms;
  double hitches_per_minute() const { return static_cast<double>(hitches) / minutes; }
};

constexpr TimePoint kRenderInterval = 16'667;

// `strides`: the server sends every stride-th tick, the stride taking the next value every
// kStrideSeconds (cycling); one value means a fixed stride.
constexpr TimePoint kStrideSeconds = 20;
Run simulate(std::uint64_t seed, double loss, int minutes, TimePoint tick,
             double max_extrapolation, const std::vector<std::uint32_t>& strides = {1}) {
  volley::netsim::Impairment impairment;
  impairment.loss = loss;
  impairment.latency = 40 * kMillisecond;
  impairment.jitter = 20 * kMillisecond;  // 50 +- 10 ms one way
  volley::netsim::Link link(impairment, seed);
  constexpr TimePoint kClockOffset = 987'654'321;  // the client clock's unrelated origin
  constexpr std::uint32_t kFirstFrame = 100;

  vc::InterpolationConfig config;
  config.tick_interval = tick;
  config.max_extrapolation = max_extrapolation;
  vc::Interpolator interp(config);
  Run run;
  run.frames = static_cast<std::uint64_t>(minutes) * 60 * kSecond / tick;
  run.minutes = minutes;
  std::vector<TimePoint> window;  // lateness of the applied frames' stamps, last `window`
  std::vector<TimePoint> sorted;
  std::optional<std::uint32_t> newest;
  bool in_hitch = false;
  double delay_sum = 0;
  double last_position = 0;
  std::uint32_t sent = 0;
  const TimePoint start = kFirstFrame * tick;
  const TimePoint end = start + static_cast<TimePoint>(run.frames) * tick;
  const TimePoint warmup = start + 3 * kSecond;
  for (TimePoint now = start; now < end; now += kRenderInterval) {
    // The server's ticks up to now (each with its exact send time), then what has arrived.
    const auto segment = static_cast<std::size_t>((now - start) / (kStrideSeconds * kSecond));
    const std::uint32_t stride = strides[segment % strides.size()];
    for (; (kFirstFrame + sent) * tick <= now; ++sent) {
      const std::uint32_t frame = kFirstFrame + sent;
      if (frame % stride != 0) continue;
      std::uint8_t bytes[4];
      std::memcpy(bytes, &frame, sizeof bytes);
      link.send(static_cast<TimePoint>(frame) * tick, bytes);
    }
    const TimePoint stamp = kClockOffset + now;  // the client polls once per render
    for (const volley::netsim::InFlight& d : link.take_due(now)) {
      std::uint32_t frame = 0;
      std::memcpy(&frame, d.bytes.data(), sizeof frame);
      if (newest && frame <= *newest) continue;  // the Receiver applies only newer frames
      newest = frame;
      interp.on_frame(frame, stamp);
      ++run.applied;
      window.push_back(now - static_cast<TimePoint>(frame) * tick);
      if (window.size() > config.window) window.erase(window.begin());
      if (now >= warmup && strides.size() == 1) {
        // The bound: 2 send intervals + p95 of the window's lateness above its least-late
        // frame (jitter as a client can see it).
        sorted = window;
        std::sort(sorted.begin(), sorted.end());
        const TimePoint p95 = sorted[(sorted.size() * 95 + 99) / 100 - 1] - sorted.front();
        ++run.bound_checks;
        if (interp.delay() > 2 * tick + p95 + 1) ++run.bound_violations;
      }
    }
    const auto point = interp.at(stamp);
    if (!point || now < warmup) continue;
    ++run.renders;
    delay_sum += static_cast<double>(interp.delay());
    run.max_delay = std::max(run.max_delay, interp.delay());
    if (point->extrapolating) ++run.extrapolated_renders;
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
    const TimePoint next = now + kRenderInterval;
    if (strides.size() > 1 && next < end &&
        static_cast<std::size_t>((next - start) / (kStrideSeconds * kSecond)) != segment) {
      const double lag = static_cast<double>(now) - position * static_cast<double>(tick);
      run.settled_lag_ms.push_back((lag - static_cast<double>(interp.delay())) / 1000);
    }
    // Past the newest frame by at most the limit: position <= newest + limit in frames.
    const double limit_frames = max_extrapolation * static_cast<double>(interp.send_interval()) /
                                static_cast<double>(tick);
    const bool alpha_ok = point->extrapolating
                              ? point->alpha > 1.0 && position <= point->to + limit_frames + 1e-9
                              : point->alpha >= 0.0 && point->alpha < 1.0;
    if (!alpha_ok) ++run.bad_alpha;
  }
  run.mean_delay_ms =
      delay_sum / static_cast<double>(std::max<std::uint64_t>(run.renders, 1)) / 1000;
  MESSAGE("loss ", loss, " extrapolation ", max_extrapolation, ": frames ", run.frames,
          " applied ", run.applied, " renders ", run.renders, " hitches ", run.hitches, " (",
          run.hitches_per_minute(), "/min, ", run.hitch_renders, " renders) extrapolated ",
          run.extrapolated_renders, " renders, mean delay ", run.mean_delay_ms, " ms, max ",
          run.max_delay / 1000.0, " ms, backwards ", run.backwards, " (max ",
          run.max_backwards_ticks, " ticks)");
  return run;
}

}  // namespace

TEST_CASE("interpolation: under 1 hitch a minute at 5% loss, delay within 2 send intervals + "
          "p95 jitter") {
  constexpr TimePoint kTick = 33'333;
  VOLLEY_SEEDED_RNG(rng, 1010);
  const Run clean = simulate(rng(), 0.0, 10, kTick, 1.0);
  const Run lossy = simulate(rng(), 0.05, 20, kTick, 1.0);
  for (const Run* run : {&clean, &lossy}) {
    CHECK(run->bound_checks > 10'000);
    CHECK(run->bound_violations == 0);
    CHECK(run->backwards == 0);  // the delay adapts without stepping the rendered time back
    CHECK(run->bad_alpha == 0);
    CHECK(run->max_delay >= 2 * kTick);
    CHECK(run->max_delay <= 2 * kTick + 40 * kMillisecond);  // 20 ms jitter + 16.7 ms polling
  }
  CHECK(clean.hitches == 0);
  CHECK(lossy.extrapolated_renders > 0);  // losses happened and were bridged
  // The target. A hitch now needs two frames lost in a row and the next one later than
  // the window's p95, or three lost in a row: about (0.05^2 x 0.05 + 0.05^3) x 1800 = 0.45 a
  // minute at 30 Hz.
  CHECK(lossy.hitches_per_minute() < 1.0);
}

TEST_CASE("interpolation: without extrapolation two lost frames in a row are a hitch") {
  // The same stream holding at the newest frame (max_extrapolation 0): the hitch counter sees
  // what the extrapolation bridges, about 0.05^2 x 1800 = 4.5 a minute plus late arrivals.
  constexpr TimePoint kTick = 33'333;
  VOLLEY_SEEDED_RNG(rng, 1011);
  const Run held = simulate(rng(), 0.05, 10, kTick, 0.0);
  CHECK(held.extrapolated_renders == 0);
  CHECK(held.bad_alpha == 0);
  CHECK(held.hitches_per_minute() > 2.0);
}

TEST_CASE("interpolation: the render time never steps back when the server's send stride changes") {
  // A server under load sends every 2nd or 3rd tick, then every tick again: the median send
  // interval, so the delay, jumps by ticks at once. Unslewed, the render time stepped back by
  // about 1.5 frames at each longer stride (a game developer's report).
  constexpr TimePoint kTick = 33'333;
  VOLLEY_SEEDED_RNG(rng, 1012);
  const Run run = simulate(rng(), 0.0, 2, kTick, 1.0, {1, 2, 3, 1, 3});
  CHECK(run.backwards == 0);
  CHECK(run.bad_alpha == 0);
  CHECK(run.hitches == 0);
  // Each stride's delay was caught up with before the next change: the lag over the delay is
  // the link's 40 ms least delay plus at most a poll interval.
  CHECK(run.settled_lag_ms.size() == 5);
  for (const double lag : run.settled_lag_ms) {
    CHECK(lag >= 39.0);
    CHECK(lag <= 58.0);
  }
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
  // Past frame 10: extrapolate along 9 -> 10 for up to one send interval, then hold (a hitch).
  p = interp.at(5 * kSecond + 125'000);  // render time 105 ms: frame 10.5
  CHECK(p->extrapolating);
  CHECK_FALSE(p->hitch);
  CHECK(p->from == 9);
  CHECK(p->to == 10);
  CHECK(p->alpha == doctest::Approx(1.5));
  p = interp.at(5 * kSecond + 130'000);  // render 110 ms: exactly at the limit, still no hitch
  CHECK(p->extrapolating);
  CHECK_FALSE(p->hitch);
  CHECK(p->alpha == doctest::Approx(2.0));
  p = interp.at(5 * kSecond + 145'000);  // render 125 ms: held at the limit, frame 11
  CHECK(p->hitch);
  CHECK(p->from == 9);
  CHECK(p->alpha == doctest::Approx(2.0));
  // A lost frame (12 missing): 11 -> 13 is one wider span, blended across.
  interp.on_frame(11, 5 * kSecond + 110'000);
  interp.on_frame(13, 5 * kSecond + 130'000);
  CHECK(interp.send_interval() == 10'000);  // the median ignores the gap
  p = interp.at(5 * kSecond + 145'000);  // render 12.5 -> between 11 and 13, alpha 0.75
  CHECK_FALSE(p->extrapolating);
  CHECK(p->from == 11);
  CHECK(p->to == 13);
  CHECK(p->alpha == doctest::Approx(0.75));
  // The render clock does not run backwards: an older `now` is taken as the latest one.
  p = interp.at(5 * kSecond + 135'000);
  CHECK(p->from == 11);
  CHECK(p->alpha == doctest::Approx(0.75));

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
  double short_out[1];  // fewer values than the entity has: refused, not cut short
  CHECK_FALSE(vc::interpolate(a, b, 0.5, 7, short_out));
}

TEST_CASE("interpolation: the p95 jitter of a small window is its latest arrival") {
  // Four frames (the least window), one of them 30 ms late: with four samples the 95th
  // percentile (nearest rank) is the largest, so the delay covers that late frame.
  vc::InterpolationConfig config;
  config.tick_interval = 10'000;
  config.window = 4;
  vc::Interpolator interp(config);
  const TimePoint late[] = {0, 30'000, 0, 0};
  for (std::uint32_t n = 1; n <= 4; ++n) interp.on_frame(n, 5 * kSecond + n * 10'000 + late[n - 1]);
  CHECK(interp.jitter_p95() == 30'000);
  CHECK(interp.delay() == 2 * 10'000 + 30'000);
}

TEST_CASE("interpolation: a window under 4 is raised to 4") {
  // Window 1 asked for: the estimates still span four frames, so the one on-time frame keeps
  // defining the offset while three later ones all arrive 30 ms late.
  vc::InterpolationConfig config;
  config.tick_interval = 10'000;
  config.window = 1;
  vc::Interpolator interp(config);
  for (std::uint32_t n = 1; n <= 4; ++n) interp.on_frame(n, 5 * kSecond + n * 10'000 + (n > 1 ? 30'000 : 0));
  CHECK(interp.jitter_p95() == 30'000);
}

TEST_CASE("interpolation: a negative extrapolation limit holds at the newest frame, as 0 does") {
  vc::InterpolationConfig config;
  config.tick_interval = 10'000;
  config.max_extrapolation = -1.0;
  vc::Interpolator interp(config);
  for (std::uint32_t n = 1; n <= 10; ++n) interp.on_frame(n, 5 * kSecond + n * 10'000);
  const auto p = interp.at(5 * kSecond + 125'000);  // render time 105 ms: past frame 10
  REQUIRE(p);
  CHECK(p->hitch);
  CHECK_FALSE(p->extrapolating);
  CHECK(p->from == 10);
  CHECK(p->to == 10);
  CHECK(p->alpha == doctest::Approx(0.0));
}

TEST_CASE("interpolation: absurd config values are brought into range") {
  SUBCASE("a window of SIZE_MAX is not allocated") {
    vc::InterpolationConfig config;
    config.window = SIZE_MAX;
    CHECK_NOTHROW(vc::Interpolator{config});
  }
  SUBCASE("a tick of INT64_MAX is 60 s: frame x tick does not overflow") {
    vc::InterpolationConfig config;
    config.tick_interval = INT64_MAX;
    vc::Interpolator interp(config);
    for (std::uint32_t n = 1; n <= 5; ++n) interp.on_frame(n, static_cast<TimePoint>(n) * 60 * kSecond);
    CHECK(interp.send_interval() == 60 * kSecond);
    CHECK(interp.delay() == 120 * kSecond);
  }
  SUBCASE("a NaN extrapolation limit holds at the newest frame, as 0 does; infinity is 100") {
    for (const double limit : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
      CAPTURE(limit);
      vc::InterpolationConfig config;
      config.tick_interval = 10'000;
      config.max_extrapolation = limit;
      vc::Interpolator interp(config);
      for (std::uint32_t n = 1; n <= 10; ++n) interp.on_frame(n, 5 * kSecond + n * 10'000);
      const auto p = interp.at(5 * kSecond + 125'000);  // render time 105 ms: 5 ms past frame 10
      REQUIRE(p);
      if (std::isnan(limit)) {
        CHECK(p->hitch);
        CHECK(p->to == 10);
        CHECK(p->alpha == doctest::Approx(0.0));
      } else {
        CHECK_FALSE(p->hitch);
        CHECK(p->extrapolating);
        CHECK(p->alpha == doctest::Approx(1.5));
      }
    }
  }
}

// An unsigned 32-bit field is held as an int32 bit pattern: blended as signed it came out 0
// between 0x7FFFFFFF and 0x80000001, and negative near 0xFFFFFFFF. With the schema it is read
// as the unsigned value it is; signed and narrower fields blend as before.
TEST_CASE("interpolation: with the schema, unsigned 32-bit fields blend as unsigned") {
  volley::snapshot::Schema schema;
  const volley::snapshot::FieldWidth widths[3] = {32, -32, 16};
  REQUIRE(schema.add_type(widths));
  volley::snapshot::Frame a, b;
  const std::int32_t va[3] = {0x7FFFFFFF, -10, 100};
  const std::int32_t vb[3] = {static_cast<std::int32_t>(0x80000001u), 10, 200};
  a.add(7, 0, va);
  b.add(7, 0, vb);
  std::vector<double> out(3);
  REQUIRE(volley::client::interpolate(schema, a, b, 0.5, 7, out));
  CHECK(out[0] == 2147483648.0);
  CHECK(out[1] == 0.0);
  CHECK(out[2] == 150.0);
  const std::int32_t top[3] = {static_cast<std::int32_t>(0xFFFFFFFEu), 0, 0};
  const std::int32_t top2[3] = {static_cast<std::int32_t>(0xFFFFFFFFu), 0, 0};
  volley::snapshot::Frame c, d;
  c.add(7, 0, top);
  d.add(7, 0, top2);
  REQUIRE(volley::client::interpolate(schema, c, d, 0.5, 7, out));
  CHECK(out[0] == 4294967294.5);
}
