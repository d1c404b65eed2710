// Wrap-around: 16-bit reliable sequence numbers (70,000 packets on one channel), the unreliable
// sequence number that must never wrap (the 65,536th unreliable packet goes reliably), the
// 16-bit echoed sentTime and the 32-bit millisecond clock wrapping during a live connection.
#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::received;

TEST_CASE("wrap: 70,000 reliable packets on one channel cross the 16-bit RSN wrap in order") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 1));
  constexpr std::uint32_t kCount = 70000;
  std::uint32_t next_to_send = 0, next_expected = 0;
  bool in_order = true;
  h.server().on_event = [&](sim::Endpoint&, const PeerEvent& e) {
    if (e.type != PeerEvent::Type::kReceive) return;
    const std::uint32_t v = std::uint32_t{e.payload[0]} << 16 | std::uint32_t{e.payload[1]} << 8 | e.payload[2];
    in_order = in_order && v == next_expected;
    ++next_expected;
  };
  REQUIRE(h.drive_until([&] {
    // Keep ~2,000 queued so the sender is always busy but memory stays small.
    while (next_to_send < kCount && next_to_send < next_expected + 2000) {
      const std::uint8_t b[3] = {static_cast<std::uint8_t>(next_to_send >> 16),
                                 static_cast<std::uint8_t>(next_to_send >> 8), static_cast<std::uint8_t>(next_to_send)};
      REQUIRE(h.client().peer.send(0, Bytes(b, 3), PacketFlags::kReliable) == SendResult::kOk);
      ++next_to_send;
    }
    return next_expected == kCount;
  }, 3600 * sim::kSecond));
  CHECK(in_order);
  CHECK(h.server().peer.counters().drops() == 0);
  h.server().events.clear();
}

TEST_CASE("wrap: the unreliable sequence number never wraps - packet 65,536 goes reliably") {
  sim::Harness h(sim::HarnessOptions{});
  REQUIRE(connect_pair(h, 1));
  std::size_t unreliable = 0, reliable = 0;
  h.client().on_event = [&](sim::Endpoint& e, const PeerEvent& ev) {
    if (ev.type != PeerEvent::Type::kReceive) return;
    (ev.delivery == Delivery::kReliable ? reliable : unreliable)++;
    e.events.pop_back();
  };
  for (std::uint32_t i = 0; i < 65536; ++i) {
    REQUIRE(h.server().peer.send(0, Bytes(), PacketFlags::kUnreliable) == SendResult::kOk);
    if (i % 1000 == 999) h.run_for(20 * sim::kMillisecond);
  }
  h.run_for(2 * sim::kSecond);
  CHECK(unreliable == 65535);
  CHECK(reliable == 1);
}

TEST_CASE("wrap: sentTime (16-bit) and the 32-bit ms clock wrap during a live connection") {
  for (TimePoint start_ms : {std::int64_t{0xFFF0}, std::int64_t{0xFFFFFFFF} - 3000}) {
    CAPTURE(start_ms);
    sim::HarnessOptions o;
    o.start = from_ms(start_ms) - 2 * sim::kSecond;
    o.to_server.latency = o.to_client.latency = 30 * sim::kMillisecond;
    sim::Harness h(o);
    REQUIRE(connect_pair(h));
    for (int i = 0; i < 200; ++i) {
      h.client().peer.send(0, volley::test::pattern(100, i), PacketFlags::kReliable);
      h.server().peer.send(0, volley::test::pattern(100, i), PacketFlags::kReliable);
      h.run_for(50 * sim::kMillisecond);
    }
    h.run_for(70 * sim::kSecond);  // also crosses at least one more 65.536 s sentTime period
    CHECK(received(h.server()).size() == 200);
    CHECK(received(h.client()).size() == 200);
    for (auto* e : {&h.client(), &h.server()}) {
      CHECK(e->peer.state() == PeerState::kConnected);
      CHECK(e->peer.counters()[Counter::kDropAckFromFuture] == 0);
      CHECK(e->peer.stats().rtt_ms >= 59);
      CHECK(e->peer.stats().rtt_ms <= 62);
    }
  }
}
