// A segment must end where a command of the first datagram ends, so those ends are the only
// sizes tried, each checked over the whole packet: linear work per candidate, at most
// kMaxCommandsPerDatagram candidates, whatever the packet holds.
#include "gso_split.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::tools {
namespace {

using namespace volley::protocol;

// libenet writes every command that is not about a channel (PING, CONNECT, VERIFY_CONNECT,
// DISCONNECT, BANDWIDTH_LIMIT, THROTTLE_CONFIGURE) with channel 0xFF, and so does Volley. The
// next datagram's header read as a command often decodes as one of these with another channel.
bool off_peer_channel(const CommandHeader& header) noexcept {
  switch (header.type) {
    case CommandType::kPing:
    case CommandType::kConnect:
    case CommandType::kVerifyConnect:
    case CommandType::kDisconnect:
    case CommandType::kBandwidthLimit:
    case CommandType::kThrottleConfigure:
      return header.channel != kPeerLevelChannel;
    default:
      return false;
  }
}

// The header when header, body and every command decode with no error, there is at least one
// command and none is a peer-level command off channel 0xFF; nullopt otherwise.
std::optional<Header> clean_header(ByteView datagram, bool checksum_mode) noexcept {
  const auto header = decode_header(datagram, checksum_mode);
  if (!header.ok()) return std::nullopt;
  std::array<std::uint8_t, kMaxDecompressedBody> scratch;
  const auto body = open_body(*header.value, true, scratch);
  if (!body.ok()) return std::nullopt;
  CommandReader reader(*body.value, header.value->header.peer_id == kMaxPeerId);
  Command command;
  while (reader.next(command)) {
    if (off_peer_channel(command.header)) return std::nullopt;
  }
  if (reader.error() || reader.count() == 0) return std::nullopt;
  return header.value->header;
}

struct Split {
  bool clean = false;      // every segment decodes cleanly
  bool same_time = false;  // and every header carries the first one's sentTime
  bool same_peer = false;  // or none carries a sentTime and every one names the first one's peer
};

Split try_split(ByteView payload, std::size_t segment, bool checksum_mode, const Header& first) noexcept {
  Split split{true, first.sent_time.has_value(), !first.sent_time.has_value()};
  for (std::size_t i = 0; i < gso_piece_count(payload, segment); ++i) {
    const auto header = clean_header(gso_piece(payload, segment, i), checksum_mode);
    if (!header) return {};
    split.same_time = split.same_time && header->sent_time == first.sent_time;
    split.same_peer = split.same_peer && !header->sent_time && header->peer_id == first.peer_id &&
                      header->session == first.session;
  }
  return split;
}

}  // namespace

std::size_t gso_piece_count(ByteView payload, std::size_t segment) noexcept {
  return (payload.size() + segment - 1) / segment;
}

ByteView gso_piece(ByteView payload, std::size_t segment, std::size_t i) noexcept {
  const std::size_t at = i * segment;
  return payload.subspan(at, std::min(segment, payload.size() - at));
}

std::optional<std::size_t> gso_segment_size(ByteView payload, bool checksum_mode) noexcept {
  const auto header = decode_header(payload, checksum_mode);
  if (!header.ok() || header.value->header.compressed) return std::nullopt;
  const HeaderView& view = *header.value;
  const bool whole = clean_header(payload, checksum_mode).has_value();
  std::optional<std::size_t> fallback;
  // Read on past the first datagram's end: the next one's header then reads as commands (an
  // ENet header often does: 0x8n in its first byte is a command number with the ACK flag) or
  // as an error, which only adds candidates that fail the checks.
  CommandReader reader(view.body, view.header.peer_id == kMaxPeerId);
  std::size_t end = payload.size() - view.body.size();
  Command command;
  while (reader.next(command)) {
    end += encoded_size(command);
    if (end > kMaxMtu || end >= payload.size()) break;
    const Split split = try_split(payload, end, checksum_mode, view.header);
    // One sender's pass stamps every datagram of a run with the same time, and a run without
    // time stamps (ACKs only) goes to one address, so usually to one peer, every header the
    // same: either settles it even when the packet also happens to read as one datagram. Without
    // either mark, a split is taken only for a packet that is not a clean datagram by itself.
    if (split.clean && (split.same_time || split.same_peer)) return end;
    if (split.clean && !whole && !fallback) fallback = end;
  }
  return fallback;
}

}  // namespace volley::tools
