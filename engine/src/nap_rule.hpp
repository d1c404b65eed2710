// NapRule: whether a backend's next blocking wait should first gather datagrams for up to the
// coalescing cap (LoopConfig::coalesce_us). A "nap" is epoll's timed sleep before its harvest,
// or io_uring's wait for a batch within the cap; both cost a timer the kernel must run, which
// on a virtual machine is dear, so a nap pays only while it finds datagrams waiting.
//
// A delivery within the cap of the one before starts napping (a nap of the cap would have
// gathered both). A nap that found nothing, a wait that delivered nothing, or one that ended at
// its per-wait round limit (datagrams are still queued: no nap is needed to gather more) stops
// it. After an empty nap napping may start again only after a hold of deliveries: a burst that
// arrives in two deliveries, with the next burst further off than the cap, would otherwise start
// a nap that finds nothing once per burst (measured: 30% more CPU per echo than no coalescing at
// 4,000 peers, BENCHMARKS.md). The hold doubles with each empty nap and halves with each nap
// that gathered, so traffic where most naps pay keeps napping.
//
// Sans-IO: the backend reports what its waits did and the clock at each delivery.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "volley/engine/loop.hpp"

namespace volley::engine {

class NapRule {
 public:
  static constexpr unsigned kMaxHold = 64;

  explicit NapRule(std::uint32_t cap_us) noexcept : cap_(cap_us) {}

  // The next blocking wait should nap (never true with a cap of 0).
  bool napping() const noexcept { return napping_; }

  // The nap found nothing waiting: napping stops, held back for a doubled number of deliveries.
  void nap_empty() noexcept {
    napping_ = false;
    backoff_ = std::min(backoff_ == 0 ? 1u : 2 * backoff_, kMaxHold);
    hold_ = backoff_;
  }

  // After every wait: it delivered `delivered` datagrams, the latest at `delivered_at`;
  // `more_queued` if it stopped at its round limit; `gathered` if its nap found datagrams.
  void after_wait(std::size_t delivered, TimePoint delivered_at, bool more_queued, bool gathered) noexcept {
    if (cap_ == 0) return;
    if (delivered == 0 || more_queued) {
      napping_ = false;
      return;
    }
    if (gathered) backoff_ /= 2;
    if (!napping_) {
      if (hold_ > 0) {
        --hold_;
      } else {
        napping_ = delivered_at - last_delivery_ <= static_cast<TimePoint>(cap_);
      }
    }
    last_delivery_ = delivered_at;
  }

  unsigned hold() const noexcept { return hold_; }

 private:
  std::uint32_t cap_;
  bool napping_ = false;
  unsigned backoff_ = 0;  // the hold the latest empty nap set, halved by each nap that gathered
  unsigned hold_ = 0;     // deliveries still to pass before napping may start again
  TimePoint last_delivery_ = 0;
};

}  // namespace volley::engine
