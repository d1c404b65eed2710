// The game session over real loopback ENet: a sender written here (volley::snapshot::Encoder on a
// stock libenet server host) sends one snapshot per tick unsequenced on kSnapshotChannel, delta
// against the newest frame the client acknowledged in its inputs, with events riding until
// acknowledged. The GameConnection must apply frames in order, drop replays, corrupt packets and
// unknown baselines (counted), show each event once, and its input acks must advance.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "loopback.hpp"
#include "volley/client/game_connection.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/session.hpp"

namespace vc = volley::client;
namespace vs = volley::snapshot;
using vc::test::ClientLog;
using vc::test::StockServer;
using vc::test::pump;

namespace {

vs::Schema game_schema() {
  vs::Schema schema;
  const vs::FieldWidth fields[] = {-16, -16, 8};  // x, y, heading
  REQUIRE(schema.add_type(fields) == 0u);
  return schema;
}

vs::Frame world(std::uint32_t number) {
  vs::Frame frame;
  frame.number = number;
  for (std::uint32_t id = 1; id <= 6; ++id) {
    // Entity 6 appears only from frame 10 on: entities come and go.
    if (id == 6 && number < 10) continue;
    const std::int32_t values[] = {static_cast<std::int32_t>(id * 100 + number),
                                   static_cast<std::int32_t>(number % 7) - 3,
                                   static_cast<std::int32_t>((id * 13 + number) % 256)};
    frame.add(id, 0, values);
  }
  return frame;
}

struct Sender {
  explicit Sender(const vs::Schema& schema) : encoder(schema, vs::CodecConfig{}) {}
  vs::Encoder encoder;
  std::map<std::uint32_t, vs::Frame> history;
  std::optional<std::uint32_t> acked;
  std::vector<std::uint32_t> acks_seen;
  std::vector<vs::Event> unacked;
  std::map<std::uint64_t, std::uint32_t> first_frame;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(64 * 1024);

  std::vector<std::uint8_t> encode(const vs::Frame* base, const vs::Frame& frame) {
    const std::size_t size = encoder.encode(base, frame, unacked, buffer);
    REQUIRE(size > 0);
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size)};
  }
  // Reads the inputs the server host received; the ack retires events it carried.
  void read_inputs(StockServer& server, std::size_t& consumed) {
    for (; consumed < server.events.size(); ++consumed) {
      const auto& e = server.events[consumed];
      if (e.type != ENET_EVENT_TYPE_RECEIVE || e.channel != vs::kInputChannel) continue;
      CHECK(e.flags == 0);  // unreliable sequenced
      const auto input = vs::decode_input(e.bytes);
      REQUIRE(input);
      CHECK(input->bytes.size() == 3);
      if (!input->ack) continue;
      acks_seen.push_back(*input->ack);
      if (!acked || *input->ack > *acked) acked = input->ack;
    }
    std::erase_if(unacked, [&](const vs::Event& ev) { return acked && first_frame[ev.id] <= *acked; });
  }
};

// Client host options for a game session: the snapshot session's channels.
vc::HostOptions session_options() {
  vc::HostOptions options;
  options.channels = vs::kSessionChannels;
  return options;
}

// Connects `host` to the stock server; the connection once both ends see it.
vc::ConnectionId connect_session(vc::Host& host, ClientLog& log, StockServer& server) {
  const vc::ConnectResult result = host.connect(server.address());
  REQUIRE(result);
  REQUIRE(pump(host, log, &server, [&] {
    return log.find(vc::EventType::kConnected, result.connection) && server.last_connected();
  }));
  return result.connection;
}

}  // namespace

TEST_CASE("game connection: frames in order, drops counted, events once, acks advance") {
  const vs::Schema schema = game_schema();
  StockServer server;
  vc::Host host(session_options());
  ClientLog log;
  const vc::ConnectionId connection = connect_session(host, log, server);
  ENetPeer* peer = server.last_connected();
  vc::GameConnection game(host, connection, schema, vs::CodecConfig{}, {},
                          vc::InterpolationConfig{});
  auto route = [&](const vc::Event& e) { return game.handle(e); };

  Sender sender(schema);
  std::size_t consumed = 0;
  std::vector<std::uint64_t> shown;
  std::vector<vs::Event> taken;
  std::vector<std::uint32_t> applied_order;
  std::vector<std::vector<std::uint8_t>> sent;
  const std::uint8_t input[] = {'u', 'p', '!'};
  constexpr std::uint32_t kFrames = 40;

  for (std::uint32_t n = 1; n <= kFrames; ++n) {
    const vs::Frame frame = world(n);
    if (n % 4 == 0) {  // an event every fourth frame, rides until acknowledged
      vs::Event ev{1000 + n, 2, {static_cast<std::uint8_t>(n)}};
      sender.first_frame[ev.id] = n;
      sender.unacked.push_back(ev);
    }
    const vs::Frame* base = nullptr;
    if (sender.acked && sender.history.count(*sender.acked)) base = &sender.history[*sender.acked];
    sent.push_back(sender.encode(base, frame));
    sender.history[n] = frame;
    const auto before = game.counters().received;
    if (n == 20) {  // first a corrupted copy of this frame: one byte of its compressed body flipped
      auto bad = sent.back();
      bad[bad.size() - 5] ^= 0x5A;
      server.send(peer, vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED, bad);
    }
    server.send(peer, vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED, sent.back());
    if (n == 12) {  // the network duplicates this frame's datagram: the copy is dropped as old
      server.send(peer, vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED, sent.back());
    }
    if (n % 10 == 5) {  // a replay of an older packet: dropped as old
      server.send(peer, vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED, sent[n - 3]);
    }
    if (n == 30) {  // a delta against a frame the client never had
      vs::Frame ghost = world(5000);
      const auto orphan = sender.encode(&ghost, world(31));
      server.send(peer, vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED, orphan);
    }
    const std::uint64_t extra = (n % 10 == 5) + (n == 12) + (n == 20) + (n == 30);
    REQUIRE(pump(host, log, &server, [&] { return game.counters().received >= before + 1 + extra; },
                 std::chrono::seconds(5), route));
    REQUIRE(game.frame() != nullptr);
    applied_order.push_back(game.frame()->number);
    CHECK(*game.frame() == frame);
    game.take_events(taken);
    for (const auto& ev : taken) shown.push_back(ev.id);
    REQUIRE(game.send_input(input) == volley::SendResult::kOk);
    const std::size_t inputs_before = sender.acks_seen.size();
    REQUIRE(pump(host, log, &server, [&] {
      sender.read_inputs(server, consumed);
      return sender.acks_seen.size() > inputs_before;
    }, std::chrono::seconds(5), route));
    CHECK(sender.acks_seen.back() == n);
  }

  // Frames applied strictly in order, every one of them.
  for (std::uint32_t i = 0; i < kFrames; ++i) CHECK(applied_order[i] == i + 1);
  const auto& c = game.counters();
  CHECK(c.applied == kFrames);
  CHECK(c.dropped_old == 5);
  CHECK(c.dropped_corrupt + c.dropped_checksum == 1);
  CHECK(c.dropped_no_baseline == 1);
  // Every event shown exactly once (the next test makes events ride in many frames).
  std::set<std::uint64_t> unique(shown.begin(), shown.end());
  CHECK(unique.size() == shown.size());
  CHECK(unique.size() == kFrames / 4);
  // Acks never go backwards.
  for (std::size_t i = 1; i < sender.acks_seen.size(); ++i) {
    CHECK(sender.acks_seen[i] >= sender.acks_seen[i - 1]);
  }
  CHECK(game.interpolator().send_interval() > 0);
  // Nothing else arrived on the client: no snapshot leaked to the caller's log.
  for (const auto& e : log.events) CHECK(e.type != vc::EventType::kReceived);
}

TEST_CASE("game connection: events riding in many frames are shown once - the ack is in inputs") {
  const vs::Schema schema = game_schema();
  StockServer server;
  vc::Host host(session_options());
  ClientLog log;
  const vc::ConnectionId connection = connect_session(host, log, server);
  vc::GameConnection game(host, connection, schema, vs::CodecConfig{});
  auto route = [&](const vc::Event& e) { return game.handle(e); };
  // Before any frame the input carries no ack.
  const std::uint8_t input[] = {1};
  REQUIRE(game.send_input(input) == volley::SendResult::kOk);
  REQUIRE(pump(host, log, &server, [&] {
    for (const auto& e : server.events) {
      if (e.type == ENET_EVENT_TYPE_RECEIVE) return true;
    }
    return false;
  }));
  for (const auto& e : server.events) {
    if (e.type == ENET_EVENT_TYPE_RECEIVE) CHECK_FALSE(vs::decode_input(e.bytes)->ack);
  }

  // The server never hears an ack here, so every event rides in every frame (all full).
  vs::Encoder encoder(schema, vs::CodecConfig{});
  std::vector<vs::Event> events;
  std::vector<std::uint8_t> buffer(64 * 1024);
  std::vector<std::uint64_t> shown;
  std::vector<vs::Event> taken;
  for (std::uint32_t n = 1; n <= 12; ++n) {
    if (n % 3 == 1) events.push_back({500 + n, 1, {1, 2, 3}});
    const std::size_t size = encoder.encode(nullptr, world(n), events, buffer);
    REQUIRE(size > 0);
    const auto before = game.counters().received;
    server.send(server.last_connected(), vs::kSnapshotChannel, ENET_PACKET_FLAG_UNSEQUENCED,
                {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size)});
    REQUIRE(pump(host, log, &server, [&] { return game.counters().received > before; },
                 std::chrono::seconds(5), route));
    game.take_events(taken);
    for (const auto& ev : taken) shown.push_back(ev.id);
  }
  CHECK(shown == std::vector<std::uint64_t>{501, 504, 507, 510});
  CHECK(game.counters().events_duplicate > 0);
  CHECK(game.ack() == 12u);
}

TEST_CASE("game connection: takes only snapshot packets of its connection, feeds the interpolator applied frames only") {
  // Driven with hand-made events: no network needed to see which events it takes.
  const vs::Schema schema = game_schema();
  vc::Host host(session_options());
  vc::GameConnection game(host, vc::ConnectionId{}, schema, vs::CodecConfig{});
  vs::Encoder encoder(schema, vs::CodecConfig{});
  std::vector<std::uint8_t> packet(64 * 1024);
  const std::size_t size = encoder.encode(nullptr, world(1), {}, packet);
  REQUIRE(size > 0);
  vc::Event event;
  event.type = vc::EventType::kReceived;
  event.connection = game.connection();
  event.bytes = volley::Bytes(packet.data(), size);
  event.time = volley::kSecond;
  event.channel = vs::kGameChannel;  // the game's own channel: not taken
  CHECK_FALSE(game.handle(event));
  CHECK(game.frame() == nullptr);
  event.channel = vs::kSnapshotChannel;
  CHECK(game.handle(event));
  REQUIRE(game.frame() != nullptr);
  CHECK(game.frame()->number == 1);
  // The same packet again, later: consumed and dropped as old, and not an arrival for the
  // interpolator (which needs two applied frames before it has a render point).
  event.time = 2 * volley::kSecond;
  CHECK(game.handle(event));
  CHECK(game.counters().applied == 1);
  CHECK_FALSE(game.interpolator().at(3 * volley::kSecond).has_value());
}

TEST_CASE("game connection: the event queue is capped (ReceiverConfig::max_queued_events), drops counted") {
  // A server raising events faster than the game takes them (or a game that never calls
  // take_events) filled events_ without bound; hand-made events, no network needed.
  const vs::Schema schema = game_schema();
  vc::Host host(session_options());
  vc::GameConnection game(host, vc::ConnectionId{}, schema, vs::CodecConfig{},
                          vs::ReceiverConfig{.max_queued_events = 10});
  vs::Encoder encoder(schema, vs::CodecConfig{});
  std::vector<std::uint8_t> packet(64 * 1024);
  vc::Event event;
  event.type = vc::EventType::kReceived;
  event.connection = game.connection();
  event.channel = vs::kSnapshotChannel;
  std::uint64_t next_id = 1;
  for (std::uint32_t n = 1; n <= 5; ++n) {  // 5 frames of 4 new events, never taken
    std::vector<vs::Event> events;
    for (int i = 0; i < 4; ++i) events.push_back({next_id++, 2, {7}});
    const std::size_t size = encoder.encode(nullptr, world(n), events, packet);
    REQUIRE(size > 0);
    event.bytes = volley::Bytes(packet.data(), size);
    event.time = n * volley::kSecond;
    REQUIRE(game.handle(event));
  }
  CHECK(game.counters().applied == 5);
  CHECK(game.counters().events_delivered == 10);
  CHECK(game.counters().events_dropped_full == 10);
  std::vector<vs::Event> taken;
  game.take_events(taken);
  REQUIRE(taken.size() == 10);
  CHECK(taken.front().id == 1);
  CHECK(taken.back().id == 10);
  // Taken: room again.
  const std::vector<vs::Event> one = {{next_id, 2, {7}}};
  const std::size_t size = encoder.encode(nullptr, world(6), one, packet);
  REQUIRE(size > 0);
  event.bytes = volley::Bytes(packet.data(), size);
  REQUIRE(game.handle(event));
  game.take_events(taken);
  REQUIRE(taken.size() == 1);
  CHECK(taken.front().id == next_id);
}
