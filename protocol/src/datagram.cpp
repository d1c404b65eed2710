// Range coding and CRC32 around an assembled datagram, in libenet's order. On send
// (enet_protocol_send_outgoing_commands) the CRC is computed over the header with its final
// COMPRESSED bit, the seed, and the uncompressed commands; the coded body then replaces the
// commands. On receive the body is decoded first and the CRC checked over the decoded commands.
#include <algorithm>
#include <array>
#include <cstring>

#include "volley/protocol/datagram.hpp"
#include "volley/protocol/range_coder.hpp"

namespace volley::protocol {

DecodeResult<Bytes> open_compressed_body(const HeaderView& view, bool compression_enabled,
                                         MutableBytes scratch) noexcept {
  if (!compression_enabled) return {std::nullopt, DecodeError::kCompressedNotEnabled};
  // libenet decodes into a 4096-byte buffer that also holds the header and CRC slot.
  const std::size_t prefix = view.header_size + (view.checksum ? kChecksumSize : 0);
  const std::size_t limit = std::min(scratch.size(), kMaxDecompressedBody - std::min(prefix, kMaxDecompressedBody));
  const std::size_t n = range_coder_decompress(view.body, scratch.first(limit));
  if (n == 0) return {std::nullopt, DecodeError::kDecompressFailed};
  return {Bytes(scratch.data(), n), DecodeError::kCount};
}

std::size_t finish_datagram(MutableBytes datagram, std::size_t header_size,
                            const FinishOptions& options) noexcept {
  const std::size_t prefix = header_size + (options.checksum ? kChecksumSize : 0);
  if (datagram.size() < prefix || header_size < 2) return datagram.size();
  const MutableBytes commands = datagram.subspan(prefix);

  std::array<std::uint8_t, kMaxMtu> coded;
  std::size_t coded_size = 0;
  if (options.compress && !commands.empty()) {
    // Only a strictly shorter result is used, so a coded body never needs more room.
    const std::size_t room = std::min(coded.size(), commands.size() - 1);
    coded_size = range_coder_compress(Bytes(commands.data(), commands.size()),
                                      MutableBytes(coded.data(), room));
    if (coded_size > 0) datagram[0] |= static_cast<std::uint8_t>(kHeaderFlagCompressed >> 8);
  }
  if (options.checksum) write_checksum(datagram, header_size, options.seed);
  if (coded_size == 0) return datagram.size();
  std::memcpy(commands.data(), coded.data(), coded_size);
  return prefix + coded_size;
}

}  // namespace volley::protocol

namespace volley::protocol {

DecodeResult<OpenedDatagram> open_datagram(Bytes datagram, const OpenOptions& options,
                                           const ChecksumSeed& peer_seed,
                                           MutableBytes scratch) noexcept {
  return open_admitted_datagram(datagram, options, scratch, [&](const Header& h) -> std::optional<ChecksumSeed> {
    return h.peer_id == kMaxPeerId ? ChecksumSeed{} : peer_seed;
  });
}

}  // namespace volley::protocol
