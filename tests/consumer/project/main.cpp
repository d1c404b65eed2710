// Links the installed libraries and exercises one call of each.
#include <volley/protocol/enet_wire.hpp>
#include <volley/server/version.hpp>
#include <volley/snapshot/codec.hpp>

#include <array>
#include <cstdio>
#include <vector>

// One snapshot through the installed codec: encode a full frame, decode it, compare.
static bool snapshot_round_trip() {
  using namespace volley::snapshot;
  Schema schema;
  const FieldWidth fields[2] = {-16, 8};
  schema.add_type(fields);
  Frame frame;
  frame.number = 7;
  const std::int32_t values[2] = {-1234, 200};
  frame.add(42, 0, values);
  std::vector<std::uint8_t> packet(1024);
  Encoder encoder(schema, CodecConfig{});
  packet.resize(encoder.encode(nullptr, frame, {}, packet));
  Decoder decoder(schema, CodecConfig{});
  Frame out;
  std::vector<Event> events;
  return !packet.empty() && decoder.decode(packet, nullptr, out, events) == DecodeError::kOk && out == frame;
}

int main() {
  using namespace volley::protocol;
  std::array<std::uint8_t, 8> out{};
  Command ping;
  ping.header = {CommandType::kPing, true, false, kPeerLevelChannel, 1};
  ping.body = Ping{};
  const std::size_t n = encode_command(ping, out);
  std::printf("%.*s; PING encodes to %zu bytes\n", static_cast<int>(volley::server::version().size()),
              volley::server::version().data(), n);
  const bool snapshot_ok = snapshot_round_trip();
  std::printf("snapshot round trip: %s\n", snapshot_ok ? "ok" : "FAILED");
  return n == 4 && snapshot_ok ? 0 : 1;
}
