// Golden vectors: datagrams captured between two stock libenet 1.3.17 hosts (shared docs
// enet-protocol.md Appendix B). Each must decode to the documented fields and re-encode to the
// identical bytes.
#include <doctest/doctest.h>

#include "support/hex.hpp"
#include "wire_helpers.hpp"

using namespace volley::protocol;
using volley::test::from_hex;
using volley::test::parse;
using volley::test::to_hex;

namespace {

const auto kConnect = from_hex(
    "8F FF FA 6B 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00"
    "00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 8C 5B CA D0 00 00 00 2A");
const auto kVerify = from_hex(
    "80 00 FA 6C 83 FF 00 01 00 00 00 00 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00"
    "00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 8C 5B CA D0");
const auto kCrcConnect = from_hex(
    "8F FF 40 C7 5D C9 91 09 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00"
    "00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0 00 00 00 2A");
const auto kCrcVerify = from_hex(
    "80 00 40 C8 70 B1 46 ED 83 FF 00 01 00 00 00 00 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00"
    "00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0");

void check_reencodes(const std::vector<std::uint8_t>& datagram, const ChecksumSeed* seed = nullptr) {
  const auto parsed = parse(datagram, seed != nullptr);
  REQUIRE_FALSE(parsed.error);
  const auto again = volley::test::encode(parsed.view.header, parsed.commands, seed);
  CHECK(to_hex(again) == to_hex(datagram));
}

void check_stock_connect_params(const ConnectParams& p, std::array<std::uint8_t, 4> connect_id) {
  CHECK(p.mtu == 1400);
  CHECK(p.window_size == 65536);
  CHECK(p.channel_count == 2);
  CHECK(p.incoming_bandwidth == 0);
  CHECK(p.outgoing_bandwidth == 0);
  CHECK(p.packet_throttle_interval == 5000);
  CHECK(p.packet_throttle_acceleration == 2);
  CHECK(p.packet_throttle_deceleration == 2);
  CHECK(p.connect_id == connect_id);
}

}  // namespace

TEST_CASE("golden: CONNECT from a fresh 1.3.17 client") {
  const auto parsed = parse(kConnect);
  REQUIRE_FALSE(parsed.error);
  CHECK(parsed.view.header.peer_id == kMaxPeerId);
  CHECK(parsed.view.header.session == 0);
  CHECK_FALSE(parsed.view.header.compressed);
  CHECK(parsed.view.header.sent_time == 0xFA6B);
  REQUIRE(parsed.commands.size() == 1);
  const auto& c = parsed.commands[0];
  CHECK(c.header.type == CommandType::kConnect);
  CHECK(c.header.acknowledge);
  CHECK(c.header.channel == kPeerLevelChannel);
  CHECK(c.header.reliable_sequence == 1);
  const auto& connect = std::get<Connect>(c.body);
  CHECK(connect.params.outgoing_peer_id == 0);
  CHECK(connect.params.incoming_session_id == 0xFF);
  CHECK(connect.params.outgoing_session_id == 0xFF);
  check_stock_connect_params(connect.params, {0x8C, 0x5B, 0xCA, 0xD0});
  CHECK(connect.data == 42);
  check_reencodes(kConnect);
}

TEST_CASE("golden: VERIFY_CONNECT echoes connectID and throttle") {
  const auto parsed = parse(kVerify);
  REQUIRE_FALSE(parsed.error);
  CHECK(parsed.view.header.peer_id == 0);
  CHECK(parsed.view.header.sent_time == 0xFA6C);
  REQUIRE(parsed.commands.size() == 1);
  CHECK(parsed.commands[0].header.type == CommandType::kVerifyConnect);
  const auto& verify = std::get<VerifyConnect>(parsed.commands[0].body);
  CHECK(verify.params.incoming_session_id == 0);
  CHECK(verify.params.outgoing_session_id == 0);
  check_stock_connect_params(verify.params, {0x8C, 0x5B, 0xCA, 0xD0});
  check_reencodes(kVerify);
}

TEST_CASE("golden: client ACK + PING, server ACK") {
  const auto client = from_hex("80 00 FA 6D 01 FF 00 01 00 01 FA 6C 85 FF 00 02");
  const auto parsed = parse(client);
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.commands.size() == 2);
  const auto& ack = std::get<Acknowledge>(parsed.commands[0].body);
  CHECK(parsed.commands[0].header.type == CommandType::kAcknowledge);
  CHECK_FALSE(parsed.commands[0].header.acknowledge);
  CHECK(ack.received_reliable_sequence == 1);
  CHECK(ack.received_sent_time == 0xFA6C);
  CHECK(parsed.commands[1].header.type == CommandType::kPing);
  CHECK(parsed.commands[1].header.acknowledge);
  CHECK(parsed.commands[1].header.reliable_sequence == 2);
  check_reencodes(client);

  const auto server = from_hex("00 00 01 FF 00 02 00 02 FA 6D");
  const auto s = parse(server);
  REQUIRE_FALSE(s.error);
  CHECK_FALSE(s.view.header.sent_time.has_value());
  CHECK(s.view.header_size == 2);
  CHECK(std::get<Acknowledge>(s.commands.at(0).body).received_sent_time == 0xFA6D);
  check_reencodes(server);

  // The assembler's own ACK encoder writes the stock server's command bytes.
  std::array<std::uint8_t, 8> own{};
  REQUIRE(encode_acknowledge(0xFF, Acknowledge{2, 0xFA6D}, own) == 8);
  CHECK(to_hex(own) == to_hex(std::vector<std::uint8_t>(server.begin() + 2, server.end())));
}

TEST_CASE("golden: unreliable x2, unsequenced") {
  const auto unreliable =
      from_hex("00 00 07 01 00 00 00 01 00 03 61 62 63 07 01 00 00 00 02 00 03 61 62 64");
  const auto parsed = parse(unreliable);
  REQUIRE_FALSE(parsed.error);
  REQUIRE(parsed.commands.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& u = std::get<SendUnreliable>(parsed.commands[i].body);
    CHECK(parsed.commands[i].header.channel == 1);
    CHECK(parsed.commands[i].header.reliable_sequence == 0);
    CHECK(u.unreliable_sequence == i + 1);
    REQUIRE(u.payload.size() == 3);
    CHECK(u.payload[2] == (i == 0 ? 'c' : 'd'));
  }
  check_reencodes(unreliable);

  const auto unsequenced = from_hex("00 00 49 01 00 00 00 01 00 02 78 79");
  const auto u = parse(unsequenced);
  REQUIRE_FALSE(u.error);
  CHECK(u.commands.at(0).header.unsequenced);
  CHECK_FALSE(u.commands.at(0).header.acknowledge);
  CHECK(std::get<SendUnsequenced>(u.commands.at(0).body).unsequenced_group == 1);
  check_reencodes(unsequenced);
}

TEST_CASE("golden: first fragment of a 3000-byte reliable packet at MTU 1400") {
  auto datagram = from_hex("80 00 01 76 88 00 00 02 00 02 05 5C 00 00 00 03 00 00 00 00 00 00 0B B8 00 00 00 00");
  for (int i = 0; i < 1372; ++i) datagram.push_back(static_cast<std::uint8_t>(i));
  CHECK(datagram.size() == 1400);
  const auto parsed = parse(datagram);
  REQUIRE_FALSE(parsed.error);
  const auto& f = std::get<SendFragment>(parsed.commands.at(0).body);
  CHECK(parsed.commands[0].header.type == CommandType::kSendFragment);
  CHECK(parsed.commands[0].header.reliable_sequence == 2);
  CHECK(f.start_sequence == 2);
  CHECK(f.fragment_count == 3);
  CHECK(f.fragment_number == 0);
  CHECK(f.total_length == 3000);
  CHECK(f.fragment_offset == 0);
  CHECK(f.payload.size() == kDefaultMtu - kFragmentOverhead);
  check_reencodes(datagram);
}

TEST_CASE("golden: DISCONNECT with data, and disconnect_now") {
  const auto disconnect = from_hex("80 00 07 55 84 FF 00 08 00 00 00 07");
  const auto d = parse(disconnect);
  REQUIRE_FALSE(d.error);
  CHECK(d.commands.at(0).header.acknowledge);
  CHECK(std::get<Disconnect>(d.commands.at(0).body).data == 7);
  check_reencodes(disconnect);

  const auto now = from_hex("10 00 44 FF 00 03 00 00 00 63");
  const auto n = parse(now);
  REQUIRE_FALSE(n.error);
  CHECK(n.view.header.session == 1);
  CHECK(n.commands.at(0).header.unsequenced);
  CHECK_FALSE(n.commands.at(0).header.acknowledge);
  CHECK(std::get<Disconnect>(n.commands.at(0).body).data == 99);
  check_reencodes(now);
}

TEST_CASE("golden: CRC-mode CONNECT (seed 0) and VERIFY_CONNECT (seed connectID)") {
  const ChecksumSeed zero{};
  const ChecksumSeed connect_id{0xE4, 0x35, 0xDC, 0xE0};

  const auto connect = parse(kCrcConnect, true);
  REQUIRE_FALSE(connect.error);
  CHECK(connect.view.checksum == 0x5DC99109u);
  CHECK(verify_checksum(kCrcConnect, connect.view, connect.view.body, zero));
  CHECK_FALSE(verify_checksum(kCrcConnect, connect.view, connect.view.body, connect_id));
  CHECK(std::get<Connect>(connect.commands.at(0).body).params.connect_id == connect_id);
  check_reencodes(kCrcConnect, &zero);

  const auto verify = parse(kCrcVerify, true);
  REQUIRE_FALSE(verify.error);
  CHECK(verify_checksum(kCrcVerify, verify.view, verify.view.body, connect_id));
  CHECK_FALSE(verify_checksum(kCrcVerify, verify.view, verify.view.body, zero));
  check_reencodes(kCrcVerify, &connect_id);

  // One flipped bit anywhere fails the check.
  for (std::size_t i = 0; i < kCrcVerify.size(); ++i) {
    auto bad = kCrcVerify;
    bad[i] ^= 0x10;
    const auto view = decode_header(bad, true);
    if (!view.ok()) continue;
    CAPTURE(i);
    CHECK_FALSE(verify_checksum(bad, *view.value, view.value->body, connect_id));
  }
}

TEST_CASE("command size table matches libenet") {
  CHECK(command_size(CommandType::kAcknowledge) == 8);
  CHECK(command_size(CommandType::kConnect) == 48);
  CHECK(command_size(CommandType::kVerifyConnect) == 44);
  CHECK(command_size(CommandType::kDisconnect) == 8);
  CHECK(command_size(CommandType::kPing) == 4);
  CHECK(command_size(CommandType::kSendReliable) == 6);
  CHECK(command_size(CommandType::kSendUnreliable) == 8);
  CHECK(command_size(CommandType::kSendFragment) == 24);
  CHECK(command_size(CommandType::kSendUnsequenced) == 8);
  CHECK(command_size(CommandType::kBandwidthLimit) == 12);
  CHECK(command_size(CommandType::kThrottleConfigure) == 16);
  CHECK(command_size(CommandType::kSendUnreliableFragment) == 24);
  CHECK(command_name(CommandType::kSendUnreliableFragment) == "SEND_UNRELIABLE_FRAGMENT");
}
