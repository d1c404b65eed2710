// HostStats names and arithmetic.
#include "stats.hpp"

namespace volley::server {

std::string_view host_drop_name(HostDrop drop) noexcept {
  switch (drop) {
    case HostDrop::kTruncatedHeader: return "drop_host_truncated_header";
    case HostDrop::kUnknownPeer: return "drop_host_unknown_peer";
    case HostDrop::kDepartedPeer: return "drop_host_departed_peer";
    case HostDrop::kBadConnect: return "drop_host_bad_connect";
    case HostDrop::kBadChannelCount: return "drop_host_bad_channel_count";
    case HostDrop::kRetransmittedConnect: return "drop_host_retransmitted_connect";
    case HostDrop::kRefusedFull: return "drop_host_refused_full";
    case HostDrop::kRefusedPerIp: return "drop_host_refused_per_ip";
    case HostDrop::kRefusedShutdown: return "drop_host_refused_shutdown";
    case HostDrop::kHandshakeRateGlobal: return "drop_host_handshake_rate_global";
    case HostDrop::kHandshakeRateAddress: return "drop_host_handshake_rate_address";
    case HostDrop::kHandshakeReplyTooLarge: return "drop_host_handshake_reply_too_large";
    case HostDrop::kHandshakeWrongCookie: return "drop_host_handshake_wrong_cookie";
    case HostDrop::kHandshakeBadDatagram: return "drop_host_handshake_bad_datagram";
    case HostDrop::kAddressFull: return "drop_host_address_full";
    case HostDrop::kCount: break;
  }
  return "unknown";
}

std::uint64_t HostStats::bad_datagrams() const noexcept {
  using protocol::Counter;
  std::uint64_t n = (*this)[HostDrop::kTruncatedHeader] + (*this)[HostDrop::kUnknownPeer] +
                    (*this)[HostDrop::kBadConnect] + (*this)[HostDrop::kBadChannelCount] +
                    (*this)[HostDrop::kHandshakeWrongCookie] +
                    (*this)[HostDrop::kHandshakeBadDatagram];
  for (Counter c : {Counter::kDropTruncatedHeader, Counter::kDropBadChecksum,
                    Counter::kDropCompressedNotEnabled, Counter::kDropDecompressFailed,
                    Counter::kDropWrongPeerId, Counter::kDropWrongSession, Counter::kDropPeerNotLive,
                    Counter::kDropUnexpectedConnect, Counter::kDropMalformedCommand,
                    Counter::kDropNotConnect}) {
    n += peers[c];
  }
  return n;
}

void add_counters(const protocol::Counters& counters, protocol::Counters& totals) noexcept {
  for (std::size_t i = 0; i < protocol::kCounterCount; ++i) {
    const auto counter = static_cast<protocol::Counter>(i);
    if (const std::uint64_t value = counters[counter]; value != 0) totals.add(counter, value);
  }
}

}  // namespace volley::server
