// Delivery guarantees per kind, client-role Peer against server-role Peer on the simulated
// network: reliable exactly once and in order per channel; unreliable sequenced never older than
// what was delivered; unsequenced never duplicated; 1 MiB reliable and 100 KiB unreliable
// fragmented packets; all 255 channels; 5,000 queued reliable packets through the windows; at
// most 32 commands per datagram, sends and acks alike.
#include <algorithm>
#include <map>
#include <set>

#include "peer_test_util.hpp"
#include "protocol/wire_helpers.hpp"
#include "volley/protocol/byte_io.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::pattern;
using volley::test::received;

namespace {

std::uint32_t tag_of(const PeerEvent& e) {
  return e.payload.size() >= 4 ? load_be32(e.payload) : 0xFFFFFFFF;
}

std::vector<std::uint8_t> tagged(std::uint32_t tag, std::size_t size = 16) {
  auto v = pattern(std::max<std::size_t>(size, 4), tag);
  store_be32(v, 0, tag);
  return v;
}

}  // namespace

TEST_CASE("delivery: every kind arrives with its delivery kind, both directions") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 2));
  struct Case { PacketFlags flags; std::size_t size; Delivery expected; };
  const Case cases[] = {
      {PacketFlags::kReliable, 100, Delivery::kReliable},
      {PacketFlags::kUnreliable, 100, Delivery::kUnreliable},
      {PacketFlags::kUnsequenced, 100, Delivery::kUnsequenced},
      {PacketFlags::kReliable, 5000, Delivery::kReliable},            // SEND_FRAGMENT
      {PacketFlags::kUnreliable, 5000, Delivery::kReliable},          // > F: reliable fragments
      {PacketFlags::kUnsequenced, 5000, Delivery::kReliable},         // ENet cannot fragment it
      {PacketFlags::kUnreliableFragment, 5000, Delivery::kUnreliableFragment},
      {PacketFlags::kUnsequenced | PacketFlags::kUnreliableFragment, 5000, Delivery::kUnreliableFragment},
      {PacketFlags::kReliable, 0, Delivery::kReliable},               // zero length is legal
      {PacketFlags::kUnreliable, 0, Delivery::kUnreliable},
  };
  for (auto* side : {&h.client(), &h.server()}) {
    auto* other = side == &h.client() ? &h.server() : &h.client();
    const std::size_t before = received(*other).size();
    for (std::size_t i = 0; i < std::size(cases); ++i)
      REQUIRE(side->peer.send(1, pattern(cases[i].size, static_cast<std::uint32_t>(i)), cases[i].flags) == SendResult::kOk);
    h.run_for(2 * sim::kSecond);
    const auto got = received(*other);
    REQUIRE(got.size() == before + std::size(cases));
    std::multimap<Delivery, std::vector<std::uint8_t>> seen;
    for (std::size_t i = before; i < got.size(); ++i) {
      CHECK(got[i].channel == 1);
      seen.emplace(got[i].delivery, got[i].payload);
    }
    for (std::size_t i = 0; i < std::size(cases); ++i) {
      bool found = false;
      auto range = seen.equal_range(cases[i].expected);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second == pattern(cases[i].size, static_cast<std::uint32_t>(i))) found = true;
      CHECK_MESSAGE(found, "case ", i);
    }
  }
  CHECK(h.client().peer.counters().drops() == 0);
  CHECK(h.server().peer.counters().drops() == 0);
}

TEST_CASE("delivery: reliable is exactly once and in order per channel under loss, dup, reorder") {
  for (std::uint64_t index = 0; index < 30; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    sim::HarnessOptions o;
    o.seed = rng();
    for (auto* imp : {&o.to_server, &o.to_client}) {
      imp->loss = 0.2;
      imp->duplicate = 0.05;
      imp->reorder = 0.1;
      imp->jitter = 5 * sim::kMillisecond;
    }
    o.client_config.timeout_maximum_ms = o.server_config.timeout_maximum_ms = 3600000;
    o.client_config.timeout_minimum_ms = o.server_config.timeout_minimum_ms = 3600000;
    o.client_config.timeout_limit = o.server_config.timeout_limit = 1u << 20;
    sim::Harness h(o);
    REQUIRE(connect_pair(h, 4, 0, 600 * sim::kSecond));
    constexpr std::uint32_t kPerChannel = 200;
    for (std::uint32_t i = 0; i < kPerChannel; ++i)
      for (std::uint8_t ch = 0; ch < 4; ++ch)
        REQUIRE(h.client().peer.send(ch, tagged(ch << 16 | i, i % 7 == 0 ? 3000 : 20), PacketFlags::kReliable) ==
                SendResult::kOk);
    REQUIRE(h.drive_until([&] { return received(h.server()).size() >= 4 * kPerChannel; }, 3600 * sim::kSecond));
    h.run_for(5 * sim::kSecond);
    std::array<std::uint32_t, 4> next{};
    for (const auto& e : received(h.server())) {
      const std::uint32_t tag = tag_of(e);
      REQUIRE(e.channel == (tag >> 16));
      CHECK((tag & 0xFFFF) == next[e.channel]);
      ++next[e.channel];
      CHECK(e.payload == tagged(tag, (tag & 0xFFFF) % 7 == 0 ? 3000 : 20));
    }
    for (auto n : next) CHECK(n == kPerChannel);
  }
}

TEST_CASE("delivery: unreliable sequenced is never older than delivered - unsequenced never duplicated") {
  for (std::uint64_t index = 0; index < 30; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    sim::HarnessOptions o;
    o.seed = rng();
    o.to_client.loss = 0.1;
    o.to_client.duplicate = 0.2;
    o.to_client.reorder = 0.3;
    o.to_client.jitter = 20 * sim::kMillisecond;
    sim::Harness h(o);
    REQUIRE(connect_pair(h, 2));
    for (std::uint32_t i = 1; i <= 500; ++i) {
      h.server().peer.send(0, tagged(i), PacketFlags::kUnreliable);
      h.server().peer.send(1, tagged(i), PacketFlags::kUnsequenced);
      if (i % 50 == 0) h.server().peer.send(0, tagged(0x10000 | i), PacketFlags::kReliable);
      h.run_for(2 * sim::kMillisecond);
    }
    h.run_for(3 * sim::kSecond);
    std::uint32_t last_unreliable = 0;
    std::set<std::uint32_t> unsequenced;
    std::size_t unreliable_count = 0;
    for (const auto& e : received(h.client())) {
      const std::uint32_t tag = tag_of(e);
      if (e.delivery == Delivery::kUnreliable) {
        CHECK(tag > last_unreliable);
        last_unreliable = tag;
        ++unreliable_count;
      } else if (e.delivery == Delivery::kUnsequenced) {
        CHECK(unsequenced.insert(tag).second);
      } else {
        // A reliable packet is delivered in order; unreliable ones sent before it may not follow.
        last_unreliable = std::max(last_unreliable, tag & 0xFFFF);
      }
    }
    CHECK(unreliable_count > 100);  // reordering by up to 35 ms drops many older ones
    CHECK(unsequenced.size() > 400);
  }
}

TEST_CASE("delivery: 1 MiB reliable and 100 KiB unreliable-fragment packets under loss") {
  VOLLEY_SEEDED_RNG(rng, 7);
  sim::HarnessOptions o;
  o.seed = rng();
  o.to_server.loss = o.to_client.loss = 0.05;
  o.to_server.reorder = 0.05;
  sim::Harness h(o);
  REQUIRE(connect_pair(h, 2));
  const auto big = pattern(1024 * 1024, 99);
  REQUIRE(h.client().peer.send(0, big, PacketFlags::kReliable) == SendResult::kOk);
  REQUIRE(h.drive_until([&] { return received(h.server()).size() == 1; }, 120 * sim::kSecond));
  CHECK(received(h.server())[0].payload == big);
  CHECK(received(h.server())[0].delivery == Delivery::kReliable);

  // Unreliable fragments: a lost fragment loses the packet, so send several on a clean link.
  h.to_client().impairment().loss = 0;
  h.to_client().impairment().reorder = 0.2;
  const auto medium = pattern(100 * 1024, 5);
  for (int i = 0; i < 3; ++i)
    REQUIRE(h.server().peer.send(1, medium, PacketFlags::kUnreliableFragment) == SendResult::kOk);
  h.run_for(5 * sim::kSecond);
  const auto got = received(h.client());
  REQUIRE(got.size() == 3);
  for (const auto& e : got) {
    CHECK(e.payload == medium);
    CHECK(e.delivery == Delivery::kUnreliableFragment);
  }
  CHECK(h.client().peer.stats().waiting_data == 0);
  CHECK(h.server().peer.stats().waiting_data == 0);
}

TEST_CASE("delivery: all 255 channels, interleaved") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 255));
  CHECK(h.server().peer.channel_count() == 255);
  for (int round = 0; round < 3; ++round)
    for (int ch = 0; ch < 255; ++ch)
      REQUIRE(h.client().peer.send(static_cast<std::uint8_t>(ch), tagged(static_cast<std::uint32_t>(ch << 8 | round)),
                                   PacketFlags::kReliable) == SendResult::kOk);
  CHECK(h.client().peer.send(255, tagged(1), PacketFlags::kReliable) == SendResult::kBadChannel);
  REQUIRE(h.drive_until([&] { return received(h.server()).size() == 3 * 255; }, 30 * sim::kSecond));
  std::array<int, 255> next{};
  for (const auto& e : received(h.server())) {
    const auto tag = tag_of(e);
    CHECK(static_cast<int>(tag >> 8) == e.channel);
    CHECK(static_cast<int>(tag & 0xFF) == next[e.channel]++);
  }
}

TEST_CASE("delivery: 5,000 queued reliable packets drain through the sequence and byte windows") {
  sim::HarnessOptions o;
  o.to_server.latency = o.to_client.latency = 50 * sim::kMillisecond;
  sim::Harness h(o);
  REQUIRE(connect_pair(h, 1));
  std::size_t max_in_flight = 0;
  for (std::uint32_t i = 0; i < 5000; ++i)
    REQUIRE(h.client().peer.send(0, tagged(i, 1000), PacketFlags::kReliable) == SendResult::kOk);
  REQUIRE(h.drive_until([&] {
    max_in_flight = std::max<std::size_t>(max_in_flight, h.client().peer.stats().reliable_data_in_transit);
    return received(h.server()).size() == 5000;
  }, 600 * sim::kSecond));
  // The byte window (65536 at full throttle) bounds what is in flight.
  CHECK(max_in_flight <= kMaxWindowSize + 1400);
  CHECK(max_in_flight > 30000);
  std::uint32_t expect = 0;
  for (const auto& e : received(h.server())) CHECK(tag_of(e) == expect++);
  CHECK(h.client().peer.stats().queued_outgoing == 0);
}

TEST_CASE("delivery: 40 sends in one flush, and their 40 acks, go out at most 32 commands a datagram") {
  // libenet's ENET_PROTOCOL_MAXIMUM_PACKET_COMMANDS: the 33rd command starts a new datagram,
  // on the send path (enet_protocol_check_outgoing_commands) and the ack path
  // (enet_protocol_send_acknowledgements) alike.
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 1));
  std::vector<std::size_t> client_counts, server_counts;
  const auto counter = [](std::vector<std::size_t>& counts) {
    return [&counts](TimePoint, Bytes datagram) {
      const auto parsed =
          volley::test::parse(std::vector<std::uint8_t>(datagram.begin(), datagram.end()));
      CHECK_FALSE(parsed.error);
      counts.push_back(parsed.commands.size());
    };
  };
  h.client().on_send = counter(client_counts);
  h.server().on_send = counter(server_counts);
  for (std::uint32_t i = 0; i < 40; ++i) {
    REQUIRE(h.client().peer.send(0, tagged(i, 8), PacketFlags::kReliable) == SendResult::kOk);
  }
  REQUIRE(h.drive_until(
      [&] {
        return received(h.server()).size() == 40 &&
               h.client().peer.stats().reliable_data_in_transit == 0;
      },
      10 * sim::kSecond));
  REQUIRE(!client_counts.empty());
  REQUIRE(!server_counts.empty());
  CHECK(client_counts.front() == kMaxCommandsPerDatagram);
  CHECK(server_counts.front() == kMaxCommandsPerDatagram);  // both datagrams' acks, one flush
  CHECK(*std::max_element(client_counts.begin(), client_counts.end()) == kMaxCommandsPerDatagram);
  CHECK(*std::max_element(server_counts.begin(), server_counts.end()) == kMaxCommandsPerDatagram);
}
