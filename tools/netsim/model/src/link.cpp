// The impairment model; see volley/netsim/link.hpp. Each send draws its fate from the link's own
// generator in a fixed order, so a seed reproduces the exact same loss/dup/reorder pattern.
#include "volley/netsim/link.hpp"

#include <algorithm>
#include <cmath>

namespace volley::netsim {

namespace {

bool later(const InFlight& a, const InFlight& b) {
  return a.deliver_at != b.deliver_at ? a.deliver_at > b.deliver_at : a.order > b.order;
}

}  // namespace

bool Link::chance(double p) {
  if (p <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p;
}

// The bottleneck's queue, in bytes, as it stands at `now`.
double Link::rate_backlog(TimePoint now) const {
  if (rate_free_at_ <= now) return 0.0;
  return static_cast<double>(rate_free_at_ - now) * impairment_.rate_bytes_per_s / 1e6;
}

void Link::send(TimePoint now, Bytes datagram, std::uint64_t tag) {
  ++stats_.sent;
  if (dead || (drop_if && drop_if(datagram))) {
    ++stats_.lost;
    return;
  }
  if (datagram.size() > impairment_.mtu) {
    ++stats_.oversize;
    return;
  }
  // Capacity limits come before any random draw, so they never shift a seed's schedule for
  // the datagrams they let through.
  if (queue_.size() >= impairment_.max_in_flight) {
    ++stats_.queue_full;
    return;
  }
  TimePoint departs = now;
  if (impairment_.rate_bytes_per_s > 0.0) {
    const auto size = static_cast<double>(datagram.size());
    if (rate_backlog(now) + size > static_cast<double>(impairment_.rate_queue_bytes)) {
      ++stats_.rate_dropped;
      return;
    }
    const TimePoint start = std::max(now, rate_free_at_);
    rate_free_at_ = start + static_cast<TimePoint>(std::ceil(size * 1e6 / impairment_.rate_bytes_per_s));
    departs = rate_free_at_;
  }
  if (bad_) bad_ = !chance(impairment_.burst_exit);
  else bad_ = chance(impairment_.burst_enter);
  if (chance(impairment_.loss)) {
    ++stats_.lost;
    return;
  }
  if (bad_ && chance(impairment_.burst_loss)) {
    ++stats_.burst_lost;
    return;
  }
  const int copies = chance(impairment_.duplicate) ? 2 : 1;
  if (copies == 2) ++stats_.duplicated;
  for (int i = 0; i < copies; ++i) {
    TimePoint delay = impairment_.latency;
    if (impairment_.jitter > 0)
      delay += std::uniform_int_distribution<TimePoint>(0, impairment_.jitter)(rng_);
    if (chance(impairment_.reorder)) {
      delay += impairment_.reorder_delay;
      ++stats_.reordered;
    }
    queue_.push_back(InFlight{departs + delay, order_++, tag, {datagram.begin(), datagram.end()}});
    std::push_heap(queue_.begin(), queue_.end(), later);
  }
}

std::optional<TimePoint> Link::next_delivery() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().deliver_at;
}

std::vector<InFlight> Link::take_due(TimePoint now) {
  std::vector<InFlight> due;
  while (!queue_.empty() && queue_.front().deliver_at <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), later);
    if (dead) {
      ++stats_.lost;  // a dead link also loses what was already in flight
    } else {
      stats_.bytes_delivered += queue_.back().bytes.size();
      due.push_back(std::move(queue_.back()));
    }
    queue_.pop_back();
  }
  stats_.delivered += due.size();
  return due;
}

}  // namespace volley::netsim
