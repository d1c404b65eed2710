// The impairment model; see volley/netsim/link.hpp. Each send draws its fate from the link's own generator in a
// fixed order, so a seed reproduces the exact same loss/dup/reorder pattern.
#include "volley/netsim/link.hpp"

#include <algorithm>

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

void Link::send(TimePoint now, Bytes datagram) {
  ++stats_.sent;
  if (dead || (drop_if && drop_if(datagram))) {
    ++stats_.lost;
    return;
  }
  if (datagram.size() > impairment_.mtu) {
    ++stats_.oversize;
    return;
  }
  if (bad_) bad_ = !chance(impairment_.burst_exit);
  else bad_ = chance(impairment_.burst_enter);
  if (chance(impairment_.loss) || (bad_ && chance(impairment_.burst_loss))) {
    ++stats_.lost;
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
    queue_.push_back(InFlight{now + delay, order_++, {datagram.begin(), datagram.end()}});
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
    if (dead) ++stats_.lost;  // a dead link also loses what was already in flight
    else due.push_back(std::move(queue_.back()));
    queue_.pop_back();
  }
  stats_.delivered += due.size();
  return due;
}

}  // namespace volley::netsim
