// Per-peer counters: every datagram or command the peer drops increments one named reason, plus
// traffic totals. Names are stable snake_case strings usable as stats-JSON keys; tables are sized
// by Counter::kCount so a new reason cannot be forgotten in the name table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace volley::protocol {

enum class Counter : std::uint8_t {
  // traffic
  kDatagramsIn,
  kDatagramsOut,
  kBytesIn,
  kBytesOut,
  kPacketsIn,        // application packets delivered
  kPacketsOut,       // application packets queued by send()
  kPayloadBytesIn,
  kPayloadBytesOut,
  kCommandsIn,
  kCommandsOut,
  kAcksOut,
  kAcksIn,
  kPingsOut,
  kRetransmits,      // reliable commands re-queued after their RTO
  // whole datagram dropped
  kDropTruncatedHeader,
  kDropBadChecksum,
  kDropCompressedNotEnabled,
  kDropDecompressFailed,
  kDropWrongPeerId,
  kDropWrongSession,
  kDropPeerNotLive,        // DISCONNECTED or ZOMBIE peer (libenet drops at the header)
  kDropUnexpectedConnect,  // CONNECT to a peer that is not a free server slot
  // rest of a datagram dropped (libenet stops parsing)
  kDropMalformedCommand,   // codec: unknown number, truncated, payload past end or too large
  kDropNotConnect,         // header id 0xFFF carried something other than CONNECT
  kDropWrongState,         // handler refused the command in this state
  kDropBadChannel,
  kDropBadChannelCount,    // CONNECT / VERIFY_CONNECT channel count outside [1, 255]
  kDropBadFragment,
  kDropFragmentCountLimit, // fragmentCount above PeerConfig::max_fragment_count
  kDropFragmentLengthLimit,// totalLength above PeerConfig::max_packet_size
  kDropWaitingDataLimit,   // this peer's undelivered bytes would pass max_waiting_data
  kDropWaitingTotalLimit,  // every peer's together would pass the shared (Host) budget
  kDropHeldCommandsLimit,  // max_held_commands received out of order are already held
  kDropAckWithoutSentTime, // reliable command in a datagram without header sentTime
  kDropUnexpectedAck,      // ACK that breaks the ACKNOWLEDGING_CONNECT / DISCONNECTING hook
  kDropVerifyMismatch,     // VERIFY_CONNECT echo does not match: connection aborted
  kDropAckQueueFull,
  // single command dropped, parsing continues
  kDropAckFromFuture,      // echoed sentTime rebuilds to a future time: ACK ignored
  kDropOutsideWindow,      // reliable window distance says too far ahead or old
  kDropDuplicate,          // reliable / unreliable / fragment already held or delivered
  kDropStaleUnreliable,    // older unreliable sequence number than already delivered
  kDropAbandonedUnreliable,// superseded or out-of-epoch queued unreliable packet
  kDropUnsequencedOld,     // unsequenced group outside the 32x1024 window
  kDropUnsequencedDuplicate,
  kDropDisconnectLater,    // data received in DISCONNECT_LATER: acked, discarded
  kDropTrailingBytes,      // 1..3 bytes after the last command (libenet ignores them)
  // sender side
  kThrottleDropped,        // unreliable packet dropped by the packet throttle
  kDropSendQueueFull,      // send() refused: max_queued_data unacknowledged bytes already queued
  kCount
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

std::string_view counter_name(Counter counter) noexcept;

// The traffic counters (kDatagramsIn..kRetransmits) sit inline; the drop reasons and the rest
// live in a block allocated by the first of them that moves. Most peers never drop anything, so
// a pooled Peer carries 112 B of counters instead of 344 B (docs/scale.md, "Memory").
class Counters {
 public:
  Counters() = default;
  Counters(const Counters& other);
  Counters& operator=(const Counters& other);
  Counters(Counters&&) noexcept = default;
  Counters& operator=(Counters&&) noexcept = default;
  ~Counters() = default;

  void add(Counter counter, std::uint64_t amount = 1) {
    const auto i = static_cast<std::size_t>(counter);
    if (i < kTrafficCount) {
      traffic_[i] += amount;
    } else {
      add_rare(i - kTrafficCount, amount);
    }
  }
  std::uint64_t operator[](Counter counter) const noexcept {
    const auto i = static_cast<std::size_t>(counter);
    if (i < kTrafficCount) return traffic_[i];
    return rare_ ? (*rare_)[i - kTrafficCount] : 0;
  }
  // Sum of every kDrop* counter.
  std::uint64_t drops() const noexcept;
  void clear() noexcept {
    traffic_ = {};
    rare_.reset();
  }

 private:
  static constexpr std::size_t kTrafficCount = static_cast<std::size_t>(Counter::kDropTruncatedHeader);
  using Rare = std::array<std::uint64_t, kCounterCount - kTrafficCount>;
  void add_rare(std::size_t index, std::uint64_t amount);

  std::array<std::uint64_t, kTrafficCount> traffic_{};
  std::unique_ptr<Rare> rare_;  // null until a drop (or throttle) counter first moves
};

}  // namespace volley::protocol
