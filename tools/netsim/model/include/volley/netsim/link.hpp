// The network impairment model: one direction of a path with seeded random loss,
// Gilbert-Elliott burst loss, duplication, reordering, latency, jitter, a bandwidth cap with a
// bounded queue and an MTU limit, plus a surgical drop hook for scenario tests. Sans-IO and deterministic for a given seed (the link
// owns its std::mt19937_64): the in-process simulation tests and the volley-netsim proxy drive
// the same code, one with a virtual clock and one with the loop's.
#pragma once

#include <cstddef>
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
  // Bandwidth cap: a bottleneck that sends rate_bytes_per_s (0: no cap) behind a FIFO of at
  // most rate_queue_bytes; a datagram that would overflow the FIFO is dropped (rate_dropped).
  // Queueing there delays datagrams before latency and jitter are added.
  double rate_bytes_per_s = 0.0;
  std::size_t rate_queue_bytes = 64 * 1024;
  // Datagrams the link may hold at once (its memory bound); more are dropped (queue_full).
  std::size_t max_in_flight = static_cast<std::size_t>(-1);
};

struct InFlight {
  TimePoint deliver_at = 0;
  std::uint64_t order = 0;  // tie-break: equal times deliver in send order
  std::uint64_t tag = 0;    // the sender's, handed back untouched (the proxy's client)
  std::vector<std::uint8_t> bytes;
};

// Every datagram given to send() ends in exactly one of lost, burst_lost, oversize,
// rate_dropped, queue_full, or delivered; `delivered` counts copies, so a duplicated datagram
// adds one to both `duplicated` and `delivered`.
struct LinkStats {
  std::uint64_t sent = 0, lost = 0, duplicated = 0, reordered = 0, oversize = 0, delivered = 0;
  std::uint64_t burst_lost = 0;    // lost while the Gilbert-Elliott chain was in its bad state
  std::uint64_t rate_dropped = 0;  // the bandwidth cap's queue was full
  std::uint64_t queue_full = 0;    // max_in_flight datagrams already held
  std::uint64_t bytes_delivered = 0;
};

class Link {
 public:
  Link(Impairment impairment, std::uint64_t seed) : impairment_(impairment), rng_(seed) {}

  void send(TimePoint now, Bytes datagram, std::uint64_t tag = 0);
  std::optional<TimePoint> next_delivery() const;
  std::size_t in_flight() const { return queue_.size(); }
  // Removes and returns every datagram due at `now`, in delivery order.
  std::vector<InFlight> take_due(TimePoint now);

  Impairment& impairment() { return impairment_; }
  const LinkStats& stats() const { return stats_; }
  // Surgical drops: return true to drop this datagram (called before random impairments).
  std::function<bool(Bytes)> drop_if;
  bool dead = false;  // drops everything, including datagrams already in flight

 private:
  bool chance(double p);
  double rate_backlog(TimePoint now) const;
  Impairment impairment_;
  std::mt19937_64 rng_;
  bool bad_ = false;
  TimePoint rate_free_at_ = 0;  // when the bottleneck has sent everything queued so far
  std::uint64_t order_ = 0;
  std::vector<InFlight> queue_;  // kept as a min-heap on (deliver_at, order)
  LinkStats stats_;
};

}  // namespace volley::netsim
