// The 12 ENet commands: fixed-size table, decode into values, encode from values. The stream
// walk mirrors libenet's enet_protocol_handle_incoming_commands: each check that makes libenet
// stop parsing is a named DecodeError here, and commands before the failure stay valid.
#include <array>
#include <cstring>
#include <type_traits>

#include "volley/protocol/byte_io.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {
namespace {

// libenet protocol.c commandSizes[]; index 0 is the invalid command number.
constexpr std::array<std::size_t, kCommandTypeCount> kCommandSizes = {
    0, 8, 48, 44, 8, 4, 6, 8, 24, 8, 12, 16, 24};

constexpr std::array<std::string_view, kCommandTypeCount> kCommandNames = {
    "NONE",           "ACKNOWLEDGE",     "CONNECT",           "VERIFY_CONNECT",
    "DISCONNECT",     "PING",            "SEND_RELIABLE",     "SEND_UNRELIABLE",
    "SEND_FRAGMENT",  "SEND_UNSEQUENCED", "BANDWIDTH_LIMIT",  "THROTTLE_CONFIGURE",
    "SEND_UNRELIABLE_FRAGMENT"};

constexpr std::array<std::string_view, kDecodeErrorCount> kDecodeErrorNames = {
    "truncated_header",  "truncated_checksum", "bad_checksum",      "compressed_not_enabled",
    "decompress_failed", "trailing_bytes",     "unknown_command",   "command_truncated",
    "payload_past_end",  "payload_too_large",  "too_many_commands", "not_connect"};

constexpr std::size_t kCommandHeaderSize = 4;

// encode_command finds a type's body at variant index (number - 1).
template <CommandType type, class Body>
constexpr bool body_at_number =
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(type) - 1, CommandBody>, Body>;
static_assert(body_at_number<CommandType::kAcknowledge, Acknowledge>);
static_assert(body_at_number<CommandType::kConnect, Connect>);
static_assert(body_at_number<CommandType::kVerifyConnect, VerifyConnect>);
static_assert(body_at_number<CommandType::kDisconnect, Disconnect>);
static_assert(body_at_number<CommandType::kPing, Ping>);
static_assert(body_at_number<CommandType::kSendReliable, SendReliable>);
static_assert(body_at_number<CommandType::kSendUnreliable, SendUnreliable>);
static_assert(body_at_number<CommandType::kSendFragment, SendFragment>);
static_assert(body_at_number<CommandType::kSendUnsequenced, SendUnsequenced>);
static_assert(body_at_number<CommandType::kBandwidthLimit, BandwidthLimit>);
static_assert(body_at_number<CommandType::kThrottleConfigure, ThrottleConfigure>);
static_assert(std::variant_size_v<CommandBody> == kCommandTypeCount - 2);  // 12 numbers, 11 bodies

ConnectParams read_connect_params(ByteReader& r) noexcept {
  ConnectParams p;
  p.outgoing_peer_id = r.u16();
  p.incoming_session_id = r.u8();
  p.outgoing_session_id = r.u8();
  p.mtu = r.u32();
  p.window_size = r.u32();
  p.channel_count = r.u32();
  p.incoming_bandwidth = r.u32();
  p.outgoing_bandwidth = r.u32();
  p.packet_throttle_interval = r.u32();
  p.packet_throttle_acceleration = r.u32();
  p.packet_throttle_deceleration = r.u32();
  const auto id = r.bytes(4);
  if (id.size() == 4) std::copy(id.begin(), id.end(), p.connect_id.begin());
  return p;
}

void write_connect_params(ByteWriter& w, const ConnectParams& p) noexcept {
  w.u16(p.outgoing_peer_id);
  w.u8(p.incoming_session_id);
  w.u8(p.outgoing_session_id);
  w.u32(p.mtu);
  w.u32(p.window_size);
  w.u32(p.channel_count);
  w.u32(p.incoming_bandwidth);
  w.u32(p.outgoing_bandwidth);
  w.u32(p.packet_throttle_interval);
  w.u32(p.packet_throttle_acceleration);
  w.u32(p.packet_throttle_deceleration);
  w.bytes(p.connect_id);
}

// Decodes the fixed part of command `type` (the reader is positioned after the command header
// and holds exactly the fixed part). Payload lengths are returned for the caller to check.
// Decodes the fixed part of a command of `type` straight into `body` (no temporary variant).
// For a command that carries data, returns where its payload view goes and sets its length;
// the caller checks the length before pointing the view at the bytes.
Bytes* read_fixed(CommandType type, ByteReader& r, CommandBody& body, std::uint16_t& payload_length) noexcept {
  payload_length = 0;
  switch (type) {
    case CommandType::kAcknowledge: {
      auto& a = body.emplace<Acknowledge>();
      a.received_reliable_sequence = r.u16();
      a.received_sent_time = r.u16();
      return nullptr;
    }
    case CommandType::kConnect: {
      auto& c = body.emplace<Connect>();
      c.params = read_connect_params(r);
      c.data = r.u32();
      return nullptr;
    }
    case CommandType::kVerifyConnect:
      body.emplace<VerifyConnect>(VerifyConnect{read_connect_params(r)});
      return nullptr;
    case CommandType::kDisconnect:
      body.emplace<Disconnect>(Disconnect{r.u32()});
      return nullptr;
    case CommandType::kPing:
      body.emplace<Ping>();
      return nullptr;
    case CommandType::kSendReliable: {
      auto& s = body.emplace<SendReliable>();
      payload_length = r.u16();
      return &s.payload;
    }
    case CommandType::kSendUnreliable: {
      auto& s = body.emplace<SendUnreliable>();
      s.unreliable_sequence = r.u16();
      payload_length = r.u16();
      return &s.payload;
    }
    case CommandType::kSendFragment:
    case CommandType::kSendUnreliableFragment: {
      auto& f = body.emplace<SendFragment>();
      f.start_sequence = r.u16();
      payload_length = r.u16();
      f.fragment_count = r.u32();
      f.fragment_number = r.u32();
      f.total_length = r.u32();
      f.fragment_offset = r.u32();
      return &f.payload;
    }
    case CommandType::kSendUnsequenced: {
      auto& s = body.emplace<SendUnsequenced>();
      s.unsequenced_group = r.u16();
      payload_length = r.u16();
      return &s.payload;
    }
    case CommandType::kBandwidthLimit: {
      auto& b = body.emplace<BandwidthLimit>();
      b.incoming_bandwidth = r.u32();
      b.outgoing_bandwidth = r.u32();
      return nullptr;
    }
    case CommandType::kThrottleConfigure: {
      auto& t = body.emplace<ThrottleConfigure>();
      t.interval = r.u32();
      t.acceleration = r.u32();
      t.deceleration = r.u32();
      return nullptr;
    }
  }
  body.emplace<Ping>();  // unreachable: the caller validated the number
  return nullptr;
}

Bytes payload_of(const CommandBody& body) noexcept {
  return std::visit(
      [](const auto& b) -> Bytes {
        if constexpr (requires { b.payload; }) {
          return b.payload;
        } else {
          return {};
        }
      },
      body);
}

}  // namespace

std::size_t command_size(CommandType type) noexcept {
  const auto n = static_cast<std::size_t>(type);
  return n < kCommandSizes.size() ? kCommandSizes[n] : 0;
}

std::string_view command_name(CommandType type) noexcept {
  const auto n = static_cast<std::size_t>(type);
  return n < kCommandNames.size() ? kCommandNames[n] : "UNKNOWN";
}

std::string_view decode_error_name(DecodeError error) noexcept {
  const auto n = static_cast<std::size_t>(error);
  return n < kDecodeErrorNames.size() ? kDecodeErrorNames[n] : "unknown_error";
}

CommandReader::CommandReader(Bytes commands, bool from_unknown_peer, CommandLimits limits) noexcept
    : rest_(commands), from_unknown_peer_(from_unknown_peer), limits_(limits) {}

bool CommandReader::read_next(Command& out) noexcept {
  const auto fail = [this](DecodeError e) {
    error_ = e;
    rest_ = {};
    return false;
  };
  if (rest_.size() < kCommandHeaderSize) return fail(DecodeError::kTrailingBytes);

  // The 4 header bytes are there (checked above): read without a reader's checks.
  const std::uint8_t raw = rest_[0];
  const std::uint8_t number = raw & kCommandNumberMask;
  if (number == 0 || number >= kCommandTypeCount) return fail(DecodeError::kUnknownCommand);
  const auto type = static_cast<CommandType>(number);
  const std::size_t fixed = kCommandSizes[number];
  if (fixed > rest_.size()) return fail(DecodeError::kCommandTruncated);
  if (from_unknown_peer_ && type != CommandType::kConnect) return fail(DecodeError::kNotConnect);
  if (count_ >= limits_.max_commands) return fail(DecodeError::kTooManyCommands);

  out.header.type = type;
  out.header.acknowledge = (raw & kCommandFlagAcknowledge) != 0;
  out.header.unsequenced = (raw & kCommandFlagUnsequenced) != 0;
  out.header.channel = rest_[1];
  out.header.reliable_sequence = load_be16(rest_, 2);

  ByteReader fixed_reader(rest_.subspan(kCommandHeaderSize, fixed - kCommandHeaderSize));
  std::uint16_t payload_length = 0;
  Bytes* const payload = read_fixed(type, fixed_reader, out.body, payload_length);
  std::size_t consumed = fixed;
  if (payload != nullptr) {
    if (payload_length > limits_.max_packet_size) return fail(DecodeError::kPayloadTooLarge);
    if (payload_length > rest_.size() - fixed) return fail(DecodeError::kPayloadPastEnd);
    *payload = rest_.subspan(fixed, payload_length);
    consumed += payload_length;
  }
  rest_ = rest_.subspan(consumed);
  ++count_;
  return true;
}

std::size_t encoded_size(const Command& command) noexcept {
  return command_size(command.header.type) + payload_of(command.body).size();
}

namespace {

// The body of an ACKNOWLEDGE, after its 4 header bytes (`out` holds the whole command).
void store_acknowledge(MutableBytes out, const Acknowledge& ack) noexcept {
  store_be16(out, 4, ack.received_reliable_sequence);
  store_be16(out, 6, ack.received_sent_time);
}

}  // namespace

std::size_t encode_acknowledge(std::uint8_t channel, const Acknowledge& ack, MutableBytes out) noexcept {
  constexpr auto number = static_cast<std::size_t>(CommandType::kAcknowledge);
  if (out.size() < kCommandSizes[number]) return 0;
  out[0] = static_cast<std::uint8_t>(number);
  out[1] = channel;
  store_be16(out, 2, ack.received_reliable_sequence);
  store_acknowledge(out, ack);
  return kCommandSizes[number];
}

std::size_t encode_command(const Command& command, MutableBytes out) noexcept {
  return encode_command(command.header, command.body, out);
}

std::size_t encode_command(const CommandHeader& header, const CommandBody& body, MutableBytes out) noexcept {
  const CommandType type = header.type;
  const auto number = static_cast<std::size_t>(type);
  if (number == 0 || number >= kCommandTypeCount) return 0;
  // The body must be the header's type, or its size would disagree with the table. Bodies are
  // declared in command-number order; both fragment commands share SendFragment.
  const std::size_t body_index = type == CommandType::kSendUnreliableFragment
                                     ? static_cast<std::size_t>(CommandType::kSendFragment) - 1
                                     : number - 1;
  if (body.index() != body_index) return 0;
  const std::size_t fixed = kCommandSizes[number];
  // One dispatch on the body for its payload and its fields: this runs for every command of
  // every datagram.
  return std::visit(
      [&](const auto& b) -> std::size_t {
        using T = std::decay_t<decltype(b)>;
        Bytes payload;
        if constexpr (requires { b.payload; }) payload = b.payload;
        if (payload.size() > 0xFFFF) return 0;  // dataLength is 16 bits on the wire
        if (out.size() < fixed || out.size() - fixed < payload.size()) return 0;
        // Every size is checked above, so the fields are stored without a check each.
        std::uint8_t raw = static_cast<std::uint8_t>(number);
        if (header.acknowledge) raw |= kCommandFlagAcknowledge;
        if (header.unsequenced) raw |= kCommandFlagUnsequenced;
        out[0] = raw;
        out[1] = header.channel;
        store_be16(out, 2, header.reliable_sequence);
        const auto length = static_cast<std::uint16_t>(payload.size());
        if constexpr (std::is_same_v<T, Acknowledge>) {
          store_acknowledge(out, b);
        } else if constexpr (std::is_same_v<T, Connect>) {
          ByteWriter w(out.subspan(kCommandHeaderSize, fixed - kCommandHeaderSize));
          write_connect_params(w, b.params);
          w.u32(b.data);
        } else if constexpr (std::is_same_v<T, VerifyConnect>) {
          ByteWriter w(out.subspan(kCommandHeaderSize, fixed - kCommandHeaderSize));
          write_connect_params(w, b.params);
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          store_be32(out, 4, b.data);
        } else if constexpr (std::is_same_v<T, SendReliable>) {
          store_be16(out, 4, length);
        } else if constexpr (std::is_same_v<T, SendUnreliable>) {
          store_be16(out, 4, b.unreliable_sequence);
          store_be16(out, 6, length);
        } else if constexpr (std::is_same_v<T, SendFragment>) {
          store_be16(out, 4, b.start_sequence);
          store_be16(out, 6, length);
          store_be32(out, 8, b.fragment_count);
          store_be32(out, 12, b.fragment_number);
          store_be32(out, 16, b.total_length);
          store_be32(out, 20, b.fragment_offset);
        } else if constexpr (std::is_same_v<T, SendUnsequenced>) {
          store_be16(out, 4, b.unsequenced_group);
          store_be16(out, 6, length);
        } else if constexpr (std::is_same_v<T, BandwidthLimit>) {
          store_be32(out, 4, b.incoming_bandwidth);
          store_be32(out, 8, b.outgoing_bandwidth);
        } else if constexpr (std::is_same_v<T, ThrottleConfigure>) {
          store_be32(out, 4, b.interval);
          store_be32(out, 8, b.acceleration);
          store_be32(out, 12, b.deceleration);
        }
        if (!payload.empty()) std::memcpy(out.data() + fixed, payload.data(), payload.size());
        return fixed + payload.size();
      },
      body);
}

}  // namespace volley::protocol
