// volley-snapshot-sender-bench: sender CPU per client per tick (issue 10 target: <= 10 us with
// 1,000 clients, the 256-entity demo scene, all visible, 30 Hz), shared encodings against one
// encode per client, side by side. No network: packets are counted and dropped; every client
// acknowledges a recent frame each tick (client i acks frame n - 1 - i % ack_spread, as a spread
// of round-trip times would), so shared encoding sees ack_spread distinct baselines.
// --players N adds the demo game's load: N moving player entities (one per client in the real
// demo, ids from 0x40000000, walking like game bots: a new random direction every ~2 s) and chat
// events at --chat-per-s lines per second in all, so encodings are rarely shared.
#include <cmath>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "demo_world.hpp"
#include "snapshot_sender.hpp"
#include "volley/support/cli.hpp"
#include "volley/snapshot/schema.hpp"

namespace {

using volley::PeerHandle;
using volley::server::SenderConfig;
using volley::server::SnapshotSender;

struct Options {
  std::size_t clients = 1000;
  std::size_t entities = 256;
  std::size_t ticks = 150;   // measured, after warm-up
  std::size_t warmup = 40;   // first snapshots (full, trimmed to the budget) not measured
  std::size_t ack_spread = 3;
  std::size_t budget = 1200;
  std::uint64_t seed = 1;
  std::size_t players = 0;
  std::size_t chat_per_s = 0;
  std::size_t ack_random = 0;  // 1: a random lag in [0, ack_spread) per client per tick, 10% lost
  double view_cell = 0;  // > 0: the demo's interest grid (--view-cell), client i is player i
  std::size_t share_only = 0;  // 1: skip the per-client comparison (slow with players)
};

// Players walking like the demo's game bots (server/app/demo/demo_game.cpp's movement, flat).
class Walkers {
 public:
  // view_cell > 0: spawned over the field and seen through the demo's 3x3-cell interest grid
  // (server/app/demo/demo_game.cpp), else all on a 20 m circle.
  Walkers(std::size_t n, std::uint64_t seed, double view_cell)
      : state_(seed | 1), view_cell_(view_cell), players_(n), cells_(n) {
    for (std::size_t i = 0; i < n; ++i) {
      const double k = static_cast<double>(i % 1000);
      const double angle = k * 2.39996;
      const double radius = view_cell > 0 ? 7.3 * std::sqrt(k + 0.5) : 20.0;
      players_[i].position = {radius * std::cos(angle), radius * std::sin(angle), 0};
    }
  }
  bool sees(std::size_t viewer, std::uint32_t id) const {
    if (id < 0x4000'0000u) return true;
    const std::uint32_t a = cells_[viewer], b = cells_[id - 0x4000'0000u];
    const auto near = [](std::uint32_t x, std::uint32_t y) { return (x > y ? x - y : y - x) <= 1; };
    return near(a >> 16, b >> 16) && near(a & 0xFFFF, b & 0xFFFF);
  }
  void step(double dt) {
    for (auto& p : players_) {
      if (p.turn_in <= 0) {
        p.heading = uniform() * 6.283185;
        p.speed = uniform() < 0.2 ? 0.0 : 6.0;
        p.turn_in = static_cast<int>(30 + uniform() * 60);
      }
      --p.turn_in;
      p.velocity = {p.speed * std::cos(p.heading), p.speed * std::sin(p.heading), 0};
      p.position += p.velocity * dt;
      p.position.x = std::clamp(p.position.x, -250.0, 250.0);
      p.position.y = std::clamp(p.position.y, -250.0, 250.0);
    }
    if (view_cell_ <= 0) return;
    const auto cell = [&](double v) {
      return static_cast<std::uint32_t>(static_cast<std::int32_t>(std::floor((v + 250.0) / view_cell_)) + 0x8000) & 0xFFFF;
    };
    for (std::size_t i = 0; i < players_.size(); ++i)
      cells_[i] = (cell(players_[i].position.x) << 16) | cell(players_[i].position.y);
  }
  void fill(volley::snapshot::Frame& world, std::uint16_t type) const {
    constexpr std::size_t kFields = volley::bench::DemoScene::kFieldCount;
    for (std::size_t i = 0; i < players_.size(); ++i) {
      const auto& p = players_[i];
      volley::demo::quantize_body(
          p.position, p.velocity, p.heading, 0.0,
          std::span<std::int32_t, kFields>(world.emplace(0x4000'0000u + static_cast<std::uint32_t>(i), type, kFields).data(), kFields));
    }
  }
  double uniform() {
    state_ ^= state_ << 13, state_ ^= state_ >> 7, state_ ^= state_ << 17;
    return static_cast<double>(state_ >> 11) * 0x1.0p-53;
  }

 private:
  struct Player {
    volley::bench::scene::Vec3 position{}, velocity{};
    double heading = 0, speed = 0;
    int turn_in = 0;
  };
  std::uint64_t state_;
  double view_cell_;
  std::vector<Player> players_;
  std::vector<std::uint32_t> cells_;
};

struct Result {
  double us_per_client_tick = 0;      // wall clock
  double cpu_us_per_client_tick = 0;  // process CPU time (the machine may be shared)
  double encodes_per_tick = 0;
  double skipped_per_tick = 0;  // whole-view encodes skipped as clearly over the budget
  double bytes_per_client_tick = 0;
  std::uint64_t full = 0, delta = 0, trimmed = 0;
};

Result run(const Options& o, bool share) {
  volley::snapshot::Schema schema;
  const auto type = schema.add_type(volley::bench::DemoScene::fields());
  SenderConfig config;
  config.share_encodings = share;
  config.budget_bytes = o.budget;
  SnapshotSender sender(schema, config);
  for (std::size_t i = 0; i < o.clients; ++i) sender.add_client(PeerHandle{static_cast<std::uint32_t>(i), 1});

  volley::bench::DemoScene scene({.seed = o.seed, .entities = o.entities, .hz = 30});
  volley::bench::RecordedFrame recorded;
  Walkers walkers(o.players, o.seed, o.view_cell);
  walkers.step(0);
  for (std::size_t i = 0; i < o.clients && o.view_cell > 0 && i < o.players; ++i) {
    sender.set_filter(PeerHandle{static_cast<std::uint32_t>(i), 1},
                      [&walkers, i](std::uint32_t id, std::uint16_t) { return walkers.sees(i, id); });
  }
  double chat_due = 0;
  std::uint64_t chat_lines = 0;
  const std::size_t fields = volley::bench::DemoScene::kFieldCount;
  std::uint64_t bytes = 0;
  const auto count = [&](PeerHandle, std::span<const std::uint8_t> packet) { bytes += packet.size(); };

  std::chrono::steady_clock::duration spent{};
  std::clock_t cpu = 0;
  std::uint64_t encodes_before = 0, bytes_before = 0, skipped_before = 0;
  SnapshotSender::Send send = count;
  for (std::size_t t = 0; t < o.warmup + o.ticks; ++t) {
    if (t == o.warmup) {
      encodes_before = sender.counters().encodes;
      skipped_before = sender.counters().encodes_skipped;
      bytes_before = bytes;
    }
    scene.step();
    scene.record(recorded);
    walkers.step(1.0 / 30);
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const std::uint32_t n = sender.frame_number();
    for (std::size_t i = 0; i < o.clients && n > o.ack_spread; ++i) {
      std::size_t lag = i % o.ack_spread;
      if (o.ack_random != 0) {  // real clients: jittered round trips, some inputs lost
        if (walkers.uniform() < 0.1) continue;
        lag = static_cast<std::size_t>(walkers.uniform() * static_cast<double>(o.ack_spread));
      }
      sender.acknowledge(PeerHandle{static_cast<std::uint32_t>(i), 1}, n - static_cast<std::uint32_t>(lag));
    }
    volley::snapshot::Frame& world = sender.begin_tick();
    world.reserve(recorded.size(), recorded.values.size());
    for (std::size_t e = 0; e < recorded.size(); ++e) world.add(recorded.ids[e], *type, recorded.entity(e, fields));
    walkers.fill(world, *type);
    for (chat_due += static_cast<double>(o.chat_per_s) / 30; chat_due >= 1; chat_due -= 1) {
      // A chat line as the demo raises it: a small FlatBuffer with the sender and ~30 chars.
      char line[48];
      const int len = std::snprintf(line, sizeof line, "....bot %llu says hello %llu....",
                                  static_cast<unsigned long long>(chat_lines % o.clients),
                                  static_cast<unsigned long long>(chat_lines));
      ++chat_lines;
      sender.raise_event(1, std::span(reinterpret_cast<const std::uint8_t*>(line), static_cast<std::size_t>(len)));
    }
    sender.end_tick(send);
    if (t >= o.warmup) {
      spent += std::chrono::steady_clock::now() - start;
      cpu += std::clock() - cpu_start;
    }
  }
  Result r;
  const double cells = static_cast<double>(o.clients * o.ticks);
  r.us_per_client_tick = std::chrono::duration<double, std::micro>(spent).count() / cells;
  r.cpu_us_per_client_tick = static_cast<double>(cpu) * 1e6 / CLOCKS_PER_SEC / cells;
  r.encodes_per_tick = static_cast<double>(sender.counters().encodes - encodes_before) / static_cast<double>(o.ticks);
  r.skipped_per_tick = static_cast<double>(sender.counters().encodes_skipped - skipped_before) / static_cast<double>(o.ticks);
  r.bytes_per_client_tick = static_cast<double>(bytes - bytes_before) / cells;
  r.full = sender.counters().snapshots_full;
  r.delta = sender.counters().snapshots_delta;
  r.trimmed = sender.counters().budget_trimmed;
  return r;
}

// Every count bounded: a negative one was read as a huge unsigned number (2^64 - 1 clients).
void parse(int argc, char** argv, Options& o) {
  CLI::App app("volley-snapshot-sender-bench: snapshot sender CPU per client per tick", "volley-snapshot-sender-bench");
  app.add_option("--clients", o.clients)->check(CLI::Range(1, 100'000));
  app.add_option("--entities", o.entities)->check(CLI::Range(0, 60'000));
  app.add_option("--ticks", o.ticks)->check(CLI::Range(1, 100'000));
  app.add_option("--warmup", o.warmup)->check(CLI::Range(0, 100'000));
  app.add_option("--ack-spread", o.ack_spread)->check(CLI::Range(1, 32));
  app.add_option("--budget", o.budget)->check(CLI::Range(64, 65'536));
  app.add_option("--seed", o.seed);
  app.add_option("--players", o.players)->check(CLI::Range(0, 100'000));
  app.add_option("--chat-per-s", o.chat_per_s)->check(CLI::Range(0, 10'000));
  app.add_option("--share-only", o.share_only, "1: skip the per-client comparison")->check(CLI::Range(0, 1));
  app.add_option("--ack-random", o.ack_random, "1: a random ack lag per client per tick, 10% lost")
      ->check(CLI::Range(0, 1));
  app.add_option("--view-cell", o.view_cell, "the demo's interest grid cell in metres (0: all visible)")
      ->check(CLI::Range(0.0, 1000.0));
  volley::support::parse_cli_or_exit(app, argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  parse(argc, argv, o);
  std::printf("clients %zu, demo scene %zu entities + %zu moving players, chat %zu lines/s, view cell %.0f m, 30 Hz, %zu ticks measured after %zu, ack spread %zu%s, budget %zu B\n",
              o.clients, o.entities, o.players, o.chat_per_s, o.view_cell, o.ticks, o.warmup, o.ack_spread, o.ack_random != 0 ? " (random, 10% lost)" : "", o.budget);
  std::printf("%-12s %14s %14s %14s %14s %16s %10s %10s %10s\n", "encoding", "wall us/c/tick", "cpu us/c/tick", "encodes/tick", "skipped/tick",
              "bytes/client/tick", "full", "delta", "trimmed");
  for (const bool share : {true, false}) {
    if (!share && o.share_only != 0) break;
    const Result r = run(o, share);
    std::printf("%-12s %14.3f %14.3f %14.1f %14.1f %16.1f %10llu %10llu %10llu\n", share ? "shared" : "per-client",
                r.us_per_client_tick, r.cpu_us_per_client_tick, r.encodes_per_tick, r.skipped_per_tick, r.bytes_per_client_tick,
                static_cast<unsigned long long>(r.full), static_cast<unsigned long long>(r.delta),
                static_cast<unsigned long long>(r.trimmed));
  }
  return 0;
}
