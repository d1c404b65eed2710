// Counter names: the stats-JSON keys. One switch over Counter so the compiler flags a missing
// name when a reason is added.
#include "volley/protocol/counters.hpp"

namespace volley::protocol {

std::string_view counter_name(Counter counter) noexcept {
  switch (counter) {
    case Counter::kDatagramsIn: return "datagrams_in";
    case Counter::kDatagramsOut: return "datagrams_out";
    case Counter::kBytesIn: return "bytes_in";
    case Counter::kBytesOut: return "bytes_out";
    case Counter::kPacketsIn: return "packets_in";
    case Counter::kPacketsOut: return "packets_out";
    case Counter::kPayloadBytesIn: return "payload_bytes_in";
    case Counter::kPayloadBytesOut: return "payload_bytes_out";
    case Counter::kCommandsIn: return "commands_in";
    case Counter::kCommandsOut: return "commands_out";
    case Counter::kAcksOut: return "acks_out";
    case Counter::kAcksIn: return "acks_in";
    case Counter::kPingsOut: return "pings_out";
    case Counter::kRetransmits: return "retransmits";
    case Counter::kDropTruncatedHeader: return "drop_truncated_header";
    case Counter::kDropBadChecksum: return "drop_bad_checksum";
    case Counter::kDropCompressedNotEnabled: return "drop_compressed_not_enabled";
    case Counter::kDropDecompressFailed: return "drop_decompress_failed";
    case Counter::kDropWrongPeerId: return "drop_wrong_peer_id";
    case Counter::kDropWrongSession: return "drop_wrong_session";
    case Counter::kDropPeerNotLive: return "drop_peer_not_live";
    case Counter::kDropUnexpectedConnect: return "drop_unexpected_connect";
    case Counter::kDropMalformedCommand: return "drop_malformed_command";
    case Counter::kDropNotConnect: return "drop_not_connect";
    case Counter::kDropWrongState: return "drop_wrong_state";
    case Counter::kDropBadChannel: return "drop_bad_channel";
    case Counter::kDropBadChannelCount: return "drop_bad_channel_count";
    case Counter::kDropBadFragment: return "drop_bad_fragment";
    case Counter::kDropFragmentCountLimit: return "drop_fragment_count_limit";
    case Counter::kDropFragmentLengthLimit: return "drop_fragment_length_limit";
    case Counter::kDropWaitingDataLimit: return "drop_waiting_data_limit";
    case Counter::kDropWaitingTotalLimit: return "drop_waiting_total_limit";
    case Counter::kDropHeldCommandsLimit: return "drop_held_commands_limit";
    case Counter::kDropAckWithoutSentTime: return "drop_ack_without_sent_time";
    case Counter::kDropUnexpectedAck: return "drop_unexpected_ack";
    case Counter::kDropVerifyMismatch: return "drop_verify_mismatch";
    case Counter::kDropAckQueueFull: return "drop_ack_queue_full";
    case Counter::kDropAckFromFuture: return "drop_ack_from_future";
    case Counter::kDropOutsideWindow: return "drop_outside_window";
    case Counter::kDropDuplicate: return "drop_duplicate";
    case Counter::kDropStaleUnreliable: return "drop_stale_unreliable";
    case Counter::kDropAbandonedUnreliable: return "drop_abandoned_unreliable";
    case Counter::kDropUnsequencedOld: return "drop_unsequenced_old";
    case Counter::kDropUnsequencedDuplicate: return "drop_unsequenced_duplicate";
    case Counter::kDropDisconnectLater: return "drop_disconnect_later";
    case Counter::kDropTrailingBytes: return "drop_trailing_bytes";
    case Counter::kThrottleDropped: return "throttle_dropped";
    case Counter::kDropSendQueueFull: return "drop_send_queue_full";
    case Counter::kCount: break;
  }
  return "?";
}

Counters::Counters(const Counters& other)
    : traffic_(other.traffic_), rare_(other.rare_ ? std::make_unique<Rare>(*other.rare_) : nullptr) {}

Counters& Counters::operator=(const Counters& other) {
  if (this != &other) {
    traffic_ = other.traffic_;
    if (!other.rare_) {
      rare_.reset();
    } else if (rare_) {
      *rare_ = *other.rare_;
    } else {
      rare_ = std::make_unique<Rare>(*other.rare_);
    }
  }
  return *this;
}

void Counters::add_rare(std::size_t index, std::uint64_t amount) {
  if (amount == 0) return;  // adding nothing allocates nothing
  if (!rare_) rare_ = std::make_unique<Rare>();
  (*rare_)[index] += amount;
}

std::uint64_t Counters::drops() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto counter = static_cast<Counter>(i);
    if (counter_name(counter).starts_with("drop_")) total += (*this)[counter];
  }
  return total;
}

}  // namespace volley::protocol
