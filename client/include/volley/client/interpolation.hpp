// Render-time interpolation between applied snapshot frames. Frames are stamped with their
// arrival time on the client clock; the helper maps frame numbers to server time (frame x tick
// interval plus an offset estimated from the least-delayed arrivals), and renders a buffer delay
// behind it. The delay adapts: 2 x the measured send interval + the p95 arrival jitter, over a
// window of recent frames; that covers one lost frame. When the render time passes the newest
// frame (two or more lost in a row, or a late arrival) the helper extrapolates along the last
// span for at most `max_extrapolation` send intervals, then holds: that hold is the "visible
// hitch" (docs/client.md). The render time follows `now - delay` at 1 +- kSlew of real time, so
// a new delay or offset (the server's send stride changed, the window's least-delayed arrival
// left it) never steps the picture back. Pure arithmetic: no clock reads, the caller passes
// `now`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::client {

// Out-of-range values are brought to the nearest limit (Interpolator::kMax...; a negative or
// NaN extrapolation limit is 0).
struct InterpolationConfig {
  // The server's tick period (frame numbers advance once per tick): 1 s / its tick_hz. Nothing
  // on the wire says it; the default is a 30 Hz server's. 1 µs to 60 s.
  TimePoint tick_interval = 33'333;
  std::size_t window = 64;           // recent arrivals that drive the estimates (4 to 4,096)
  // How far past the newest frame the render point may extrapolate, in send intervals, before
  // it holds (a hitch). 0 holds at once; at most 100.
  double max_extrapolation = 1.0;
};

// The two applied frames around a render time and how far between them: alpha in [0, 1) while
// interpolating; past the newest frame, `from`/`to` are the last two frames and alpha > 1
// extrapolates along that span (interpolate() takes it as is).
struct RenderPoint {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  double alpha = 0;
  bool extrapolating = false;  // render time is past the newest frame, within the limit
  bool hitch = false;  // past the newest frame by more than the limit: held at the limit
};

class Interpolator {
 public:
  explicit Interpolator(InterpolationConfig config = {});

  // An applied frame and when it arrived. Numbers increase: a frame not newer than the newest
  // given (the same one again, an older one) is ignored.
  void on_frame(std::uint32_t frame, TimePoint arrival);

  TimePoint delay() const noexcept { return delay_; }                // the buffer delay now
  TimePoint send_interval() const noexcept { return send_interval_; }  // median frame gap x tick
  TimePoint jitter_p95() const noexcept { return jitter_p95_; }
  // The frames around the render time, `now - delay` in server time as slewed (below); nullopt
  // before two frames arrived. Calls with the same `now` give the same point; a `now` older
  // than the latest call's is taken as that one.
  std::optional<RenderPoint> at(TimePoint now) const;

  // How far the render clock may run faster or slower than real time while it catches up with
  // a changed delay or offset: 10 %, so a 30 Hz server going from every tick to every second
  // one (the delay 67 ms longer) is absorbed in about 0.7 s of slightly slow motion.
  static constexpr int kSlewPercent = 10;
  // Further off than this (a stall, a clock jump) the render time jumps instead.
  static constexpr TimePoint kSlewLimit = 1'000'000;
  // InterpolationConfig's limits.
  static constexpr std::size_t kMaxWindow = 4096;
  static constexpr TimePoint kMaxTickInterval = 60'000'000;
  static constexpr double kMaxExtrapolation = 100.0;

 private:
  struct Arrival {
    std::uint32_t frame;
    TimePoint arrival;
  };
  void update_estimates();
  TimePoint render_time(TimePoint now) const;

  InterpolationConfig config_;
  std::vector<Arrival> ring_;  // the window, oldest first once full (index head_)
  std::size_t head_ = 0;
  std::vector<TimePoint> scratch_;
  TimePoint offset_ = 0;  // client time of frame 0 on the server clock (min over the window)
  TimePoint delay_ = 0;
  TimePoint send_interval_ = 0;
  TimePoint jitter_p95_ = 0;
  // The latest render time handed out and its `now` (mutable: at() is a query to the caller,
  // but the render clock it reads has a memory).
  mutable bool rendered_ = false;
  mutable TimePoint rendered_now_ = 0;
  mutable TimePoint rendered_time_ = 0;
};

// Values of entity `id` blended between two frames: from + alpha x (to - from) per field (alpha
// > 1 extrapolates), in
// the quantized integers' units (angles that wrap are the game's to unwrap). An entity absent
// from `to` keeps its `from` values; absent from `from` takes `to`'s. False when it is in
// neither or `out` has the wrong size.
bool interpolate(const snapshot::Frame& from, const snapshot::Frame& to, double alpha,
                 std::uint32_t id, std::span<double> out);
// The same reading each field as its schema declares it: an unsigned 32-bit field is held in
// the frame as an int32 bit pattern, which the overload above blends as signed (0x7FFFFFFF to
// 0x80000001 at alpha 0.5 gave 0). Use this one when a type has 32-bit unsigned fields.
bool interpolate(const snapshot::Schema& schema, const snapshot::Frame& from, const snapshot::Frame& to,
                 double alpha, std::uint32_t id, std::span<double> out);

}  // namespace volley::client
