// The network impairment model: one direction of a path with seeded random loss,
// Gilbert-Elliott burst loss, duplication, reordering, latency, jitter and an MTU limit, plus a
// surgical drop hook for scenario tests. Sans-IO and deterministic for a given seed (the link
// owns its std::mt19937_64): the in-process simulation tests and the volley-netsim proxy drive
// the same code, one with a virtual clock and one with the loop's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "volley/vocabulary/bytes.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::netsim {


struct Impairment {
  double loss = 0.0;             // independent loss probability per datagram
  double burst_enter = 0.0;      // P(good -> bad) per datagram
  double burst_exit = 0.25;      // P(bad -> good) per datagram
  double burst_loss = 1.0;       // loss probability while bad
  double duplicate = 0.0;        // probability of delivering a second copy
  double reorder = 0.0;          // probability of an extra delay that lets later datagrams pass
  TimePoint reorder_delay = 15 * kMillisecond;
  TimePoint latency = 10 * kMillisecond;
  TimePoint jitter = 0;          // uniform extra delay in [0, jitter]
  std::size_t mtu = 65536;       // larger datagrams are dropped (and counted)
};

struct InFlight {
  TimePoint deliver_at = 0;
  std::uint64_t order = 0;  // tie-break: equal times deliver in send order
  std::vector<std::uint8_t> bytes;
};

struct LinkStats {
  std::uint64_t sent = 0, lost = 0, duplicated = 0, reordered = 0, oversize = 0, delivered = 0;
};

class Link {
 public:
  Link(Impairment impairment, std::uint64_t seed) : impairment_(impairment), rng_(seed) {}

  void send(TimePoint now, Bytes datagram);
  std::optional<TimePoint> next_delivery() const;
  // Removes and returns every datagram due at `now`, in delivery order.
  std::vector<InFlight> take_due(TimePoint now);

  Impairment& impairment() { return impairment_; }
  const LinkStats& stats() const { return stats_; }
  // Surgical drops: return true to drop this datagram (called before random impairments).
  std::function<bool(Bytes)> drop_if;
  bool dead = false;  // drops everything, including datagrams already in flight

 private:
  bool chance(double p);
  Impairment impairment_;
  std::mt19937_64 rng_;
  bool bad_ = false;
  std::uint64_t order_ = 0;
  std::vector<InFlight> queue_;  // kept as a min-heap on (deliver_at, order)
  LinkStats stats_;
};

}  // namespace volley::netsim
