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
// 4,000 peers, BENCHMARKS.md). The hold doubles with each empty nap and shrinks with each nap
// that paid, by the times it gathered what a wait without a nap delivers (at least halved): a
// burst of a hundred datagrams that plain waits take three at a time, as io_uring's do, ends in
// one empty nap, and one nap that gathered thirty times as much must outweigh it, or the holds
// pile up to 64 deliveries and cover the next burst (measured with 4,000 idle stock clients,
// BENCHMARKS.md, twenty-fifth session).
//
// Nor does a nap pay when it gathers little more than a wait without one would have: load that
// already arrives in bursts (a load generator serving thousands of peers, a client's batched
// sends) shares each wake-up among the burst, and the nap adds its timer and up to the cap of
// latency (measured with a 1,000 µs cap at 4,000 peers: waits without a nap delivered about 13
// datagrams, naps 12 to 20, for 10-50 % more CPU per echo; BENCHMARKS.md, twenty-third
// session). So a nap that gathered less than 1.5 times the running average of waits without one
// counts as an empty nap, and while napping every kProbeEvery-th wait is taken without a nap to
// keep that average current. Not twice: a nap lasts only what is left of the cap since the
// latest delivery (nap_us), so under load spread out evenly it gathers what arrives in one cap,
// against what arrived during the pass for a wait without one; measured at 512 peers x 60,000/s
// spread out, 14-15 against 7-8 (BENCHMARKS.md, twenty-fourth session).
//
// A nap also ends later than it asked: the timer's wake-up, and on io_uring the sends its enter
// issues before the wait and the receives the kernel runs after it (about 55 µs a nap at 512
// peers x 60,000/s spread out, where io_uring's RTT p99 grew 215-252 µs over no coalescing with
// a 200 µs cap). Naps are shortened by the running average of that overrun, measured on the
// naps that paid, so the wait a nap adds stays within the cap (BENCHMARKS.md, twenty-fifth
// session).
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
  // While napping, one wait in this many is taken without a nap (it measures what such a wait
  // delivers).
  static constexpr unsigned kProbeEvery = 32;

  // What the wait's nap did: none was taken, it found nothing, or it gathered datagrams.
  enum class Nap : std::uint8_t { kNone, kEmpty, kGathered };

  explicit NapRule(std::uint32_t cap_us) noexcept : cap_(cap_us) {}

  // The next blocking wait should nap (never true with a cap of 0).
  bool napping() const noexcept { return napping_ && naps_since_probe_ < kProbeEvery; }

  // How long that nap may last at `now`: the cap less the time since the latest delivery and
  // the naps' average overrun (nap_took), and no more than `limit` (the caller's next
  // deadline). A datagram that arrived while the pass after that delivery ran has been waiting
  // since then; a full cap on top would delay it by the pass plus the cap. 0: the cap has
  // passed already, so the wait takes no nap.
  std::int64_t nap_us(TimePoint now, std::int64_t limit) const noexcept {
    const std::int64_t left = static_cast<std::int64_t>(cap_) - (now - last_delivery_) - overrun_x16_ / 16;
    return std::clamp<std::int64_t>(left, 0, std::min<std::int64_t>(limit, cap_));
  }

  // This wait's nap asked for `asked` µs and returned `took` µs after it began; after_wait
  // counts the overrun only if the nap paid (one that found nothing may sleep on far longer).
  void nap_took(std::int64_t asked, std::int64_t took) noexcept {
    overrun_ = std::clamp<std::int64_t>(took - asked, 0, cap_);
  }

  // The nap found nothing waiting: napping stops, held back for a doubled number of deliveries.
  void nap_empty() noexcept {
    napping_ = false;
    backoff_ = std::min(backoff_ == 0 ? 1u : 2 * backoff_, kMaxHold);
    hold_ = backoff_;
  }

  // After every wait: it delivered `delivered` datagrams, the latest at `delivered_at`;
  // `more_queued` if it stopped at its round limit; `nap` what its nap did. Returns whether the
  // nap counted as empty: it found nothing, or gathered too little to pay (napping stops).
  bool after_wait(std::size_t delivered, TimePoint delivered_at, bool more_queued, Nap nap) noexcept {
    if (cap_ == 0) return false;
    const std::int64_t overrun = overrun_;
    overrun_ = -1;
    naps_since_probe_ = nap == Nap::kNone ? 0 : naps_since_probe_ + 1;
    if (nap == Nap::kEmpty) nap_empty();
    if (delivered == 0 || more_queued) {
      napping_ = false;
      return nap == Nap::kEmpty;
    }
    // Within the cap of the delivery before: a nap of the cap would have gathered both.
    const bool flowing = delivered_at - last_delivery_ <= static_cast<TimePoint>(cap_);
    last_delivery_ = delivered_at;
    if (nap == Nap::kNone) {
      if (flowing) note_plain(delivered);  // only flowing traffic is ever napped for
    } else if (nap == Nap::kGathered) {
      if (!pays(delivered)) {
        nap_empty();
        return true;
      }
      backoff_ /= shrink(delivered);
      if (overrun >= 0) overrun_x16_ += (overrun * 16 - overrun_x16_) >> 3;
    }
    if (!napping_) {
      if (hold_ > 0) {
        --hold_;
      } else {
        napping_ = flowing;
      }
    }
    return nap == Nap::kEmpty;
  }

  unsigned hold() const noexcept { return hold_; }
  // How much later than asked the naps that paid returned, a running average in µs.
  std::int64_t overrun() const noexcept { return overrun_x16_ / 16; }
  // Datagrams delivered per wait without a nap while traffic flows, a running average (0
  // before the first).
  double plain() const noexcept { return plain_x16_ / 16.0; }

 private:
  // A nap pays when it gathered at least 1.5 times what a wait without one delivers.
  bool pays(std::size_t gathered) const noexcept {
    return !plain_seen_ || static_cast<std::int64_t>(std::min<std::size_t>(gathered, 4096)) * 32 >= 3 * plain_x16_;
  }
  // What a nap that paid divides the hold by: the times it gathered what a wait without one
  // delivers (it saved about that many wake-ups less one, where an empty nap wastes about one),
  // and at least 2.
  unsigned shrink(std::size_t gathered) const noexcept {
    if (!plain_seen_) return 2;
    const std::int64_t times = static_cast<std::int64_t>(std::min<std::size_t>(gathered, 4096)) * 16 /
                               std::max<std::int64_t>(plain_x16_, 1);
    return static_cast<unsigned>(std::max<std::int64_t>(times, 2));  // at most 4096
  }
  // A running average over about the last eight such waits, in sixteenths; the first sets it.
  void note_plain(std::size_t delivered) noexcept {
    const std::int64_t sample = static_cast<std::int64_t>(std::min<std::size_t>(delivered, 4096)) * 16;
    plain_x16_ = plain_seen_ ? plain_x16_ + ((sample - plain_x16_) >> 3) : sample;
    plain_seen_ = true;
  }

  std::uint32_t cap_;
  bool napping_ = false;
  bool plain_seen_ = false;
  unsigned backoff_ = 0;  // the hold the latest empty nap set, shrunk by each nap that paid
  unsigned hold_ = 0;     // deliveries still to pass before napping may start again
  unsigned naps_since_probe_ = 0;  // waits that napped since the last one that did not
  std::int64_t plain_x16_ = 0;     // datagrams per wait without a nap, x16 (note_plain)
  TimePoint last_delivery_ = 0;
  std::int64_t overrun_ = -1;       // this wait's nap's overrun (nap_took); -1: none reported
  std::int64_t overrun_x16_ = 0;    // the running average over about eight paid naps, x16
};

}  // namespace volley::engine
