// Interpolator: estimates from a bounded window, recomputed per applied frame (tens per second),
// with preallocated scratch so nothing allocates after construction.
#include "volley/client/interpolation.hpp"

#include <algorithm>

namespace volley::client {

Interpolator::Interpolator(InterpolationConfig config) : config_(config) {
  // Brought into range, not trusted: a huge window is allocated up front, a huge tick
  // overflows frame x tick, and a NaN limit is undefined once converted to time.
  config_.window = std::clamp<std::size_t>(config_.window, 4, kMaxWindow);
  config_.tick_interval = std::clamp<TimePoint>(config_.tick_interval, 1, kMaxTickInterval);
  const double limit = config_.max_extrapolation;
  config_.max_extrapolation = limit >= 0 ? std::min(limit, kMaxExtrapolation) : 0.0;  // NaN: 0
  ring_.reserve(config_.window);
  scratch_.reserve(config_.window);
}

void Interpolator::on_frame(std::uint32_t frame, TimePoint arrival) {
  // Not newer than the newest (the same frame again, a replay): ignored. Taken, it made a zero
  // or wrapped frame gap and a lateness of many ticks, and the render point named it as newest.
  if (!ring_.empty() && frame <= ring_[(head_ + ring_.size() - 1) % ring_.size()].frame) return;
  if (ring_.size() < config_.window) {
    ring_.push_back({frame, arrival});
  } else {
    ring_[head_] = {frame, arrival};
    head_ = (head_ + 1) % ring_.size();
  }
  update_estimates();
}

void Interpolator::update_estimates() {
  const TimePoint tick = config_.tick_interval;
  const std::size_t n = ring_.size();
  // Offset: the least-delayed arrival defines where frame 0 would have arrived.
  TimePoint offset = ring_[0].arrival - static_cast<TimePoint>(ring_[0].frame) * tick;
  for (const Arrival& a : ring_) {
    offset = std::min(offset, a.arrival - static_cast<TimePoint>(a.frame) * tick);
  }
  offset_ = offset;
  // Jitter: each arrival's lateness over that best case; p95 of the window.
  scratch_.clear();
  for (const Arrival& a : ring_) {
    scratch_.push_back(a.arrival - static_cast<TimePoint>(a.frame) * tick - offset);
  }
  const std::size_t p95 = (scratch_.size() * 95 + 99) / 100 - 1;
  std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(p95),
                   scratch_.end());
  jitter_p95_ = scratch_[p95];
  // Send interval: the median gap between consecutive applied frames (a lost frame is one
  // wider gap, which the median ignores).
  if (n >= 2) {
    scratch_.clear();
    for (std::size_t i = 1; i < n; ++i) {
      const Arrival& prev = ring_[(head_ + i - 1) % n];
      const Arrival& next = ring_[(head_ + i) % n];
      scratch_.push_back(static_cast<TimePoint>(next.frame - prev.frame) * tick);
    }
    const auto mid = scratch_.begin() + static_cast<std::ptrdiff_t>(scratch_.size() / 2);
    std::nth_element(scratch_.begin(), mid, scratch_.end());
    send_interval_ = *mid;
  } else {
    send_interval_ = tick;
  }
  delay_ = 2 * send_interval_ + jitter_p95_;
}

TimePoint Interpolator::render_time(TimePoint now) const {
  const TimePoint target = now - offset_ - delay_;  // server time (frame x tick)
  if (!rendered_) {
    rendered_ = true;
    rendered_now_ = now;
    rendered_time_ = target;
    return target;
  }
  const TimePoint elapsed = std::max<TimePoint>(now - rendered_now_, 0);
  const TimePoint free_run = rendered_time_ + elapsed;
  const TimePoint error = target - free_run;
  const TimePoint step = elapsed * kSlewPercent / 100;
  rendered_now_ = std::max(now, rendered_now_);
  rendered_time_ = (error > kSlewLimit || error < -kSlewLimit) ? target : free_run + std::clamp(error, -step, step);
  return rendered_time_;
}

std::optional<RenderPoint> Interpolator::at(TimePoint now) const {
  const std::size_t n = ring_.size();
  if (n < 2) return std::nullopt;
  const TimePoint tick = config_.tick_interval;
  const TimePoint render = render_time(now);
  const Arrival& newest = ring_[(head_ + n - 1) % n];
  const Arrival& oldest = ring_[head_ % n];
  const TimePoint newest_time = static_cast<TimePoint>(newest.frame) * tick;
  if (render > newest_time) {
    // Past the newest frame: extrapolate along the last span up to the limit, then hold there.
    const Arrival& before = ring_[(head_ + n - 2) % n];
    const TimePoint span_start = static_cast<TimePoint>(before.frame) * tick;
    const auto limit = static_cast<TimePoint>(config_.max_extrapolation *
                                              static_cast<double>(send_interval_));
    const bool hitch = render - newest_time > limit;
    const TimePoint shown = hitch ? newest_time + limit : render;
    if (shown == newest_time) return RenderPoint{newest.frame, newest.frame, 0.0, false, hitch};
    return RenderPoint{before.frame, newest.frame,
                       static_cast<double>(shown - span_start) /
                           static_cast<double>(newest_time - span_start),
                       true, hitch};
  }
  if (render == newest_time) return RenderPoint{newest.frame, newest.frame, 0.0, false, false};
  if (render <= static_cast<TimePoint>(oldest.frame) * tick) {
    return RenderPoint{oldest.frame, oldest.frame, 0.0, false, false};
  }
  for (std::size_t i = n - 1; i > 0; --i) {
    const Arrival& a = ring_[(head_ + i - 1) % n];
    const Arrival& b = ring_[(head_ + i) % n];
    const TimePoint ta = static_cast<TimePoint>(a.frame) * tick;
    const TimePoint tb = static_cast<TimePoint>(b.frame) * tick;
    if (render >= ta && render < tb) {
      return RenderPoint{a.frame, b.frame,
                         static_cast<double>(render - ta) / static_cast<double>(tb - ta), false,
                         false};
    }
  }
  return RenderPoint{oldest.frame, oldest.frame, 0.0, false, false};
}

namespace {

bool blend(const snapshot::Schema* schema, const snapshot::Frame& from, const snapshot::Frame& to,
           double alpha, std::uint32_t id, std::span<double> out) {
  const std::size_t i = from.find(id);
  const std::size_t j = to.find(id);
  const bool in_from = i < from.size();
  const bool in_to = j < to.size();
  if (!in_from && !in_to) return false;
  const auto a = in_from ? from.values(i) : to.values(j);
  const auto b = in_to ? to.values(j) : from.values(i);
  if (a.size() != out.size() || b.size() != out.size()) return false;
  std::span<const snapshot::FieldWidth> widths;
  if (schema != nullptr) {
    widths = schema->fields(in_to ? to.type(j) : from.type(i));
    if (widths.size() != out.size()) return false;
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    const bool u32 = !widths.empty() && widths[k] == 32;
    const double x = u32 ? static_cast<double>(static_cast<std::uint32_t>(a[k])) : static_cast<double>(a[k]);
    const double y = u32 ? static_cast<double>(static_cast<std::uint32_t>(b[k])) : static_cast<double>(b[k]);
    out[k] = x + alpha * (y - x);
  }
  return true;
}

}  // namespace

bool interpolate(const snapshot::Frame& from, const snapshot::Frame& to, double alpha,
                 std::uint32_t id, std::span<double> out) {
  return blend(nullptr, from, to, alpha, id, out);
}

bool interpolate(const snapshot::Schema& schema, const snapshot::Frame& from, const snapshot::Frame& to,
                 double alpha, std::uint32_t id, std::span<double> out) {
  return blend(&schema, from, to, alpha, id, out);
}

}  // namespace volley::client
