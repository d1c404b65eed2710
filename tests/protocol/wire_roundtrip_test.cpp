// Property: any valid command sequence encodes, decodes to the same values and payload bytes,
// and re-encodes to the same bytes. Seeded; the seed is printed on failure.
#include <doctest/doctest.h>

#include "support/hex.hpp"
#include "support/seed.hpp"
#include "volley/protocol/datagram.hpp"
#include "wire_helpers.hpp"

using namespace volley::protocol;

namespace {

template <class Rng>
Command random_command(Rng& rng, std::vector<std::uint8_t>& payload_store) {
  const auto u16 = [&] { return static_cast<std::uint16_t>(rng()); };
  const auto u32 = [&] { return static_cast<std::uint32_t>(rng()); };
  Command c;
  c.header.type = static_cast<CommandType>(1 + rng() % 12);
  c.header.acknowledge = rng() & 1;
  c.header.unsequenced = rng() & 1;
  c.header.channel = static_cast<std::uint8_t>(rng());
  c.header.reliable_sequence = u16();
  payload_store.resize(rng() % 200);
  for (auto& b : payload_store) b = static_cast<std::uint8_t>(rng());
  const Bytes payload(payload_store);
  ConnectParams p;
  p.outgoing_peer_id = u16();
  p.incoming_session_id = static_cast<std::uint8_t>(rng());
  p.outgoing_session_id = static_cast<std::uint8_t>(rng());
  p.mtu = u32();
  p.window_size = u32();
  p.channel_count = u32();
  p.incoming_bandwidth = u32();
  p.outgoing_bandwidth = u32();
  p.packet_throttle_interval = u32();
  p.packet_throttle_acceleration = u32();
  p.packet_throttle_deceleration = u32();
  for (auto& b : p.connect_id) b = static_cast<std::uint8_t>(rng());
  switch (c.header.type) {
    case CommandType::kAcknowledge: c.body = Acknowledge{u16(), u16()}; break;
    case CommandType::kConnect: c.body = Connect{p, u32()}; break;
    case CommandType::kVerifyConnect: c.body = VerifyConnect{p}; break;
    case CommandType::kDisconnect: c.body = Disconnect{u32()}; break;
    case CommandType::kPing: c.body = Ping{}; break;
    case CommandType::kSendReliable: c.body = SendReliable{payload}; break;
    case CommandType::kSendUnreliable: c.body = SendUnreliable{u16(), payload}; break;
    case CommandType::kSendFragment:
    case CommandType::kSendUnreliableFragment:
      c.body = SendFragment{u16(), u32(), u32(), u32(), u32(), payload};
      break;
    case CommandType::kSendUnsequenced: c.body = SendUnsequenced{u16(), payload}; break;
    case CommandType::kBandwidthLimit: c.body = BandwidthLimit{u32(), u32()}; break;
    case CommandType::kThrottleConfigure: c.body = ThrottleConfigure{u32(), u32(), u32()}; break;
  }
  return c;
}

Bytes payload_of(const Command& c) {
  return std::visit(
      [](const auto& b) -> Bytes {
        if constexpr (requires { b.payload; }) return b.payload; else return {};
      },
      c.body);
}

}  // namespace

TEST_CASE("round trip: random valid datagrams, both checksum modes") {
  for (std::uint64_t index = 0; index < 2000; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    const bool checksum = rng() & 1;
    Header header;
    header.peer_id = static_cast<std::uint16_t>(rng() % kMaxPeerId);  // a known peer: any command
    header.session = static_cast<std::uint8_t>(rng() % 4);
    if (rng() & 1) header.sent_time = static_cast<std::uint16_t>(rng());

    const std::size_t count = 1 + rng() % kMaxCommandsPerDatagram;
    std::vector<std::vector<std::uint8_t>> stores(count);
    std::vector<Command> commands;
    for (std::size_t i = 0; i < count; ++i) commands.push_back(random_command(rng, stores[i]));

    ChecksumSeed seed{};
    for (auto& b : seed) b = static_cast<std::uint8_t>(rng());
    const auto bytes = volley::test::encode(header, commands, checksum ? &seed : nullptr);
    REQUIRE_FALSE(bytes.empty());

    std::size_t expected_size = 2 + (header.sent_time ? 2 : 0) + (checksum ? 4 : 0);
    for (const auto& c : commands) expected_size += encoded_size(c);
    CHECK(bytes.size() == expected_size);

    std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
    const auto opened = open_datagram(bytes, OpenOptions{checksum, false}, seed, scratch);
    REQUIRE(opened.ok());
    CHECK(opened.value->view.header.peer_id == header.peer_id);
    CHECK(opened.value->view.header.session == header.session);
    CHECK(opened.value->view.header.sent_time == header.sent_time);

    const auto parsed = volley::test::parse(bytes, checksum);
    REQUIRE_FALSE(parsed.error);
    REQUIRE(parsed.commands.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
      CHECK(parsed.commands[i].header.type == commands[i].header.type);
      CHECK(parsed.commands[i].body.index() == commands[i].body.index());
      const Bytes a = payload_of(parsed.commands[i]), b = payload_of(commands[i]);
      CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    }
    // Every field is written, so identical re-encoding means identical values.
    CHECK(volley::test::to_hex(volley::test::encode(parsed.view.header, parsed.commands,
                                                    checksum ? &seed : nullptr)) ==
          volley::test::to_hex(bytes));
  }
}

TEST_CASE("encode refuses a body that does not match its type, and short buffers") {
  Command c;
  c.header.type = CommandType::kConnect;
  c.body = Ping{};
  std::array<std::uint8_t, 64> out{};
  CHECK(encode_command(c, out) == 0);
  c.body = Connect{};
  CHECK(encode_command(c, std::span(out).first(47)) == 0);
  CHECK(encode_command(c, out) == 48);
  Header h;
  h.sent_time = 1;
  CHECK(encode_header(h, true, std::span(out).first(7)) == 0);
  CHECK(encode_header(h, true, out) == 8);
}

TEST_CASE("encode_acknowledge writes what encode_command writes for an ACKNOWLEDGE") {
  for (std::uint64_t index = 0; index < 500; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    const auto channel = static_cast<std::uint8_t>(rng());
    const Acknowledge ack{static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())};
    std::array<std::uint8_t, 8> direct{}, general{};
    REQUIRE(encode_acknowledge(channel, ack, direct) == 8);
    REQUIRE(encode_command(CommandHeader{CommandType::kAcknowledge, false, false, channel,
                                         ack.received_reliable_sequence},
                           ack, general) == 8);
    CHECK(volley::test::to_hex(direct) == volley::test::to_hex(general));
  }
  std::array<std::uint8_t, 8> out{};
  CHECK(encode_acknowledge(0, Acknowledge{}, std::span(out).first(7)) == 0);
}
