// The tick and the snapshot sender through the real Server over loopback: the tick runs at about
// tick_hz, a client-role protocol Peer receives snapshots on kSnapshotChannel (unsequenced) that
// the codec's Receiver applies, and its inputs reach on_input with the acknowledgement applied.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "loopback_client.hpp"
#include "volley/server/server.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/session.hpp"

namespace volley::server::test {
namespace {

using protocol::PeerEvent;

snapshot::Schema two_fields() {
  snapshot::Schema schema;
  const std::array<snapshot::FieldWidth, 2> fields{-20, 12};
  schema.add_type(fields);
  return schema;
}

// The world of frame f, a pure function of f: the client's frames are compared against it.
void fill_world(std::uint32_t f, snapshot::Frame& world) {
  for (std::uint32_t id = 1; id <= 30; ++id) {
    const std::array<std::int32_t, 2> v{static_cast<std::int32_t>(f * id % 100000), static_cast<std::int32_t>(id)};
    world.add(id * 3, 0, v);
  }
}

// A loopback server ticking at `hz` with the two-field schema (OS default socket buffers).
Config tick_config(std::uint32_t hz) {
  Config config;
  config.bind = "127.0.0.1";
  config.recv_buffer_bytes = 0;
  config.send_buffer_bytes = 0;
  config.tick_hz = hz;
  config.snapshots.schema = two_fields();
  return config;
}

// Connects the client-role Peer on the snapshot session's channels.
void connect_session(LoopbackClient& client) {
  client.connect(snapshot::kSessionChannels, 0);
  REQUIRE(client.run_until([&] { return client.count(PeerEvent::Type::kConnect) == 1; }, 3000));
}

TEST_CASE("the tick through the Server: about tick_hz, snapshots a Receiver applies, inputs acked") {
  Config config = tick_config(50);
  auto created = Server::create(config);
  REQUIRE_MESSAGE(created, created.error);
  Server& server = *created.server;

  std::atomic<std::uint32_t> ticks{0};
  std::atomic<std::uint32_t> inputs{0};
  std::atomic<std::uint32_t> last_input_ack{0};
  std::atomic<std::uint64_t> events_raised{0};
  Callbacks cb;
  cb.on_tick = [&](std::uint32_t frame, snapshot::Frame& world) {
    ticks.fetch_add(1);
    fill_world(frame, world);
    if (frame % 10 == 0) {
      const std::array<std::uint8_t, 2> chat{'h', 'i'};
      if (server.raise_event(1, chat) != 0) events_raised.fetch_add(1);
    }
  };
  cb.on_input = [&](PeerHandle, const snapshot::Input& input) {
    inputs.fetch_add(1);
    if (input.ack) last_input_ack.store(*input.ack);
  };
  // The game's own messages on the other channels still go to on_receive.
  std::atomic<std::uint32_t> game_messages{0};
  cb.on_receive = [&](const Packet& packet) {
    if (packet.channel == snapshot::kGameChannel && packet.bytes.size() == 3) game_messages.fetch_add(1);
  };
  server.set_callbacks(cb);
  std::thread thread([&] { server.run(); });

  LoopbackClient client("127.0.0.1", server.local_port());
  connect_session(client);
  const std::array<std::uint8_t, 3> chat{'y', 'o', '!'};
  client.peer().send(snapshot::kGameChannel, chat, protocol::packet_flags(Delivery::kReliable));

  snapshot::Receiver rx(two_fields(), {});
  std::vector<snapshot::Event> events;
  std::size_t shown = 0, not_unsequenced = 0, taken = 0;
  const auto start = std::chrono::steady_clock::now();
  const std::uint32_t ticks_at_start = ticks.load();
  client.run_until(
      [&] {
        auto& all = client.events();
        for (; taken < all.size(); ++taken) {
          const PeerEvent& e = all[taken];
          if (e.type != PeerEvent::Type::kReceive || e.channel != snapshot::kSnapshotChannel) continue;
          if (e.delivery != Delivery::kUnsequenced) ++not_unsequenced;
          rx.receive(e.payload, events);
          shown += events.size();
          events.clear();
        }
        std::array<std::uint8_t, 32> buf{};
        const std::array<std::uint8_t, 1> game{1};
        const std::size_t n = snapshot::encode_input(rx.ack(), game, buf);
        client.peer().send(snapshot::kInputChannel, std::span(buf.data(), n),
                           protocol::packet_flags(Delivery::kUnreliable));
        return false;
      },
      1000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = (ticks.load() - ticks_at_start) / seconds;
  MESSAGE("tick rate ", rate, " Hz over ", seconds, " s; applied ", rx.counters().applied);
  CHECK(rate > 25);  // generous: a shared 2-core machine under sanitizers
  CHECK(rate < 75);

  CHECK(not_unsequenced == 0);
  CHECK(rx.counters().applied > 10);
  CHECK(rx.counters().dropped_checksum == 0);
  CHECK(rx.counters().dropped_corrupt == 0);
  REQUIRE(rx.latest() != nullptr);
  snapshot::Frame expected;
  expected.number = rx.latest()->number;
  fill_world(expected.number, expected);
  CHECK(*rx.latest() == expected);
  CHECK(inputs.load() > 10);
  CHECK(last_input_ack.load() > 0);
  CHECK(shown > 0);
  CHECK(shown <= events_raised.load());
  CHECK(game_messages.load() == 1);

  server.stop();
  thread.join();
  const ServerStats stats = server.stats();  // the loop thread has finished
  auto detail = [&](std::string_view name) -> std::uint64_t {
    for (const auto& [k, v] : stats.details) {
      if (k == name) return v;
    }
    FAIL("no detail ", name);
    return 0;
  };
  CHECK(detail("snapshot_frames") >= ticks.load() - 1);
  CHECK(detail("snapshots_delta") > 0);  // its acknowledgements arrived
  CHECK(detail("snapshots_full") >= 1);
  CHECK(detail("inputs_malformed") == 0);
  CHECK(detail("snapshot_send_failed") == 0);
}

// The stride adapts to the tick's load (Server::Impl::adapt_stride): late ticks step it up within
// a few ticks, never past max_stride, and light ticks bring it back to 1. No client is needed:
// the load is the tick's own time. The on_tick callback makes the load by sleeping past the period.
TEST_CASE("late ticks step the snapshot stride up at once, to max_stride and no further, light ticks bring it back") {
  Config config = tick_config(50);  // 20 ms ticks
  config.snapshots.max_stride = 2;
  auto created = Server::create(config);
  REQUIRE_MESSAGE(created, created.error);
  Server& server = *created.server;
  constexpr std::uint32_t kHeavyTicks = 40, kLightTickLimit = 1000;  // about 22 light ticks here
  // Touched on the loop thread only; read after join().
  std::uint32_t ticks = 0, first_at_two = 0, highest = 0, last = 0;
  Callbacks cb;
  cb.on_tick = [&](std::uint32_t frame, snapshot::Frame& world) {
    fill_world(frame, world);
    std::uint32_t stride = 0;
    for (const auto& [name, value] : server.stats().details) {
      if (name == "snapshot_stride") stride = static_cast<std::uint32_t>(value);
    }
    ++ticks;
    highest = std::max(highest, stride);
    last = stride;
    if (ticks <= kHeavyTicks) {
      if (stride >= 2 && first_at_two == 0) first_at_two = ticks;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));  // 1.5 periods: a late tick
    } else if (stride == 1 || ticks >= kHeavyTicks + kLightTickLimit) {
      server.stop();
    }
  };
  server.set_callbacks(cb);
  std::thread thread([&] { server.run(); });
  thread.join();
  MESSAGE("stride 2 from heavy tick ", first_at_two, ", highest ", highest, ", back to ", last,
          " after ", ticks - kHeavyTicks, " light ticks");
  CHECK(first_at_two >= 2);
  CHECK(first_at_two <= 8);  // the third late tick steps up; without the late rule, 15 ticks
  CHECK(highest == 2);
  CHECK(last == 1);
}

TEST_CASE("a game that allows large snapshots gets them as unreliable fragments") {
  Config config = tick_config(20);
  config.snapshots.budget_bytes = 0;  // unlimited
  auto created = Server::create(config);
  REQUIRE_MESSAGE(created, created.error);
  Server& server = *created.server;
  // 2,000 entities with scrambled values: a full snapshot is several kilobytes.
  auto big_world = [](std::uint32_t f, snapshot::Frame& world) {
    for (std::uint32_t id = 1; id <= 2000; ++id) {
      const std::uint32_t h = (id * 2654435761u) ^ (f / 1000);
      const std::array<std::int32_t, 2> v{static_cast<std::int32_t>(h % 500000), static_cast<std::int32_t>(h % 4000)};
      world.add(id, 0, v);
    }
  };
  Callbacks cb;
  cb.on_tick = [&](std::uint32_t frame, snapshot::Frame& world) { big_world(frame, world); };
  server.set_callbacks(cb);
  std::thread thread([&] { server.run(); });

  LoopbackClient client("127.0.0.1", server.local_port());
  connect_session(client);
  snapshot::Receiver rx(two_fields(), {});
  std::vector<snapshot::Event> events;
  std::size_t fragmented = 0, largest = 0, taken = 0;
  client.run_until(
      [&] {
        auto& all = client.events();
        for (; taken < all.size(); ++taken) {
          const PeerEvent& e = all[taken];
          if (e.type != PeerEvent::Type::kReceive || e.channel != snapshot::kSnapshotChannel) continue;
          largest = std::max(largest, e.payload.size());
          if (e.payload.size() > 1400) {
            CHECK(e.delivery == Delivery::kUnreliableFragment);
            ++fragmented;
          }
          rx.receive(e.payload, events);
        }
        return fragmented > 0 && rx.counters().applied > 0;
      },
      3000);
  server.stop();
  thread.join();
  MESSAGE("largest snapshot ", largest, " B");
  CHECK(fragmented > 0);
  CHECK(rx.counters().applied > 0);
  CHECK(rx.counters().dropped_corrupt == 0);
}

TEST_CASE("Config: tick and snapshot limits are checked") {
  Config config;
  config.tick_hz = 5000;
  CHECK_FALSE(Server::create(config));
  config.tick_hz = 30;
  config.snapshots.budget_bytes = 10;
  CHECK_FALSE(Server::create(config));
}

}  // namespace
}  // namespace volley::server::test
