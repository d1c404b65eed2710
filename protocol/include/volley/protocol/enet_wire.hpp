// ENet 1.3 wire format as values: the datagram header, the 12 commands, and the codec between
// them and bytes. Pure functions over caller-owned buffers: no sockets, no clock, no allocation
// on the decode path. Field meanings: shared docs/enet-protocol.md sections 1 and 2.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "volley/vocabulary/bytes.hpp"

namespace volley::protocol {

using volley::Bytes;
using volley::MutableBytes;

// --- constants (libenet 1.3.17 protocol.h / enet.h) -------------------------------------------
inline constexpr std::uint16_t kHeaderFlagSentTime = 0x8000;
inline constexpr std::uint16_t kHeaderFlagCompressed = 0x4000;
inline constexpr std::uint16_t kHeaderSessionMask = 0x3000;
inline constexpr int kHeaderSessionShift = 12;
inline constexpr std::uint16_t kMaxPeerId = 0x0FFF;  // also "no peer yet" in a CONNECT
inline constexpr std::uint8_t kCommandFlagAcknowledge = 0x80;
inline constexpr std::uint8_t kCommandFlagUnsequenced = 0x40;
inline constexpr std::uint8_t kCommandNumberMask = 0x0F;
inline constexpr std::uint8_t kPeerLevelChannel = 0xFF;
inline constexpr std::size_t kChecksumSize = 4;
inline constexpr std::size_t kMaxCommandsPerDatagram = 32;
inline constexpr std::uint32_t kMinMtu = 576;
inline constexpr std::uint32_t kMaxMtu = 4096;
inline constexpr std::uint32_t kDefaultMtu = 1400;  // 1.3.17; 1392 only from 1.3.18
inline constexpr std::uint32_t kMinWindowSize = 4096;
inline constexpr std::uint32_t kMaxWindowSize = 65536;
inline constexpr std::uint32_t kMinChannelCount = 1;
inline constexpr std::uint32_t kMaxChannelCount = 255;
inline constexpr std::uint32_t kMaxFragmentCount = 1024 * 1024;
inline constexpr std::uint32_t kDefaultMaxPacketSize = 32 * 1024 * 1024;
// libenet's fixed per-datagram overhead used to size fragments: F = mtu - 28 (- 4 with CRC).
inline constexpr std::uint32_t kFragmentOverhead = 28;

enum class CommandType : std::uint8_t {
  kAcknowledge = 1,
  kConnect = 2,
  kVerifyConnect = 3,
  kDisconnect = 4,
  kPing = 5,
  kSendReliable = 6,
  kSendUnreliable = 7,
  kSendFragment = 8,
  kSendUnsequenced = 9,
  kBandwidthLimit = 10,
  kThrottleConfigure = 11,
  kSendUnreliableFragment = 12,
};
inline constexpr int kCommandTypeCount = 13;  // numbers 1..12 are valid; 0 and >= 13 are not

// Fixed size of each command including its 4-byte command header, excluding payload.
std::size_t command_size(CommandType type) noexcept;
std::string_view command_name(CommandType type) noexcept;

// --- header -----------------------------------------------------------------------------------
struct Header {
  std::uint16_t peer_id = kMaxPeerId;  // receiver's peer index; kMaxPeerId = none yet
  std::uint8_t session = 0;            // 2 bits
  bool compressed = false;
  std::optional<std::uint16_t> sent_time;  // low 16 bits of the sender's ms clock
};

// --- commands ---------------------------------------------------------------------------------
struct CommandHeader {
  CommandType type = CommandType::kPing;
  bool acknowledge = false;  // ACKNOWLEDGE flag: receiver must ack
  bool unsequenced = false;  // UNSEQUENCED flag: steers the sender's numbering only
  std::uint8_t channel = kPeerLevelChannel;
  std::uint16_t reliable_sequence = 0;
};

struct Acknowledge {
  std::uint16_t received_reliable_sequence = 0;
  std::uint16_t received_sent_time = 0;
};

// Fields shared by CONNECT and VERIFY_CONNECT.
struct ConnectParams {
  std::uint16_t outgoing_peer_id = 0;
  std::uint8_t incoming_session_id = 0xFF;
  std::uint8_t outgoing_session_id = 0xFF;
  std::uint32_t mtu = kDefaultMtu;
  std::uint32_t window_size = kMaxWindowSize;
  std::uint32_t channel_count = 1;
  std::uint32_t incoming_bandwidth = 0;
  std::uint32_t outgoing_bandwidth = 0;
  std::uint32_t packet_throttle_interval = 5000;
  std::uint32_t packet_throttle_acceleration = 2;
  std::uint32_t packet_throttle_deceleration = 2;
  // Opaque: libenet writes it in host byte order, so it is kept as the raw wire bytes.
  std::array<std::uint8_t, 4> connect_id{};
  friend bool operator==(const ConnectParams&, const ConnectParams&) = default;
};

struct Connect {
  ConnectParams params;
  std::uint32_t data = 0;
};
struct VerifyConnect {
  ConnectParams params;
};
struct Disconnect {
  std::uint32_t data = 0;
};
struct Ping {};
struct SendReliable {
  Bytes payload;
};
struct SendUnreliable {
  std::uint16_t unreliable_sequence = 0;
  Bytes payload;
};
// SEND_FRAGMENT (8) and SEND_UNRELIABLE_FRAGMENT (12) share this layout; CommandHeader::type
// tells them apart. For 12, start_sequence is the packet's unreliable sequence number.
struct SendFragment {
  std::uint16_t start_sequence = 0;
  std::uint32_t fragment_count = 0;
  std::uint32_t fragment_number = 0;
  std::uint32_t total_length = 0;
  std::uint32_t fragment_offset = 0;
  Bytes payload;
};
struct SendUnsequenced {
  std::uint16_t unsequenced_group = 0;
  Bytes payload;
};
struct BandwidthLimit {
  std::uint32_t incoming_bandwidth = 0;
  std::uint32_t outgoing_bandwidth = 0;
};
struct ThrottleConfigure {
  std::uint32_t interval = 0;
  std::uint32_t acceleration = 0;
  std::uint32_t deceleration = 0;
};

using CommandBody = std::variant<Acknowledge, Connect, VerifyConnect, Disconnect, Ping, SendReliable,
                                 SendUnreliable, SendFragment, SendUnsequenced, BandwidthLimit,
                                 ThrottleConfigure>;

// Payload spans point into the buffer the command was decoded from (or will be encoded from).
struct Command {
  CommandHeader header;
  CommandBody body;
};

// --- decoding ---------------------------------------------------------------------------------
enum class DecodeError : std::uint8_t {
  kTruncatedHeader,       // shorter than the 2 (or 4 with sent time) header bytes
  kTruncatedChecksum,     // checksum mode, but no room for the 4-byte CRC slot
  kBadChecksum,           // CRC32 mismatch
  kCompressedNotEnabled,  // COMPRESSED flag set but this host does not use the range coder
  kDecompressFailed,      // range-coder body corrupt, empty, or larger than the limit
  kTrailingBytes,         // 1..3 bytes left after the last command (libenet ignores them)
  kUnknownCommand,        // command number 0 or >= 13
  kCommandTruncated,      // the command's fixed size runs past the end of the datagram
  kPayloadPastEnd,        // dataLength runs past the end of the datagram
  kPayloadTooLarge,       // dataLength exceeds the configured maximum packet size
  kTooManyCommands,       // more than kMaxCommandsPerDatagram commands
  kNotConnect,            // peer id 0xFFF but the command is not CONNECT
  kCount
};
inline constexpr std::size_t kDecodeErrorCount = static_cast<std::size_t>(DecodeError::kCount);
std::string_view decode_error_name(DecodeError error) noexcept;

// A parsed datagram header plus where its parts lie in the datagram.
struct HeaderView {
  Header header;
  std::size_t header_size = 0;  // 2 or 4
  // Checksum mode only: the CRC as carried on the wire (big-endian value).
  std::optional<std::uint32_t> checksum;
  Bytes body;  // the (possibly compressed) command bytes after header and CRC slot
};

template <class T>
struct DecodeResult {
  std::optional<T> value;
  DecodeError error = DecodeError::kCount;
  bool ok() const noexcept { return value.has_value(); }
};

DecodeResult<HeaderView> decode_header(Bytes datagram, bool checksum_mode) noexcept;
// The same, into `out` (left unspecified on failure); kCount on success. For the per-datagram
// routing step, where building and copying the optional result cost more than the reads.
DecodeError decode_header(Bytes datagram, bool checksum_mode, HeaderView& out) noexcept;

// ENet's CRC seed for a datagram: the raw connectID bytes when the header names a known peer,
// else zero (CONNECT and the client's first datagrams).
using ChecksumSeed = std::array<std::uint8_t, 4>;

// Verifies the CRC32 of a checksum-mode datagram. `commands` are the uncompressed command bytes
// (after range decoding if the datagram was compressed): the CRC covers them, not the wire body.
bool verify_checksum(Bytes datagram, const HeaderView& view, Bytes commands,
                     const ChecksumSeed& seed) noexcept;

struct CommandLimits {
  std::uint32_t max_packet_size = kDefaultMaxPacketSize;
  std::size_t max_commands = kMaxCommandsPerDatagram;
};

// Walks the command stream the way libenet does: each next() yields one command or stops. After
// an error the reader is exhausted; commands already returned stay valid (ENet keeps their
// effects). `from_unknown_peer` (header id 0xFFF) permits only CONNECT.
class CommandReader {
 public:
  CommandReader(Bytes commands, bool from_unknown_peer, CommandLimits limits = {}) noexcept;

  // Returns false at the end of the stream or on error; check error() to tell which. Inline
  // test first: every datagram's walk ends with a call that finds nothing left (an error
  // empties the rest too).
  bool next(Command& out) noexcept { return !rest_.empty() && read_next(out); }
  std::optional<DecodeError> error() const noexcept { return error_; }
  std::size_t count() const noexcept { return count_; }

 private:
  bool read_next(Command& out) noexcept;

  Bytes rest_;
  bool from_unknown_peer_;
  CommandLimits limits_;
  std::size_t count_ = 0;
  std::optional<DecodeError> error_;
};

// --- encoding ---------------------------------------------------------------------------------
// Bytes a command occupies on the wire, payload included.
std::size_t encoded_size(const Command& command) noexcept;

// Bytes encode_header writes for `header`: 2 or 4, + the 4-byte CRC slot in checksum mode.
constexpr std::size_t encoded_header_size(const Header& header, bool checksum_mode) noexcept {
  return (header.sent_time ? 4 : 2) + (checksum_mode ? kChecksumSize : 0);
}

// Writes the header (2 or 4 bytes, + the 4-byte CRC slot in checksum mode, zero-filled).
// Returns bytes written, or 0 if `out` is too small.
std::size_t encode_header(const Header& header, bool checksum_mode, MutableBytes out) noexcept;

// Writes one command; returns bytes written, or 0 if `out` is too small.
std::size_t encode_command(const Command& command, MutableBytes out) noexcept;
// The same from a header and body held apart (a queued command), without building a Command.
std::size_t encode_command(const CommandHeader& header, const CommandBody& body, MutableBytes out) noexcept;
// An ACKNOWLEDGE (never flagged), the command every reliable receive answers with: the same
// bytes as encode_command, without building a body to dispatch on.
std::size_t encode_acknowledge(std::uint8_t channel, const Acknowledge& ack, MutableBytes out) noexcept;

// Fills the CRC slot of a fully assembled, uncompressed checksum-mode datagram.
void write_checksum(MutableBytes datagram, std::size_t header_size, const ChecksumSeed& seed) noexcept;

}  // namespace volley::protocol
