// Rendering a datagram through Volley's wire codec (decode_header, open_body, CommandReader,
// verify_checksum), in the receive order ENet uses: decompress, then checksum, then commands.
// The commands are decoded even when the checksum fails, because a dump is for looking at
// traffic that a peer would have dropped.
#include "datagram_dump.hpp"

#include <variant>

#include "hex_input.hpp"
#include "volley/protocol/byte_io.hpp"

namespace volley::tools {
namespace {

using namespace volley::protocol;

std::string hex32(std::uint32_t value) {
  std::array<std::uint8_t, 4> bytes{};
  store_be32(bytes, 0, value);
  return hex_string(bytes, bytes.size());
}

void write_connect_params(JsonWriter& json, const ConnectParams& p) {
  json.field("outgoing_peer_id", p.outgoing_peer_id)
      .field("incoming_session_id", p.incoming_session_id)
      .field("outgoing_session_id", p.outgoing_session_id)
      .field("mtu", p.mtu)
      .field("window_size", p.window_size)
      .field("channel_count", p.channel_count)
      .field("incoming_bandwidth", p.incoming_bandwidth)
      .field("outgoing_bandwidth", p.outgoing_bandwidth)
      .field("packet_throttle_interval", p.packet_throttle_interval)
      .field("packet_throttle_acceleration", p.packet_throttle_acceleration)
      .field("packet_throttle_deceleration", p.packet_throttle_deceleration)
      .field("connect_id", hex_string(p.connect_id, p.connect_id.size()));
}

void write_payload(JsonWriter& json, Bytes payload) {
  json.field("payload_length", std::uint64_t{payload.size()})
      .field("payload_hex", hex_string(payload, kPayloadHexBytes));
}

void write_body(JsonWriter& json, const CommandBody& body) {
  std::visit(
      [&json](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Acknowledge>) {
          json.field("received_reliable_sequence", b.received_reliable_sequence)
              .field("received_sent_time", b.received_sent_time);
        } else if constexpr (std::is_same_v<T, Connect>) {
          write_connect_params(json, b.params);
          json.field("data", b.data);
        } else if constexpr (std::is_same_v<T, VerifyConnect>) {
          write_connect_params(json, b.params);
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          json.field("data", b.data);
        } else if constexpr (std::is_same_v<T, SendReliable>) {
          write_payload(json, b.payload);
        } else if constexpr (std::is_same_v<T, SendUnreliable>) {
          json.field("unreliable_sequence", b.unreliable_sequence);
          write_payload(json, b.payload);
        } else if constexpr (std::is_same_v<T, SendFragment>) {
          json.field("start_sequence", b.start_sequence)
              .field("fragment_count", b.fragment_count)
              .field("fragment_number", b.fragment_number)
              .field("total_length", b.total_length)
              .field("fragment_offset", b.fragment_offset);
          write_payload(json, b.payload);
        } else if constexpr (std::is_same_v<T, SendUnsequenced>) {
          json.field("unsequenced_group", b.unsequenced_group);
          write_payload(json, b.payload);
        } else if constexpr (std::is_same_v<T, BandwidthLimit>) {
          json.field("incoming_bandwidth", b.incoming_bandwidth)
              .field("outgoing_bandwidth", b.outgoing_bandwidth);
        } else if constexpr (std::is_same_v<T, ThrottleConfigure>) {
          json.field("interval", b.interval)
              .field("acceleration", b.acceleration)
              .field("deceleration", b.deceleration);
        }
      },
      body);
}

void write_command(JsonWriter& json, const Command& command) {
  json.begin_object();
  json.field("command", command_name(command.header.type));
  json.begin_array("flags");
  if (command.header.acknowledge) json.value("acknowledge");
  if (command.header.unsequenced) json.value("unsequenced");
  json.end_array();
  json.field("channel", command.header.channel)
      .field("reliable_sequence", command.header.reliable_sequence);
  write_body(json, command.body);
  json.end_object();
}

void write_origin(JsonWriter& json, const DatagramOrigin& origin, std::size_t length) {
  json.field("index", std::uint64_t{origin.index});
  if (origin.line) json.field("line", std::uint64_t{*origin.line});
  if (origin.time) json.raw_field("time", *origin.time);
  if (origin.src) json.field("src", to_string(*origin.src));
  if (origin.dst) json.field("dst", to_string(*origin.dst));
  json.field("length", std::uint64_t{length});
  if (origin.capture_truncated) json.field("capture_truncated", true);
  if (origin.gso_segments > 0) {
    json.field("gso_segment", std::uint64_t{origin.gso_segment})
        .field("gso_segments", std::uint64_t{origin.gso_segments});
  }
}

}  // namespace

std::optional<ChecksumSeed> DatagramDumper::known_seed(const DatagramOrigin& origin) const {
  const Endpoint src = origin.src.value_or(Endpoint{});
  const Endpoint dst = origin.dst.value_or(Endpoint{});
  if (const auto it = seeds_.find({src, dst}); it != seeds_.end()) return it->second;
  if (const auto it = seeds_.find({dst, src}); it != seeds_.end()) return it->second;
  return std::nullopt;
}

std::string DatagramDumper::dump(const DatagramOrigin& origin, ByteView datagram) {
  JsonWriter json;
  json.begin_object();
  write_origin(json, origin, datagram.size());
  std::optional<DecodeError> error;

  const auto header = decode_header(datagram, checksum_mode_);
  if (!header.ok()) {
    ++errors_;
    json.field("error", decode_error_name(header.error)).begin_array("commands").end_array();
    return json.end_object().str();
  }
  const HeaderView& view = *header.value;
  json.field("peer_id", view.header.peer_id)
      .field("session", view.header.session)
      .field("compressed", view.header.compressed);
  if (view.header.sent_time) {
    json.field("sent_time", *view.header.sent_time);
  } else {
    json.raw_field("sent_time", "null");
  }

  // The header flag decides: a session that uses the range coder marks each coded datagram.
  const auto body = open_body(view, true, scratch_);
  if (!body.ok()) {
    ++errors_;
    if (view.checksum) json.field("crc", hex32(*view.checksum));
    json.field("error", decode_error_name(body.error)).begin_array("commands").end_array();
    return json.end_object().str();
  }
  const Bytes commands = *body.value;
  if (view.header.compressed) {
    json.field("compressed_length", std::uint64_t{view.body.size()})
        .field("decompressed_length", std::uint64_t{commands.size()});
  }

  // Commands first, so that a CONNECT or VERIFY_CONNECT in this very datagram can supply the
  // connectID its own checksum is seeded with.
  JsonWriter listed;
  listed.begin_array({});
  CommandReader reader(commands, view.header.peer_id == kMaxPeerId);
  Command command;
  while (reader.next(command)) {
    write_command(listed, command);
    const SessionKey from_client{origin.src.value_or(Endpoint{}), origin.dst.value_or(Endpoint{})};
    if (const auto* connect = std::get_if<Connect>(&command.body)) {
      seeds_[from_client] = connect->params.connect_id;
    } else if (const auto* verify = std::get_if<VerifyConnect>(&command.body)) {
      const SessionKey to_client{from_client.second, from_client.first};
      if (!known_seed(origin)) seeds_[to_client] = verify->params.connect_id;
    }
  }
  listed.end_array();

  if (view.checksum) {
    json.field("crc", hex32(*view.checksum));
    // ENet seeds with zero until the sender knows the receiver's peer id (CONNECT, refusals).
    const std::optional<ChecksumSeed> seed =
        view.header.peer_id == kMaxPeerId ? std::optional<ChecksumSeed>(ChecksumSeed{})
                                          : known_seed(origin);
    if (!seed) {
      json.field("checksum", "unverified");
    } else if (verify_checksum(datagram, view, commands, *seed)) {
      json.field("checksum", "ok");
    } else {
      json.field("checksum", "bad");
      error = DecodeError::kBadChecksum;
    }
  }
  if (reader.error()) {
    if (error) {
      json.field("command_error", decode_error_name(*reader.error()));
    } else {
      error = reader.error();
    }
  }
  if (error) {
    ++errors_;
    json.field("error", decode_error_name(*error));
  }
  json.raw_field("commands", listed.str());
  return json.end_object().str();
}

}  // namespace volley::tools
