// The client library as a game programmer misuses it: sends before connecting and after
// leaving, connects past the slots, disconnects twice, a Host destroyed with connections alive,
// inputs before the session exists, and an Interpolator fed too little, the same frame twice,
// older frames or a clock that runs back. Each works or answers as documented.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "loopback.hpp"
#include "volley/client/game_connection.hpp"
#include "volley/client/interpolation.hpp"
#include "volley/snapshot/session.hpp"

namespace vc = volley::client;
namespace vs = volley::snapshot;
using vc::test::ClientLog;
using vc::test::StockServer;
using vc::test::pump;
using volley::Delivery;
using volley::SendResult;
using volley::TimePoint;

namespace {

const std::vector<std::uint8_t> kByte = {1};

TEST_CASE("client misuse: send before connected and after leaving, connect past the slots, disconnect twice") {
  StockServer server;
  vc::Host host;  // one slot
  ClientLog log;
  const vc::ConnectResult first = host.connect(server.address());
  REQUIRE(first);
  CHECK(host.send(first.connection, 0, kByte, Delivery::kReliable) == SendResult::kNotConnected);
  CHECK(host.connect(server.address()).error == vc::ConnectError::kNoFreeSlot);
  REQUIRE(pump(host, log, &server, [&] { return host.connected(first.connection); }));
  CHECK(host.send(first.connection, 200, kByte, Delivery::kReliable) == SendResult::kBadChannel);
  CHECK(host.send(first.connection, 0, kByte, static_cast<Delivery>(9)) == SendResult::kBadDelivery);
  CHECK(host.send(first.connection, 0, {}, Delivery::kReliable) == SendResult::kOk);
  host.disconnect(first.connection, 1);
  CHECK(host.send(first.connection, 0, kByte, Delivery::kReliable) == SendResult::kNotConnected);
  host.disconnect(first.connection, 2);        // already disconnecting: no effect
  host.disconnect_later(first.connection, 3);  // likewise
  REQUIRE(pump(host, log, &server, [&] { return log.count(vc::EventType::kDisconnected, first.connection) == 1; }));
  CHECK(log.find(vc::EventType::kDisconnected, first.connection)->data == 1);
  CHECK(host.send(first.connection, 0, kByte, Delivery::kReliable) == SendResult::kNoSuchPeer);
  host.disconnect_now(first.connection);  // stale: no effect, no second event
  CHECK_FALSE(host.stats(first.connection));
  CHECK(host.connection_count() == 0);
  // The slot is free again; the old id does not name the new connection.
  const vc::ConnectResult second = host.connect(server.address());
  REQUIRE(second);
  CHECK(second.connection != first.connection);
  CHECK_FALSE(host.connected(first.connection));
  host.disconnect_now(second.connection, 8);
  host.disconnect_now(second.connection, 9);
  vc::Event event;
  REQUIRE(host.poll(event));
  CHECK(event.type == vc::EventType::kDisconnected);
  CHECK(event.data == 8);
  CHECK_FALSE(host.poll(event));
}

TEST_CASE("client misuse: a Host destroyed with a connection alive and a packet held") {
  StockServer server;
  ClientLog log;
  auto host = std::make_unique<vc::Host>();
  const vc::ConnectResult c = host->connect(server.address());
  REQUIRE(c);
  REQUIRE(pump(*host, log, &server, [&] { return host->connected(c.connection) && server.last_connected() != nullptr; }));
  server.send(server.last_connected(), 0, ENET_PACKET_FLAG_RELIABLE, {1, 2, 3});
  vc::Event event;
  bool received = false;
  for (int i = 0; i < 500 && !received; ++i) {
    server.service();
    received = host->poll(event, 2) && event.type == vc::EventType::kReceived;
  }
  REQUIRE(received);
  CHECK(host->send(c.connection, 0, kByte, Delivery::kReliable) == SendResult::kOk);  // queued, unsent
  host.reset();  // the received packet and the connection go with it, no event
  vc::Host again;
  CHECK(again.connection_count() == 0);
}

TEST_CASE("client misuse: send_input before the connection is up, and oversized input") {
  StockServer server;
  vc::HostOptions options;
  options.channels = vs::kSessionChannels;
  vc::Host host(options);
  vs::Schema schema;
  const vs::FieldWidth fields[] = {-16};
  REQUIRE(schema.add_type(fields) == 0u);
  const vc::ConnectResult c = host.connect(server.address());
  REQUIRE(c);
  vc::GameConnection game(host, c.connection, schema, vs::CodecConfig{});
  CHECK(game.send_input(kByte) == SendResult::kNotConnected);
  CHECK(game.frame() == nullptr);
  CHECK_FALSE(game.ack());
  CHECK_FALSE(game.interpolator().at(0));
  std::vector<vs::Event> events;
  game.take_events(events);
  CHECK(events.empty());
  const std::vector<std::uint8_t> big(vs::kMaxInputBytes + 1, 7);
  CHECK(game.send_input(big) == SendResult::kTooLarge);
  host.disconnect_now(c.connection);
  CHECK(game.send_input(kByte) == SendResult::kNoSuchPeer);
}

TEST_CASE("interpolator misuse: no frames, one frame, the clock running back") {
  vc::Interpolator interpolator;
  CHECK_FALSE(interpolator.at(0));
  CHECK_FALSE(interpolator.at(-5));
  interpolator.on_frame(10, 1'000'000);
  CHECK_FALSE(interpolator.at(1'000'000));
  interpolator.on_frame(11, 1'033'333);
  const auto later = interpolator.at(1'200'000);
  REQUIRE(later);
  const auto earlier = interpolator.at(1'100'000);  // taken as the latest call's `now`
  REQUIRE(earlier);
  CHECK(earlier->from == later->from);
  CHECK(earlier->to == later->to);
  CHECK(earlier->alpha == later->alpha);
}

// The frames a render point names must be frames that were given, in order, with a finite
// alpha: a game looks them up (GameConnection::frame(number)) and blends with it.
void check_sane(const vc::Interpolator& interpolator, TimePoint now, std::uint32_t newest) {
  const auto point = interpolator.at(now);
  REQUIRE(point);
  INFO("from ", point->from, " to ", point->to, " alpha ", point->alpha);
  CHECK(point->from <= point->to);
  CHECK(point->to <= newest);
  CHECK(std::isfinite(point->alpha));
  CHECK(point->alpha >= 0);
}

TEST_CASE("interpolator misuse: the same frame twice and an older frame after a newer one are ignored") {
  vc::Interpolator interpolator;
  TimePoint t = 5'000'000;
  for (std::uint32_t frame = 100; frame < 110; ++frame, t += 33'333) interpolator.on_frame(frame, t);
  const TimePoint delay = interpolator.delay();
  interpolator.on_frame(109, t);       // again
  interpolator.on_frame(50, t + 10);   // older: a replay, or a server restarted
  interpolator.on_frame(109, t + 20);  // again
  CHECK(interpolator.delay() == delay);
  CHECK(interpolator.send_interval() == 33'333);
  for (TimePoint now = t; now < t + 400'000; now += 16'667) check_sane(interpolator, now, 109);
}

}  // namespace
