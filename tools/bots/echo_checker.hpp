// The echo contract, checked for one bot's session against volley-server --mode echo (or any
// server with the same contract): every reliable message comes back exactly once and in order
// per channel, unreliable sequenced messages never come back reordered or twice, and every
// payload comes back intact on the channel and with the delivery it was sent with. Pure: the
// caller feeds it what it sent and what came back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "echo_message.hpp"

namespace volley::bots {

struct EchoCounts {
  std::uint64_t reliable_sent = 0;
  std::uint64_t reliable_received = 0;      // distinct messages back
  std::uint64_t reliable_lost = 0;          // never back by finish()
  std::uint64_t reliable_duplicated = 0;    // back a second time
  std::uint64_t reliable_out_of_order = 0;  // back after a later one of its channel
  std::uint64_t unreliable_sent = 0;
  std::uint64_t unreliable_received = 0;
  std::uint64_t unreliable_reordered = 0;   // not newer than the newest back on its channel
  std::uint64_t corrupt = 0;                // bad CRC, another bot's, wrong channel or delivery
  void add(const EchoCounts& o) noexcept;
  std::uint64_t violations() const noexcept {
    return reliable_lost + reliable_duplicated + reliable_out_of_order + unreliable_reordered + corrupt;
  }
};

class EchoChecker {
 public:
  EchoChecker(std::uint32_t bot, std::size_t channels);

  // The next message for (channel, delivery) and counts it sent. Reliable and kUnreliable only.
  EchoMessage next(std::uint8_t channel, Delivery delivery, TimePoint now);
  // The transport refused the message next() just gave: it never left, so it is not counted
  // sent and its sequence number goes to the next message.
  void unsend(const EchoMessage& m);
  // A packet came back on `channel` with `delivery`. Returns the round-trip time of a valid,
  // first-time message; nullopt for anything counted as a violation. kUnreliableFragment is a
  // kUnreliable message too large for one datagram (the swarm sends unreliable ones so).
  std::optional<TimePoint> on_echo(std::uint8_t channel, Delivery delivery,
                                   std::span<const std::uint8_t> bytes, TimePoint now);
  // Reliable messages sent and not back yet (a drain waits for 0).
  std::uint64_t reliable_outstanding() const noexcept;
  // The session is over: reliable messages still out are lost. Returns the session's counts.
  EchoCounts finish();
  const EchoCounts& counts() const noexcept { return counts_; }

 private:
  // A window of reliable sequence numbers skipped by a later arrival; bounded, and anything
  // pushed out of it is counted lost at once (a stream that broken has failed anyway).
  static constexpr std::size_t kMaxMissing = 256;
  struct Reliable {
    std::uint32_t next_send = 0;
    std::uint32_t expected = 0;
    std::vector<std::uint32_t> missing;
  };
  struct Unreliable {
    std::uint32_t next_send = 0;
    std::optional<std::uint32_t> newest;
  };
  void on_reliable(Reliable& s, std::uint32_t sequence);

  std::uint32_t bot_;
  std::vector<Reliable> reliable_;
  std::vector<Unreliable> unreliable_;
  EchoCounts counts_;
};

}  // namespace volley::bots
