// Whole-datagram steps around the command codec: the order ENet applies CRC32 and range coding.
// Sender: assemble header + CRC slot + commands, then finish_datagram() (CRC over the
// uncompressed commands, then compression). Receiver: decode_header(), open_body() (decompress),
// verify_checksum() with the peer's seed, then CommandReader over the result.
#pragma once

#include <cstddef>
#include <optional>

#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {

// libenet decompresses into a 4096-byte buffer minus the header; larger results are dropped.
inline constexpr std::size_t kMaxDecompressedBody = kMaxMtu;

// open_body's range-coded case, out of line (see below).
DecodeResult<Bytes> open_compressed_body(const HeaderView& view, bool compression_enabled,
                                         MutableBytes scratch) noexcept;

// The command bytes of a datagram: `view.body` itself, or its range-decoded form in `scratch`
// (at least kMaxDecompressedBody bytes). Errors: kCompressedNotEnabled, kDecompressFailed.
// Inline for an uncompressed body, nearly every datagram.
inline DecodeResult<Bytes> open_body(const HeaderView& view, bool compression_enabled,
                                     MutableBytes scratch) noexcept {
  if (!view.header.compressed) return {view.body, DecodeError::kCount};
  return open_compressed_body(view, compression_enabled, scratch);
}

struct FinishOptions {
  bool checksum = false;
  ChecksumSeed seed{};    // used when checksum is set
  bool compress = false;  // range-code the commands when that makes them strictly shorter
};

// `datagram` holds the encoded header (with its zeroed CRC slot in checksum mode) followed by
// the uncompressed commands, `header_size` bytes of header excluding the CRC slot. Sets the
// COMPRESSED flag and replaces the commands when compression wins, then writes the CRC.
// Returns the final datagram length (never more than datagram.size()).
std::size_t finish_datagram(MutableBytes datagram, std::size_t header_size,
                            const FinishOptions& options) noexcept;

}  // namespace volley::protocol

namespace volley::protocol {

struct OpenOptions {
  bool checksum = false;     // this host runs ENet's CRC32 mode
  bool compression = false;  // this host runs ENet's range coder
};

struct OpenedDatagram {
  HeaderView view;
  Bytes commands;  // uncompressed, checksum verified; feed to CommandReader
};

// The receive pipeline in one call, with an admission step between the header and the body:
// `admit(const Header&)` returns the CRC seed to verify with, or nullopt to drop the datagram
// (then the result has no value and `error` is DecodeError::kCount: the admitter knows why).
// A Peer admits by peer id, session and state; the plain overload below admits everything.
// Returns the command bytes only: the caller holds the header it decoded. Inline so the
// admitter inlines on the per-datagram path.
template <class Admit>
DecodeResult<Bytes> open_admitted_commands(Bytes datagram, const HeaderView& header,
                                           const OpenOptions& options, MutableBytes scratch,
                                           const Admit& admit) {
  const std::optional<ChecksumSeed> seed = admit(header.header);
  if (!seed) return {std::nullopt, DecodeError::kCount};
  auto body = open_body(header, options.compression, scratch);
  if (body.ok() && options.checksum && !verify_checksum(datagram, header, *body.value, *seed))
    return {std::nullopt, DecodeError::kBadChecksum};
  return body;
}

// The same with the header view beside the commands, for callers that keep no view of their own.
template <class Admit>
DecodeResult<OpenedDatagram> open_admitted_datagram(Bytes datagram, const HeaderView& header,
                                                    const OpenOptions& options, MutableBytes scratch,
                                                    const Admit& admit) {
  const auto commands = open_admitted_commands(datagram, header, options, scratch, admit);
  if (!commands.ok()) return {std::nullopt, commands.error};
  return {OpenedDatagram{header, *commands.value}, DecodeError::kCount};
}

// The same from the raw bytes: decodes the header first. A caller that has already decoded it
// (the server Host, to route) passes that view to open_admitted_commands: once per datagram.
template <class Admit>
DecodeResult<OpenedDatagram> open_admitted_datagram(Bytes datagram, const OpenOptions& options,
                                                    MutableBytes scratch, const Admit& admit) {
  const auto header = decode_header(datagram, options.checksum);
  if (!header.ok()) return {std::nullopt, header.error};
  return open_admitted_datagram(datagram, *header.value, options, scratch, admit);
}

// Seeded with `peer_seed` unless the header's peer id is 0xFFF, which ENet seeds with zero.
// Errors: kTruncatedHeader, kTruncatedChecksum, kCompressedNotEnabled, kDecompressFailed,
// kBadChecksum.
DecodeResult<OpenedDatagram> open_datagram(Bytes datagram, const OpenOptions& options,
                                           const ChecksumSeed& peer_seed,
                                           MutableBytes scratch) noexcept;

}  // namespace volley::protocol
