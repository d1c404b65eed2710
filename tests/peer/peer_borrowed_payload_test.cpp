// DatagramLifetime::kUntilDrained: a packet the server-role Peer delivers at once from a datagram
// whose caller keeps it until the events are taken comes as a view into that datagram
// (PeerEvent::borrowed), with nothing copied; everything that must outlive the call (a
// range-coded body decoded into the Peer's scratch, fragments, a packet held out of order)
// still comes as an owned payload, and the default lifetime always copies. The waiting-data
// budget counts a borrowed payload exactly like an owned one.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::pattern;

namespace {

// The client's next datagram, taken off the wire by hand so the test decides how the server
// Peer gets it.
std::vector<std::uint8_t> next_datagram(sim::Harness& h) {
  std::array<std::uint8_t, kMaxMtu> buffer{};
  const std::size_t n = h.client().peer.poll_datagram(h.now(), buffer);
  REQUIRE(n > 0);
  return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n)};
}

void hand_to_server(sim::Harness& h, const std::vector<std::uint8_t>& datagram, DatagramLifetime lifetime) {
  const auto header = decode_header(datagram, /*checksum_mode=*/false);  // libenet's default
  REQUIRE(header.ok());
  h.server().peer.on_datagram(h.now(), datagram, *header.value, lifetime);
}

std::vector<PeerEvent> take_receives(Peer& peer) {
  std::vector<PeerEvent> out;
  while (auto e = peer.poll_event()) {
    if (e->type == PeerEvent::Type::kReceive) out.push_back(std::move(*e));
  }
  return out;
}

bool inside(Bytes part, const std::vector<std::uint8_t>& whole) {
  return !whole.empty() && part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool same(Bytes a, const std::vector<std::uint8_t>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// One reliable packet from the client, handed to the server with `lifetime`; its datagram and
// the receives it produced.
struct Handed {
  std::vector<std::uint8_t> datagram;
  std::vector<PeerEvent> events;
};
Handed reliable_one(sim::Harness& h, const std::vector<std::uint8_t>& bytes, DatagramLifetime lifetime) {
  REQUIRE(h.client().peer.send(0, bytes, PacketFlags::kReliable) == SendResult::kOk);
  Handed out{next_datagram(h), {}};
  hand_to_server(h, out.datagram, lifetime);
  out.events = take_receives(h.server().peer);
  return out;
}

sim::HarnessOptions options(bool compress = false) {
  sim::HarnessOptions o;
  o.client_config.compress = compress;
  o.server_config.compress = compress;
  return o;
}

}  // namespace

TEST_CASE("borrowed payloads: reliable, unreliable and unsequenced packets delivered at once view the datagram") {
  sim::Harness h(options());
  REQUIRE(connect_pair(h));
  const auto reliable = pattern(40, 1), unreliable = pattern(41, 2), unsequenced = pattern(42, 3);
  REQUIRE(h.client().peer.send(0, reliable, PacketFlags::kReliable) == SendResult::kOk);
  REQUIRE(h.client().peer.send(0, unreliable, PacketFlags::kUnreliable) == SendResult::kOk);
  REQUIRE(h.client().peer.send(1, unsequenced, PacketFlags::kUnsequenced) == SendResult::kOk);
  const auto datagram = next_datagram(h);
  hand_to_server(h, datagram, DatagramLifetime::kUntilDrained);
  CHECK(h.server().peer.stats().waiting_data == reliable.size() + unreliable.size() + unsequenced.size());
  const auto events = take_receives(h.server().peer);
  REQUIRE(events.size() == 3);
  const std::vector<std::uint8_t>* sent[] = {&reliable, &unreliable, &unsequenced};
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].borrowed.data() != nullptr);
    CHECK(events[i].payload.empty());
    CHECK(inside(events[i].bytes(), datagram));
    CHECK(same(events[i].bytes(), *sent[i]));
  }
  CHECK(events[0].delivery == Delivery::kReliable);
  CHECK(events[1].delivery == Delivery::kUnreliable);
  CHECK(events[2].delivery == Delivery::kUnsequenced);
  CHECK(h.server().peer.stats().waiting_data == 0);
}

TEST_CASE("borrowed payloads: the default lifetime copies every payload") {
  sim::Harness h(options());
  REQUIRE(connect_pair(h));
  const auto bytes = pattern(40, 4);
  const Handed one = reliable_one(h, bytes, DatagramLifetime::kCall);
  REQUIRE(one.events.size() == 1);
  CHECK(one.events[0].borrowed.data() == nullptr);
  CHECK(same(one.events[0].payload, bytes));
  CHECK_FALSE(inside(one.events[0].bytes(), one.datagram));
}

TEST_CASE("borrowed payloads: a range-coded datagram's payloads are copied out of the scratch it was decoded into") {
  sim::Harness h(options(true));
  REQUIRE(connect_pair(h));
  const std::vector<std::uint8_t> bytes(300, 'a');  // compresses well: the datagram is range-coded
  REQUIRE(h.client().peer.send(0, bytes, PacketFlags::kUnreliable) == SendResult::kOk);
  const auto datagram = next_datagram(h);
  REQUIRE(datagram.size() < bytes.size());  // it really was range-coded
  hand_to_server(h, datagram, DatagramLifetime::kUntilDrained);
  const auto events = take_receives(h.server().peer);
  REQUIRE(events.size() == 1);
  CHECK(events[0].borrowed.data() == nullptr);
  CHECK(same(events[0].payload, bytes));
}

TEST_CASE("borrowed payloads: packets held out of order and reassembled ones are owned") {
  sim::Harness h(options());
  REQUIRE(connect_pair(h));
  const auto first = pattern(30, 5), second = pattern(31, 6);
  const auto large = pattern(3000, 7);  // more than one MTU: fragments
  REQUIRE(h.client().peer.send(0, first, PacketFlags::kReliable) == SendResult::kOk);
  const auto d1 = next_datagram(h);
  REQUIRE(h.client().peer.send(0, second, PacketFlags::kReliable) == SendResult::kOk);
  const auto d2 = next_datagram(h);
  // The second first: held until the first arrives, so it cannot view d2.
  hand_to_server(h, d2, DatagramLifetime::kUntilDrained);
  CHECK(take_receives(h.server().peer).empty());
  hand_to_server(h, d1, DatagramLifetime::kUntilDrained);
  const auto ordered = take_receives(h.server().peer);
  REQUIRE(ordered.size() == 2);
  // The gap-filler joins the held one in the channel's queue (only a packet that finds the
  // queue empty is delivered at once), so both come owned.
  CHECK(ordered[0].borrowed.data() == nullptr);
  CHECK(same(ordered[0].payload, first));
  CHECK(ordered[1].borrowed.data() == nullptr);
  CHECK(same(ordered[1].payload, second));
  // With the queue empty again, the next in order is viewed once more.
  const auto third = pattern(32, 8);
  const Handed after = reliable_one(h, third, DatagramLifetime::kUntilDrained);
  REQUIRE(after.events.size() == 1);
  CHECK(inside(after.events[0].bytes(), after.datagram));
  CHECK(same(after.events[0].bytes(), third));

  REQUIRE(h.client().peer.send(1, large, PacketFlags::kReliable) == SendResult::kOk);
  std::vector<std::vector<std::uint8_t>> fragments;
  std::array<std::uint8_t, kMaxMtu> buffer{};
  while (const std::size_t n = h.client().peer.poll_datagram(h.now(), buffer)) {
    fragments.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
  }
  REQUIRE(fragments.size() >= 3);
  for (const auto& f : fragments) hand_to_server(h, f, DatagramLifetime::kUntilDrained);
  const auto reassembled = take_receives(h.server().peer);
  REQUIRE(reassembled.size() == 1);
  CHECK(reassembled[0].borrowed.data() == nullptr);
  CHECK(same(reassembled[0].payload, large));
  CHECK(h.server().peer.stats().waiting_data == 0);
}

TEST_CASE("events taken in place: peek_event reads the queued event, pop_event gives its bytes back") {
  for (const DatagramLifetime lifetime : {DatagramLifetime::kCall, DatagramLifetime::kUntilDrained}) {
    CAPTURE(static_cast<int>(lifetime));
    sim::Harness h(options());
    REQUIRE(connect_pair(h));
    const auto first = pattern(50, 4), second = pattern(51, 5);
    REQUIRE(h.client().peer.send(0, first, PacketFlags::kReliable) == SendResult::kOk);
    REQUIRE(h.client().peer.send(0, second, PacketFlags::kUnreliable) == SendResult::kOk);
    const auto datagram = next_datagram(h);
    hand_to_server(h, datagram, lifetime);
    Peer& server = h.server().peer;
    REQUIRE(server.stats().waiting_data == first.size() + second.size());

    PeerEvent* event = server.peek_event();
    REQUIRE(event != nullptr);
    CHECK(event->type == PeerEvent::Type::kReceive);
    CHECK(same(event->bytes(), first));
    CHECK(server.peek_event() == event);  // peeking takes nothing
    PeerEvent* next = server.pop_event();
    CHECK(server.stats().waiting_data == second.size());
    CHECK(next == server.peek_event());

    event = server.peek_event();
    REQUIRE(event != nullptr);
    CHECK(same(event->bytes(), second));
    CHECK(server.pop_event() == nullptr);
    CHECK(server.stats().waiting_data == 0);
    CHECK(server.peek_event() == nullptr);
    CHECK_FALSE(server.has_events());
    CHECK(server.pop_event() == nullptr);  // nothing queued: no effect
    CHECK(server.stats().waiting_data == 0);
  }
}
