// The snapshot sender against the codec's Receiver in process: deterministic (seeded world,
// seeded impairment links, virtual time), no sockets.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "snapshot_sender.hpp"
#include "support/seed.hpp"
#include "volley/netsim/link.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/session.hpp"

namespace volley::server {
namespace {

using snapshot::Frame;

constexpr TimePoint kTick = 33 * kMillisecond;

snapshot::Schema test_schema() {
  snapshot::Schema schema;
  const std::array<snapshot::FieldWidth, 4> fields{-16, -16, 12, 9};
  schema.add_type(fields);
  return schema;
}

// A seeded world: entities wander (a share of them each tick), now and then one despawns and a
// new one spawns under a fresh id.
class World {
 public:
  World(std::uint64_t seed, std::size_t entities, double moving, bool respawn = true)
      : rng_(seed), moving_(moving), respawn_(respawn) {
    for (std::size_t i = 0; i < entities; ++i) spawn();
  }
  void step() {
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<int> d(-40, 40);
    for (auto& e : entities_) {
      if (u(rng_) >= moving_) continue;
      e.v[0] = std::clamp(e.v[0] + d(rng_), -30000, 30000);
      e.v[1] = std::clamp(e.v[1] + d(rng_), -30000, 30000);
      e.v[3] = (e.v[3] + 3) & 511;
    }
    if (respawn_ && u(rng_) < 0.05 && entities_.size() > 1) {
      entities_.erase(entities_.begin() + static_cast<std::ptrdiff_t>(rng_() % entities_.size()));
      spawn();
    }
  }
  void fill(Frame& frame) const {
    for (const auto& e : entities_) frame.add(e.id, 0, e.v);
  }
  std::size_t size() const { return entities_.size(); }

 private:
  struct Entity {
    std::uint32_t id;
    std::array<std::int32_t, 4> v;
  };
  void spawn() {
    std::uniform_int_distribution<int> p(-20000, 20000);
    entities_.push_back({next_id_++, {p(rng_), p(rng_), static_cast<int>(rng_() % 4096), 0}});
  }
  std::mt19937_64 rng_;
  double moving_;
  bool respawn_;
  std::vector<Entity> entities_;
  std::uint32_t next_id_ = 1;
};

// One simulated game client: a Receiver behind two impairment links.
struct SimClient {
  SimClient(PeerHandle p, const snapshot::Schema& schema, netsim::Impairment down_imp,
            netsim::Impairment up_imp, std::uint64_t seed)
      : peer(p), rx(schema, {}), down(down_imp, seed), up(up_imp, seed + 1) {}
  PeerHandle peer;
  snapshot::Receiver rx;
  netsim::Link down, up;
  std::uint32_t newest = 0;
  bool went_backwards = false;
  bool gone = false;  // removed from the sender: sends and receives nothing more
  std::vector<std::uint64_t> shown;
  std::vector<bool> full_received;

  void deliver(TimePoint now) {
    std::vector<snapshot::Event> events;
    for (auto& d : down.take_due(now)) {
      const auto header = snapshot::Decoder::peek(d.bytes);
      if (rx.receive(d.bytes, events) == snapshot::ReceiveResult::kApplied) {
        if (rx.latest()->number <= newest) went_backwards = true;
        newest = rx.latest()->number;
        full_received.push_back(header && !header->delta());
      }
      for (const auto& e : events) shown.push_back(e.id);
      events.clear();
    }
  }
  void send_input(TimePoint now) {
    std::array<std::uint8_t, 64> buf{};
    const std::array<std::uint8_t, 2> game{7, 7};
    const std::size_t n = snapshot::encode_input(rx.ack(), game, buf);
    up.send(now, std::span(buf.data(), n));
  }
};

struct Sim {
  snapshot::Schema schema = test_schema();
  SnapshotSender sender;
  World world;
  std::vector<std::unique_ptr<SimClient>> clients;
  std::vector<std::uint64_t> raised;
  std::size_t largest = 0;  // the largest packet sent
  TimePoint now = 0;

  Sim(SenderConfig config, std::uint64_t seed, std::size_t entities, double moving)
      : sender(schema, config), world(seed, entities, moving) {}

  SimClient& add(netsim::Impairment down, netsim::Impairment up, std::uint64_t seed) {
    const PeerHandle peer{static_cast<std::uint32_t>(clients.size()), 1};
    clients.push_back(std::make_unique<SimClient>(peer, schema, down, up, seed));
    sender.add_client(peer);
    return *clients.back();
  }
  void remove(SimClient& c) {
    sender.remove_client(c.peer);
    c.gone = true;
  }

  // One tick: inputs in, world update and events, packets out, deliveries, inputs sent.
  void tick(bool raise = false) {
    for (auto& c : clients) {
      if (c->gone) continue;
      for (auto& d : c->up.take_due(now)) {
        REQUIRE(sender.on_input(c->peer, d.bytes).has_value());
      }
    }
    Frame& frame = sender.begin_tick();
    world.step();
    world.fill(frame);
    if (raise) {
      const std::array<std::uint8_t, 3> payload{1, 2, 3};
      raised.push_back(sender.raise_event(5, payload));
    }
    sender.end_tick([&](PeerHandle peer, std::span<const std::uint8_t> bytes) {
      largest = std::max(largest, bytes.size());
      clients[peer.index]->down.send(now, bytes);
    });
    now += kTick;
    for (auto& c : clients) {
      if (c->gone) continue;
      c->deliver(now);
      c->send_input(now);
    }
  }
};

bool equals_world(const SimClient& c, const SnapshotSender& sender) {
  const Frame* held = c.rx.latest();
  const Frame* world = held != nullptr ? sender.history(held->number) : nullptr;
  return world != nullptr && *held == *world;
}

TEST_CASE("sender + receiver under 30% loss, duplication and reordering") {
  VOLLEY_SEEDED_RNG(rng, 1);
  Sim sim({}, rng(), 64, 0.3);
  netsim::Impairment bad;
  bad.loss = 0.3;
  bad.duplicate = 0.1;
  bad.reorder = 0.2;
  bad.reorder_delay = 70 * kMillisecond;
  bad.latency = 40 * kMillisecond;
  bad.jitter = 20 * kMillisecond;
  SimClient& c = sim.add(bad, bad, rng());

  for (int t = 0; t < 600; ++t) sim.tick(t % 4 == 0);
  CHECK_FALSE(c.went_backwards);
  CHECK(c.rx.counters().applied > 100);
  CHECK(c.rx.counters().dropped_old > 0);  // duplicates and reordering did happen
  CHECK(c.rx.counters().dropped_checksum == 0);
  CHECK(c.rx.counters().dropped_corrupt == 0);
  CHECK(c.down.stats().lost > 100);
  CHECK(c.down.stats().duplicated > 10);

  // The loss stops: within a bounded number of ticks the client holds exactly the server's world.
  c.down.impairment() = netsim::Impairment{};
  c.up.impairment() = netsim::Impairment{};
  int converged_after = -1;
  for (int t = 0; t < 30; ++t) {
    sim.tick();
    if (equals_world(c, sim.sender) && c.rx.latest()->number == sim.sender.frame_number()) {
      converged_after = t;
      break;
    }
  }
  MESSAGE("converged after ", converged_after, " ticks");
  CHECK(converged_after >= 0);
  CHECK(converged_after <= 5);
  for (int t = 0; t < 10; ++t) sim.tick();  // let the last events be acknowledged
  CHECK(equals_world(c, sim.sender));

  // Every event shown exactly once.
  std::vector<std::uint64_t> shown = c.shown;
  std::sort(shown.begin(), shown.end());
  CHECK(std::adjacent_find(shown.begin(), shown.end()) == shown.end());
  CHECK(shown == sim.raised);
  CHECK(sim.sender.counters().events_undeliverable == 0);
  CHECK(sim.sender.counters().events_pending == 0);
  CHECK(c.rx.counters().events_duplicate > 0);  // events really rode in several snapshots
}

TEST_CASE("under 30% loss with a tight budget and a view filter the client still converges") {
  VOLLEY_SEEDED_RNG(rng, 7);
  SenderConfig config;
  config.budget_bytes = 350;
  Sim sim(config, rng(), 150, 0.5);
  netsim::Impairment bad;
  bad.loss = 0.3;
  bad.duplicate = 0.1;
  bad.reorder = 0.2;
  bad.reorder_delay = 70 * kMillisecond;
  bad.latency = 40 * kMillisecond;
  SimClient& c = sim.add(bad, bad, rng());
  const auto sees = [](std::uint32_t id, std::uint16_t) { return id % 3 != 0; };
  sim.sender.set_filter(c.peer, sees);
  const auto filtered = [&](std::uint32_t number) {
    Frame out;
    const Frame* world = sim.sender.history(number);
    REQUIRE(world != nullptr);
    out.number = number;
    for (std::size_t i = 0; i < world->size(); ++i) {
      if (sees(world->id(i), 0)) out.append(*world, i, 1);
    }
    return out;
  };

  for (int t = 0; t < 400; ++t) sim.tick(t % 5 == 0);
  CHECK_FALSE(c.went_backwards);
  CHECK(sim.sender.counters().budget_trimmed > 100);
  CHECK(sim.largest <= 350);
  CHECK(c.rx.counters().dropped_checksum == 0);

  c.down.impairment() = netsim::Impairment{};
  c.up.impairment() = netsim::Impairment{};
  int converged_after = -1;
  for (int t = 0; t < 40; ++t) {
    sim.tick();
    const Frame* held = c.rx.latest();
    if (held->number == sim.sender.frame_number() && *held == filtered(held->number)) {
      converged_after = t;
      break;
    }
  }
  MESSAGE("budget + filter: converged after ", converged_after, " ticks");
  CHECK(converged_after >= 0);
  CHECK(converged_after <= 15);
  for (int t = 0; t < 10; ++t) sim.tick();
  std::vector<std::uint64_t> shown = c.shown;
  std::sort(shown.begin(), shown.end());
  CHECK(std::adjacent_find(shown.begin(), shown.end()) == shown.end());
  CHECK(shown == sim.raised);
}

TEST_CASE("the baseline's edge: an acknowledged frame history - 1 ticks old is still a baseline, history ticks is not") {
  VOLLEY_SEEDED_RNG(rng, 7);
  SenderConfig config;
  config.history = 8;
  Sim sim(config, rng(), 16, 0.5);
  SimClient& c = sim.add({}, {}, rng());
  for (int t = 0; t < 10; ++t) sim.tick();
  c.up.dead = true;
  sim.tick();  // takes the input already on its way
  const auto stats = sim.sender.client_stats(c.peer);
  REQUIRE(stats);
  REQUIRE(stats->acked);
  const std::uint32_t acked = *stats->acked;
  for (int t = 0; t < 10; ++t) {
    sim.tick();
    const std::uint32_t age = sim.sender.frame_number() - acked;
    CAPTURE(age);
    REQUIRE_FALSE(c.full_received.empty());
    CHECK(c.full_received.back() == (age >= 8));
  }
  CHECK(c.rx.counters().dropped_no_baseline == 0);
}

TEST_CASE("an older acknowledgement is stale, the same one repeated is not counted, an event payload of exactly the limit is taken") {
  VOLLEY_SEEDED_RNG(rng, 8);
  Sim sim({}, rng(), 8, 0.3);
  SimClient& c = sim.add({}, {}, rng());
  for (int t = 0; t < 5; ++t) sim.tick();
  const auto stats = sim.sender.client_stats(c.peer);
  REQUIRE(stats);
  REQUIRE(stats->acked);
  REQUIRE(*stats->acked > 1);
  const auto stale = sim.sender.counters().acks_stale;
  const auto unknown = sim.sender.counters().acks_unknown;
  // Inputs faster than snapshots each carry the same newest applied frame: normal traffic.
  sim.sender.acknowledge(c.peer, *stats->acked);
  CHECK(sim.sender.counters().acks_stale == stale);
  sim.sender.acknowledge(c.peer, *stats->acked - 1);
  CHECK(sim.sender.counters().acks_stale == stale + 1);
  CHECK(sim.sender.counters().acks_unknown == unknown);
  CHECK(sim.sender.client_stats(c.peer)->acked == stats->acked);

  sim.sender.begin_tick();
  const std::vector<std::uint8_t> limit(snapshot::kMaxEventPayload, 1);
  const std::vector<std::uint8_t> over(snapshot::kMaxEventPayload + 1, 1);
  CHECK(sim.sender.raise_event(3, limit) != 0);
  CHECK(sim.sender.raise_event(3, over) == 0);
}

TEST_CASE("a client whose acknowledged frame left the ring gets a full snapshot and recovers") {
  VOLLEY_SEEDED_RNG(rng, 2);
  Sim sim({}, rng(), 48, 0.5);
  SimClient& c = sim.add({}, {}, rng());
  for (int t = 0; t < 20; ++t) sim.tick();
  REQUIRE(equals_world(c, sim.sender));
  const auto full_before = sim.sender.counters().snapshots_full;

  SUBCASE("its acknowledgements are lost: it keeps applying, never lacks a baseline") {
    c.up.dead = true;
    for (int t = 0; t < 60; ++t) sim.tick();
    CHECK(sim.sender.counters().snapshots_full > full_before);
    CHECK(c.rx.counters().dropped_no_baseline == 0);
    CHECK(equals_world(c, sim.sender));
    c.up.dead = false;
    c.full_received.clear();
  }
  SUBCASE("it hears nothing for longer than the ring") {
    c.down.dead = true;
    c.up.dead = true;
    for (int t = 0; t < 40; ++t) sim.tick();
    CHECK(sim.sender.counters().snapshots_full > full_before);  // its ack is over 32 frames old
    c.down.dead = false;
    c.up.dead = false;
    c.full_received.clear();
  }
  sim.tick();
  sim.tick();
  REQUIRE_FALSE(c.full_received.empty());
  CHECK(c.full_received.front());
  for (int t = 0; t < 5; ++t) sim.tick();
  CHECK(equals_world(c, sim.sender));
  CHECK(c.rx.latest()->number == sim.sender.frame_number());
  CHECK_FALSE(c.full_received.back());  // back to deltas
  CHECK_FALSE(c.went_backwards);
}

TEST_CASE("a tight byte budget: no snapshot over it, every entity refreshed within a bound") {
  VOLLEY_SEEDED_RNG(rng, 3);
  SenderConfig config;
  config.budget_bytes = 300;
  Sim sim(config, rng(), 200, 1.0);  // every entity moves every tick
  sim.world = World(rng(), 200, 1.0, false);
  SimClient& c = sim.add({}, {}, rng());
  std::map<std::uint32_t, std::uint32_t> last_fresh;  // id -> frame its value was current
  std::uint32_t worst_gap = 0;
  for (int t = 0; t < 300; ++t) {
    sim.tick();
    const Frame* held = c.rx.latest();
    REQUIRE(held != nullptr);
    const Frame* world = sim.sender.history(held->number);
    REQUIRE(world != nullptr);
    for (std::size_t i = 0; i < world->size(); ++i) {
      const std::uint32_t id = world->id(i);
      const std::size_t j = held->find(id);
      if (j < held->size() && std::ranges::equal(held->values(j), world->values(i))) {
        last_fresh[id] = held->number;
      }
      if (t > 50) {
        const auto it = last_fresh.find(id);
        REQUIRE(it != last_fresh.end());
        worst_gap = std::max(worst_gap, held->number - it->second);
      }
    }
  }
  MESSAGE("worst staleness ", worst_gap, " frames, largest packet ", sim.largest, " B, trimmed ", sim.sender.counters().budget_trimmed);
  CHECK(sim.sender.counters().budget_trimmed > 100);
  CHECK(sim.sender.counters().budget_skipped == 0);
  CHECK(c.rx.counters().dropped_checksum == 0);
  CHECK(c.rx.counters().applied > 250);
  CHECK(worst_gap <= 10);  // about 200 entities / ~70 per packet, plus slack
  CHECK(sim.largest <= 300);
  CHECK(sim.largest > 200);  // the budget is used, not left idle
}

// Events raised faster than one packet's budget can carry: they ride over several packets
// (at most half a packet each), every one shown once, and the world keeps flowing. All in one
// packet, over the budget, every snapshot was skipped until the events expired (a frozen world,
// the events lost).
TEST_CASE("events past the budget ride over several packets and snapshots never stop") {
  VOLLEY_SEEDED_RNG(rng, 11);
  SenderConfig config;
  config.budget_bytes = 1200;
  Sim sim(config, rng(), 50, 1.0);
  SimClient& c = sim.add({}, {}, rng());
  for (int t = 0; t < 10; ++t) sim.tick();
  std::vector<std::uint8_t> big(255);
  std::vector<std::uint64_t> raised;
  for (int i = 0; i < 8; ++i) {  // ~2 KB at once, random (zstd cannot fold them into one)
    for (std::uint8_t& b : big) b = static_cast<std::uint8_t>(rng());
    raised.push_back(sim.sender.raise_event(9, big));
  }
  for (const std::uint64_t id : raised) REQUIRE(id != 0);
  std::uint32_t longest_gap = 0, last_applied = c.rx.counters().applied;
  std::uint32_t since = 0;
  for (int t = 0; t < 60; ++t) {
    sim.tick();
    since = c.rx.counters().applied > last_applied ? 0 : since + 1;
    last_applied = c.rx.counters().applied;
    longest_gap = std::max(longest_gap, since);
  }
  CHECK(sim.sender.counters().budget_skipped == 0);
  CHECK(sim.sender.counters().events_undeliverable == 0);
  CHECK(longest_gap <= 1);
  CHECK(sim.largest <= 1200);
  for (const std::uint64_t id : raised) CHECK(std::count(c.shown.begin(), c.shown.end(), id) == 1);
  // An event no packet within the budget could carry is refused when raised.
  SenderConfig tight;
  tight.budget_bytes = 200;
  SnapshotSender small(test_schema(), tight);
  CHECK(small.raise_event(1, big) == 0);
  CHECK(small.raise_event(1, std::vector<std::uint8_t>(100, 1)) != 0);
}

// A large budget is the game's to choose (up to 60,000 in Config): a packet over half the
// codec's limit goes out whole, while budget 0 stands for half that limit.
TEST_CASE("a budget over half the codec's packet limit is kept, budget 0 is half of it") {
  VOLLEY_SEEDED_RNG(rng, 12);
  snapshot::Schema schema;
  const snapshot::FieldWidth widths[2] = {-32, -32};
  REQUIRE(schema.add_type(widths));
  std::size_t largest = 0;
  for (const std::size_t budget : {std::size_t{60000}, std::size_t{0}}) {
    SenderConfig config;
    config.budget_bytes = budget;
    SnapshotSender sender(schema, config);
    sender.add_client(PeerHandle{0, 1});
    std::vector<std::array<std::int32_t, 2>> values(5000);  // ~40 KB of random values
    for (auto& v : values) v = {static_cast<std::int32_t>(rng()), static_cast<std::int32_t>(rng())};
    largest = 0;
    for (int tick = 0; tick < 10; ++tick) {  // the first packets follow the cautious size estimate
      Frame& f = sender.begin_tick();
      for (std::uint32_t id = 1; id <= values.size(); ++id) f.add(id, 0, values[id - 1]);
      sender.end_tick([&](PeerHandle, std::span<const std::uint8_t> bytes) { largest = std::max(largest, bytes.size()); });
    }
    CAPTURE(budget);
    if (budget != 0) CHECK(largest > SenderConfig{}.codec.max_packet_bytes / 2);
    if (budget == 0) CHECK((largest > 0 && largest <= SenderConfig{}.codec.max_packet_bytes / 2));
  }
}

TEST_CASE("shared encoding: clients with the same acknowledged frame and view cost one encode") {
  VOLLEY_SEEDED_RNG(rng, 4);
  for (const bool share : {true, false}) {
    CAPTURE(share);
    SenderConfig config;
    config.share_encodings = share;
    Sim sim(config, rng(), 64, 0.3);
    for (int i = 0; i < 20; ++i) sim.add({}, {}, rng());
    // Five clients see only even ids: a second visible set, so a second encode.
    for (std::uint32_t i = 0; i < 5; ++i) {
      sim.sender.set_filter(PeerHandle{i, 1}, [](std::uint32_t id, std::uint16_t) { return id % 2 == 0; });
    }
    for (int t = 0; t < 10; ++t) sim.tick(t == 3);
    const auto before = sim.sender.counters();
    sim.tick();
    const auto& after = sim.sender.counters();
    CHECK(after.snapshots_delta - before.snapshots_delta == 20);
    CHECK(after.encodes - before.encodes == (share ? 2 : 20));
    CHECK(after.encodes_shared - before.encodes_shared == (share ? 18 : 0));
    for (const auto& c : sim.clients) {
      const Frame* held = c->rx.latest();
      REQUIRE(held != nullptr);
      const Frame* world = sim.sender.history(held->number);
      REQUIRE(world != nullptr);
      if (c->peer.index < 5) {
        Frame even;
        even.number = world->number;
        for (std::size_t i = 0; i < world->size(); ++i) {
          if (world->id(i) % 2 == 0) even.append(*world, i, 1);
        }
        CHECK(*held == even);
      } else {
        CHECK(*held == *world);
      }
      CHECK(c->shown.size() == 1);
    }
  }
}

TEST_CASE("a crowd joining together under a tight budget shares its trimmed packets") {
  VOLLEY_SEEDED_RNG(rng, 6);
  for (const bool share : {true, false}) {
    CAPTURE(share);
    SenderConfig config;
    config.budget_bytes = 300;
    config.share_encodings = share;
    Sim sim(config, rng(), 150, 0.5);
    for (int i = 0; i < 20; ++i) sim.add({}, {}, rng());
    std::uint64_t most = 0;
    for (int t = 0; t < 5; ++t) {
      const auto before = sim.sender.counters().encodes;
      sim.tick();
      most = std::max(most, sim.sender.counters().encodes - before);
    }
    CHECK(sim.sender.counters().budget_trimmed >= 20 * 5);
    CHECK(sim.largest <= 300);
    if (share) {
      CHECK(most <= 11);  // one whole-view attempt plus at most 10 trims, for all 20 clients
    } else {
      CHECK(most >= 20);  // every client trims alone
    }
    for (const auto& c : sim.clients) {
      CHECK(c->rx.counters().applied == 5);
      CHECK(*c->rx.latest() == *sim.clients.front()->rx.latest());
    }
  }
}

TEST_CASE("a stride: each client gets every stride-th tick in turn, deltas still apply, back to every tick") {
  VOLLEY_SEEDED_RNG(rng, 9);
  Sim sim({}, rng(), 40, 0.5);
  for (int i = 0; i < 6; ++i) sim.add({}, {}, rng());
  for (int t = 0; t < 10; ++t) sim.tick(t % 3 == 0);
  sim.sender.set_stride(3);
  const auto sent = [&] { return sim.sender.counters().snapshots_full + sim.sender.counters().snapshots_delta; };
  std::vector<std::uint64_t> applied_before;
  for (auto& c : sim.clients) applied_before.push_back(c->rx.counters().applied);
  for (int t = 0; t < 30; ++t) {
    const auto before = sent();
    sim.tick(t % 3 == 0);
    CHECK(sent() - before == 2);  // a third of the six clients each tick
  }
  CHECK(sim.sender.counters().snapshots_deferred == 30 * 4);
  CHECK(sim.sender.counters().stride == 3);
  for (std::size_t i = 0; i < sim.clients.size(); ++i) {
    const SimClient& c = *sim.clients[i];
    CHECK(c.rx.counters().applied - applied_before[i] == 10);  // every third tick
    CHECK_FALSE(c.went_backwards);
    CHECK(c.rx.counters().dropped_checksum == 0);
    CHECK(equals_world(c, sim.sender));
  }
  // Back to every tick: every client holds the newest world frame one tick later.
  sim.sender.set_stride(1);
  for (int t = 0; t < 2; ++t) sim.tick();
  for (const auto& c : sim.clients) {
    CHECK(c->rx.latest()->number == sim.sender.frame_number());
    CHECK(equals_world(*c, sim.sender));
  }
  for (int t = 0; t < 10; ++t) sim.tick();  // the last events acknowledged
  for (const auto& c : sim.clients) {
    std::vector<std::uint64_t> shown = c->shown;
    std::sort(shown.begin(), shown.end());
    CHECK(std::adjacent_find(shown.begin(), shown.end()) == shown.end());
    CHECK(shown.size() == sim.raised.size());
  }
}

TEST_CASE("events a client never acknowledges expire as undeliverable, bad input is counted") {
  VOLLEY_SEEDED_RNG(rng, 5);
  SenderConfig config;
  config.event_max_age = 10;
  Sim sim(config, rng(), 8, 0.3);
  SimClient& deaf = sim.add({}, {}, rng());
  SimClient& fine = sim.add({}, {}, rng());
  deaf.down.dead = true;
  for (int t = 0; t < 30; ++t) sim.tick(t < 5);
  CHECK(fine.shown.size() == 5);
  CHECK(sim.sender.counters().events_undeliverable == 5);  // each of the 5, for the deaf client
  CHECK(sim.sender.counters().events_pending == 0);

  const std::array<std::uint8_t, 3> junk{1, 2, 3};
  CHECK_FALSE(sim.sender.on_input(fine.peer, junk).has_value());
  CHECK(sim.sender.counters().inputs_malformed == 1);
  const auto unknown = sim.sender.counters().acks_unknown;
  sim.sender.acknowledge(fine.peer, sim.sender.frame_number() + 5);  // never sent
  CHECK(sim.sender.counters().acks_unknown == unknown + 1);
  sim.remove(deaf);
  CHECK(sim.sender.clients() == 1);

  // A well-formed input from a peer that is no longer a client (or never was) is not the game's.
  std::array<std::uint8_t, snapshot::kInputHeaderBytes + 4> buf{};
  const std::array<std::uint8_t, 4> move{9, 8, 7, 6};
  const std::size_t n = snapshot::encode_input(sim.sender.frame_number(), move, buf);
  REQUIRE(n != 0);
  CHECK_FALSE(sim.sender.on_input(deaf.peer, std::span(buf.data(), n)).has_value());
  CHECK_FALSE(sim.sender.on_input(PeerHandle{4242, 1}, std::span(buf.data(), n)).has_value());
  CHECK(sim.sender.counters().inputs_unknown_peer == 2);
  CHECK(sim.sender.counters().inputs_malformed == 1);
  CHECK(sim.sender.on_input(fine.peer, std::span(buf.data(), n)).has_value());
  CHECK(sim.sender.counters().inputs_unknown_peer == 2);
  sim.tick();
  CHECK(equals_world(fine, sim.sender));
}

TEST_CASE("an unacknowledged event rides in event_max_age more ticks after its own, then is dropped") {
  VOLLEY_SEEDED_RNG(rng, 6);
  SenderConfig config;
  config.event_max_age = 3;
  Sim sim(config, rng(), 4, 0.3);
  SimClient& mute = sim.add({}, {}, rng());
  mute.up.dead = true;  // its acknowledgements never arrive
  sim.tick(true);       // raised in this tick's frame
  for (int age = 1; age <= 3; ++age) {
    CAPTURE(age);
    sim.tick();
    CHECK(sim.sender.counters().events_pending == 1);
    CHECK(sim.sender.counters().events_undeliverable == 0);
  }
  sim.tick();
  CHECK(sim.sender.counters().events_pending == 0);
  CHECK(sim.sender.counters().events_undeliverable == 1);
  CHECK(mute.shown.size() == 1);  // it rode in the snapshots meanwhile, shown once
}

TEST_CASE("a world frame that breaks the codec's rules is counted, nothing sent, no crash") {
  const snapshot::Schema schema = test_schema();
  SnapshotSender sender(schema, {});
  sender.add_client(PeerHandle{0, 1});
  std::size_t sent = 0;
  const auto count = [&](PeerHandle, std::span<const std::uint8_t>) { ++sent; };
  const std::array<std::int32_t, 4> ok{1, 2, 3, 4};
  const std::array<std::int32_t, 4> too_wide{1, 2, 5000, 4};  // 12-bit field
  Frame& a = sender.begin_tick();
  a.add(5, 0, ok);
  a.add(3, 0, ok);  // ids not increasing
  sender.end_tick(count);
  Frame& b = sender.begin_tick();
  b.add(1, 0, too_wide);
  sender.end_tick(count);
  CHECK(sent == 0);
  CHECK(sender.counters().encode_failed == 2);
  Frame& c = sender.begin_tick();
  c.add(1, 0, ok);
  sender.end_tick(count);
  CHECK(sent == 1);
}


TEST_CASE("a client's inputs are capped per second (bursts allowed), the excess is dropped unread and counted") {
  VOLLEY_SEEDED_RNG(rng, 9);
  SenderConfig config;
  config.tick_hz = 30;
  config.max_inputs_per_second = 60;  // two per tick
  config.input_burst = 10;
  Sim sim(config, rng(), 4, 0.3);
  SimClient& flood = sim.add({}, {}, rng());
  SimClient& calm = sim.add({}, {}, rng());
  std::array<std::uint8_t, 64> buf{};
  const std::array<std::uint8_t, 2> game{7, 7};
  const std::size_t n = snapshot::encode_input(std::nullopt, game, buf);
  const std::span<const std::uint8_t> input(buf.data(), n);
  auto accepted = [&](SimClient& c, int count) {
    int ok = 0;
    for (int i = 0; i < count; ++i) ok += sim.sender.on_input(c.peer, input).has_value() ? 1 : 0;
    return ok;
  };
  // A fresh client may burst; then it gets exactly its rate, tick after tick.
  CHECK(accepted(flood, 100) == 10);
  CHECK(sim.sender.counters().inputs_rate_limited == 90);
  CHECK(accepted(calm, 1) == 1);  // another client's budget is its own
  for (int t = 0; t < 30; ++t) {
    sim.sender.begin_tick();
    sim.sender.end_tick([](PeerHandle, std::span<const std::uint8_t>) {});
    CHECK(accepted(flood, 5) == 2);
  }
  CHECK(sim.sender.counters().inputs_rate_limited == 90 + 30 * 3);
  CHECK(sim.sender.counters().inputs_malformed == 0);  // dropped unread, not misjudged
  // Quiet for a second: the burst is back, and no more than it.
  for (int t = 0; t < 30; ++t) {
    sim.sender.begin_tick();
    sim.sender.end_tick([](PeerHandle, std::span<const std::uint8_t>) {});
  }
  CHECK(accepted(flood, 100) == 10);
}

TEST_CASE("at a slow tick a client still gets its input rate, not the burst per tick") {
  // One tick a second, 120 inputs a second, bursts of 60: the bucket holds a whole tick's refill
  // (it held the burst, 60, and every refill of 120 was clipped to it).
  VOLLEY_SEEDED_RNG(rng, 10);
  SenderConfig config;
  config.tick_hz = 1;
  config.max_inputs_per_second = 120;
  config.input_burst = 60;
  Sim sim(config, rng(), 4, 0.0);
  SimClient& c = sim.add({}, {}, rng());
  std::array<std::uint8_t, 64> buf{};
  const std::array<std::uint8_t, 2> game{7, 7};
  const std::size_t n = snapshot::encode_input(std::nullopt, game, buf);
  const std::span<const std::uint8_t> input(buf.data(), n);
  for (int t = 0; t < 5; ++t) {
    sim.sender.begin_tick();
    sim.sender.end_tick([](PeerHandle, std::span<const std::uint8_t>) {});
    int ok = 0;
    for (int i = 0; i < 200; ++i) ok += sim.sender.on_input(c.peer, input).has_value() ? 1 : 0;
    CHECK(ok == 120);
  }
}

}  // namespace
}  // namespace volley::server
