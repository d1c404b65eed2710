// The datagram header and its optional CRC32 slot (libenet protocol.c:
// enet_protocol_handle_incoming_commands on receive, enet_protocol_send_outgoing_commands on send).
// The CRC covers the header as sent, the slot holding the seed (connectID or zero), and the
// UNcompressed commands, so compression and checksumming must be applied in ENet's order.
#include <algorithm>

#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/crc32.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {

DecodeResult<HeaderView> decode_header(Bytes datagram, bool checksum_mode) noexcept {
  ByteReader reader(datagram);
  const std::uint16_t raw = reader.u16();
  if (!reader.ok()) return {std::nullopt, DecodeError::kTruncatedHeader};

  HeaderView view;
  view.header.peer_id = raw & kMaxPeerId;
  view.header.session = static_cast<std::uint8_t>((raw & kHeaderSessionMask) >> kHeaderSessionShift);
  view.header.compressed = (raw & kHeaderFlagCompressed) != 0;
  if (raw & kHeaderFlagSentTime) {
    const std::uint16_t sent_time = reader.u16();
    if (!reader.ok()) return {std::nullopt, DecodeError::kTruncatedHeader};
    view.header.sent_time = sent_time;
  }
  view.header_size = reader.position();
  if (checksum_mode) {
    const std::uint32_t crc = reader.u32();
    if (!reader.ok()) return {std::nullopt, DecodeError::kTruncatedChecksum};
    view.checksum = crc;
  }
  view.body = datagram.subspan(reader.position());
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
