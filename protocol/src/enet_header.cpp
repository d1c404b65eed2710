// The datagram header and its optional CRC32 slot (libenet protocol.c:
// enet_protocol_handle_incoming_commands on receive, enet_protocol_send_outgoing_commands on send).
// The CRC covers the header as sent, the slot holding the seed (connectID or zero), and the
// UNcompressed commands, so compression and checksumming must be applied in ENet's order.
#include <algorithm>

#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/crc32.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {

DecodeError decode_header(Bytes datagram, bool checksum_mode, HeaderView& out) noexcept {
  if (datagram.size() < 2) return DecodeError::kTruncatedHeader;
  const std::uint16_t raw = load_be16(datagram);
  const bool has_sent_time = (raw & kHeaderFlagSentTime) != 0;
  const std::size_t header_size = has_sent_time ? 4 : 2;
  if (datagram.size() < header_size) return DecodeError::kTruncatedHeader;
  const std::size_t body_at = header_size + (checksum_mode ? kChecksumSize : 0);
  if (datagram.size() < body_at) return DecodeError::kTruncatedChecksum;
  out.header.peer_id = raw & kMaxPeerId;
  out.header.session = static_cast<std::uint8_t>((raw & kHeaderSessionMask) >> kHeaderSessionShift);
  out.header.compressed = (raw & kHeaderFlagCompressed) != 0;
  out.header.sent_time.reset();
  if (has_sent_time) out.header.sent_time = load_be16(datagram, 2);
  out.header_size = header_size;
  out.checksum.reset();
  if (checksum_mode) out.checksum = load_be32(datagram, header_size);
  out.body = datagram.subspan(body_at);
  return DecodeError::kCount;
}

DecodeResult<HeaderView> decode_header(Bytes datagram, bool checksum_mode) noexcept {
  HeaderView view;
  const DecodeError error = decode_header(datagram, checksum_mode, view);
  if (error != DecodeError::kCount) return {std::nullopt, error};
  return {view, DecodeError::kCount};
}

std::size_t encode_header(const Header& header, bool checksum_mode, MutableBytes out) noexcept {
  ByteWriter writer(out);
  std::uint16_t raw = static_cast<std::uint16_t>(header.peer_id & kMaxPeerId);
  raw |= static_cast<std::uint16_t>((header.session & 3u) << kHeaderSessionShift);
  if (header.compressed) raw |= kHeaderFlagCompressed;
  if (header.sent_time) raw |= kHeaderFlagSentTime;
  writer.u16(raw);
  if (header.sent_time) writer.u16(*header.sent_time);
  if (checksum_mode) writer.u32(0);
  return writer.ok() ? writer.size() : 0;
}

namespace {

std::uint32_t checksum_of(Bytes header, const ChecksumSeed& seed, Bytes commands) noexcept {
  std::uint32_t state = crc32_update(kCrc32Init, header);
  state = crc32_update(state, seed);
  state = crc32_update(state, commands);
  return crc32_final(state);
}

}  // namespace

bool verify_checksum(Bytes datagram, const HeaderView& view, Bytes commands,
                     const ChecksumSeed& seed) noexcept {
  if (!view.checksum || datagram.size() < view.header_size) return false;
  return checksum_of(datagram.first(view.header_size), seed, commands) == *view.checksum;
}

void write_checksum(MutableBytes datagram, std::size_t header_size, const ChecksumSeed& seed) noexcept {
  if (datagram.size() < header_size + kChecksumSize) return;
  const Bytes whole(datagram.data(), datagram.size());
  const std::uint32_t crc =
      checksum_of(whole.first(header_size), seed, whole.subspan(header_size + kChecksumSize));
  ByteWriter writer(datagram.subspan(header_size, kChecksumSize));
  writer.u32(crc);
}

}  // namespace volley::protocol
