// Render-time interpolation between applied snapshot frames. Frames are stamped with their
// arrival time on the client clock; the helper maps frame numbers to server time (frame x tick
// interval plus an offset estimated from the least-delayed arrivals), and renders a buffer delay
// behind it. The delay adapts: 2 x the measured send interval + the p95 arrival jitter, over a
// window of recent frames. Pure arithmetic: no clock reads, the caller passes `now`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "volley/snapshot/frame.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::client {

struct InterpolationConfig {
  TimePoint tick_interval = 33'333;  // the server's tick (frame numbers advance once per tick)
  std::size_t window = 64;           // recent arrivals that drive the estimates (>= 4)
};

// The two applied frames around a render time and how far between them (0..1).
struct RenderPoint {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  double alpha = 0;
  bool hitch = false;  // render time is past the newest frame: holding it (nothing to blend to)
};

class Interpolator {
 public:
  explicit Interpolator(InterpolationConfig config = {});

  // An applied frame (numbers increase) and when it arrived.
  void on_frame(std::uint32_t frame, TimePoint arrival);

  TimePoint delay() const noexcept { return delay_; }                // the buffer delay now
  TimePoint send_interval() const noexcept { return send_interval_; }  // median frame gap x tick
  TimePoint jitter_p95() const noexcept { return jitter_p95_; }
  // The frames around `now - delay` in server time; nullopt before two frames arrived.
  std::optional<RenderPoint> at(TimePoint now) const;

 private:
  struct Arrival {
    std::uint32_t frame;
    TimePoint arrival;
  };
  void update_estimates();

  InterpolationConfig config_;
  std::vector<Arrival> ring_;  // the window, oldest first once full (index head_)
  std::size_t head_ = 0;
  std::vector<TimePoint> scratch_;
  TimePoint offset_ = 0;  // client time of frame 0 on the server clock (min over the window)
  TimePoint delay_ = 0;
  TimePoint send_interval_ = 0;
  TimePoint jitter_p95_ = 0;
};

// Values of entity `id` blended between two frames: from + alpha x (to - from) per field, in
// the quantized integers' units (angles that wrap are the game's to unwrap). An entity absent
// from `to` keeps its `from` values; absent from `from` takes `to`'s. False when it is in
// neither or `out` has the wrong size.
bool interpolate(const snapshot::Frame& from, const snapshot::Frame& to, double alpha,
                 std::uint32_t id, std::span<double> out);

}  // namespace volley::client
