// volley-bots' Swarm driven by a fake transport in virtual time: the game's end (settled())
// waits until every bot in a session has shown every chat line sent before the stop, or until
// the limit; the chat lines a bot never showed are counted missed when the sessions end.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "demo_messages_generated.h"
#include "demo_protocol.hpp"
#include "support/seed.hpp"
#include "volley/snapshot/session.hpp"
#include "swarm.hpp"

namespace volley::bots {
namespace {

// Records what the bots send; every call succeeds.
class FakeTransport final : public Transport {
 public:
  struct Chat {
    std::size_t bot;
    std::string text;
  };
  bool connect(std::size_t bot) override {
    connects.push_back(bot);
    return true;
  }
  void disconnect(std::size_t bot) override { disconnects.push_back(bot); }
  SendResult send(std::size_t bot, std::uint8_t channel, Bytes bytes, Delivery) override {
    if (channel == snapshot::kGameChannel) {
      flatbuffers::Verifier v(bytes.data(), bytes.size());
      REQUIRE(v.VerifyBuffer<demo::fb::Chat>(nullptr));
      chats.push_back({bot, flatbuffers::GetRoot<demo::fb::Chat>(bytes.data())->text()->str()});
    }
    return SendResult::kOk;
  }
  SendResult send_input(std::size_t, Bytes) override {
    ++inputs;
    return SendResult::kOk;
  }
  std::optional<TimePoint> rtt(std::size_t) override { return 1000; }

  std::vector<std::size_t> connects, disconnects;
  std::vector<Chat> chats;
  std::size_t inputs = 0;
};

// The demo server's broadcast of one chat line: a kEventChat event with the line's text.
snapshot::Event chat_event(std::uint64_t id, const std::string& text) {
  flatbuffers::FlatBufferBuilder fbb(128);
  fbb.Finish(demo::fb::CreateChat(fbb, 7, fbb.CreateString(text)));
  snapshot::Event e;
  e.id = id;
  e.kind = demo::kEventChat;
  e.payload.assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  return e;
}

constexpr TimePoint kSecond = 1'000'000;
constexpr TimePoint kLimit = 10 * kSecond;

struct GameRun {
  explicit GameRun(std::size_t bots) : swarm(config(bots), transport) {}
  static SwarmConfig config(std::size_t bots) {
    SwarmConfig c;
    c.bots = bots;
    c.behavior = Behavior::kGame;
    c.rate_hz = 30;
    c.chat_every_s = 1;
    c.nonce = 0xC0FFEE;
    return c;
  }
  // Starts, connects every bot at t = 0, runs (ticks every 10 ms) until `stop`, then stops.
  void run_until(TimePoint stop) {
    swarm.start(0);
    REQUIRE(transport.connects.size() == swarm.totals().bots);
    for (std::size_t b : transport.connects) swarm.on_connected(b, 0);
    for (TimePoint t = 10'000; t <= stop; t += 10'000) swarm.tick(t);
    swarm.stop(stop);
  }
  // Bot `bot` shows chat line `line` (of transport.chats) in one applied snapshot.
  void show(std::size_t bot, std::size_t line, TimePoint now) {
    frame.number = ++frame_number;
    const snapshot::Event e = chat_event(++event_id[bot], transport.chats[line].text);
    swarm.on_snapshot(bot, snapshot::ReceiveResult::kApplied, 100, &frame, std::span(&e, 1), now);
  }
  FakeTransport transport;
  Swarm swarm;
  snapshot::Frame frame;
  std::uint32_t frame_number = 0;
  std::uint64_t event_id[4] = {};
};

TEST_CASE("swarm (game): settled waits for every bot to show every chat line, then none is missed") {
  GameRun run(3);
  const TimePoint stop = 5 * kSecond;
  run.run_until(stop);
  // Lines from 1 s (the join grace) to the stop must be shown: 3 bots, one line a second each.
  const std::size_t lines = run.transport.chats.size();
  REQUIRE(lines >= 9);
  CHECK(run.transport.inputs > 3 * 4 * 30 * 9 / 10);

  TimePoint now = stop + 100'000;
  CHECK_FALSE(run.swarm.settled(now, kLimit));  // nothing shown yet
  // Every bot shows every line but the last one sent; bot 2 lacks it too.
  for (std::size_t bot = 0; bot < 3; ++bot) {
    for (std::size_t l = 0; l + 1 < lines; ++l) run.show(bot, l, now);
  }
  CHECK_FALSE(run.swarm.settled(now, kLimit));
  run.show(0, lines - 1, now);
  run.show(1, lines - 1, now);
  CHECK_FALSE(run.swarm.settled(now, kLimit));  // bot 2 still has not shown one line
  // A line shown twice does not stand in for the missing one.
  run.show(1, lines - 1, now);
  CHECK_FALSE(run.swarm.settled(now, kLimit));
  run.show(2, lines - 1, now);
  CHECK(run.swarm.settled(now, kLimit));

  run.swarm.leave_all(now);
  run.swarm.finish(now);
  const Totals t = run.swarm.totals();
  CHECK(t.chat_sent == lines);
  CHECK(t.chat_missed == 0);
  CHECK(t.game.events_duplicated == 0);  // each show() is a new event id per bot
  CHECK(t.violations() == 0);
}

TEST_CASE("swarm (game): a line never shown keeps it unsettled until the limit, then counts missed") {
  VOLLEY_SEEDED_RNG(rng, 11);
  GameRun run(2);
  const TimePoint stop = 4 * kSecond;
  run.run_until(stop);
  const std::size_t lines = run.transport.chats.size();
  REQUIRE(lines >= 6);
  // Bot 1 misses one line (picked by the seed) among those it must show: sent after its join
  // grace of 1 s (the first line of each bot goes right after connecting, before that).
  std::vector<std::size_t> judged;
  for (std::size_t l = 0; l < lines; ++l) {
    unsigned nonce = 0, ms = 0;
    std::size_t bot = 0;
    REQUIRE(std::sscanf(run.transport.chats[l].text.c_str(), "vb %x %zu %u", &nonce, &bot, &ms) == 3);
    if (ms >= 1000) judged.push_back(l);
  }
  REQUIRE(judged.size() >= 4);
  const std::size_t missing = judged[rng() % judged.size()];
  const TimePoint now = stop + kSecond;
  for (std::size_t l = 0; l < lines; ++l) {
    run.show(0, l, now);
    if (l != missing) run.show(1, l, now);
  }
  CHECK_FALSE(run.swarm.settled(now, kLimit));
  CHECK_FALSE(run.swarm.settled(stop + kLimit - 1, kLimit));
  CHECK(run.swarm.settled(stop + kLimit, kLimit));  // the limit ends the wait

  run.swarm.leave_all(stop + kLimit);
  run.swarm.finish(stop + kLimit);
  const Totals t = run.swarm.totals();
  CHECK(t.chat_missed == 1);
  CHECK(t.violations() == 1);
}

TEST_CASE("swarm (game): a churned bot is judged up to its leave, not until its slow disconnect completes") {
  // A lost ACK of a churned bot's DISCONNECT leaves it leaving for seconds (it ends by timeout):
  // lines sent meanwhile never reach it, and must not count as missed.
  GameRun run(4);
  SwarmConfig c = GameRun::config(4);
  c.churn_per_s = 0.5;
  FakeTransport& t = run.transport;
  Swarm swarm(c, t);
  swarm.start(0);
  for (std::size_t b : t.connects) swarm.on_connected(b, 0);
  std::vector<bool> gone(4, false);
  std::size_t shown_up_to = 0;
  const TimePoint stop = 8 * kSecond;
  for (TimePoint now = 10'000; now <= stop; now += 10'000) {
    swarm.tick(now);
    for (std::size_t b : t.disconnects) gone[b] = true;  // left: hears nothing more
    for (; shown_up_to < t.chats.size(); ++shown_up_to) {
      for (std::size_t b = 0; b < 4; ++b) {
        if (gone[b]) continue;
        run.frame.number = ++run.frame_number;
        const snapshot::Event e = chat_event(++run.event_id[b], t.chats[shown_up_to].text);
        swarm.on_snapshot(b, snapshot::ReceiveResult::kApplied, 100, &run.frame, std::span(&e, 1), now);
      }
    }
  }
  swarm.stop(stop);
  REQUIRE_FALSE(t.disconnects.empty());  // some bots churned, and are still leaving
  CHECK(swarm.settled(stop, kLimit));    // the leaving ones are not waited for
  for (std::size_t b : t.disconnects) swarm.on_disconnected(b, stop + 5 * kSecond, DisconnectReason::kTimeout, 0);
  swarm.leave_all(stop + 5 * kSecond);
  swarm.finish(stop + 5 * kSecond);
  const Totals totals = swarm.totals();
  CHECK(totals.churn_leaves > 0);
  CHECK(totals.chat_sent > 10);
  CHECK(totals.chat_missed == 0);
}

// Echo bots over a link with a fixed round trip: what each bot sends comes back `rtt` later.
class EchoLink final : public Transport {
 public:
  struct Sent {
    std::size_t bot;
    std::uint8_t channel;
    Delivery delivery;
    std::vector<std::uint8_t> bytes;
    TimePoint at;
  };
  bool connect(std::size_t bot) override {
    connects.push_back(bot);
    return true;
  }
  void disconnect(std::size_t) override {}
  SendResult send(std::size_t bot, std::uint8_t channel, Bytes bytes, Delivery delivery) override {
    in_flight.push_back({bot, channel, delivery, {bytes.begin(), bytes.end()}, now});
    return SendResult::kOk;
  }
  SendResult send_input(std::size_t, Bytes) override { return SendResult::kOk; }
  std::optional<TimePoint> rtt(std::size_t) override { return std::nullopt; }
  // Hands back to `swarm` everything sent at least `rtt` before `at`.
  void deliver(Swarm& swarm, TimePoint at, TimePoint rtt) {
    std::vector<Sent> later;
    for (Sent& m : in_flight) {
      if (m.at + rtt <= at) {
        swarm.on_received(m.bot, m.channel, m.delivery, m.bytes, at);
      } else {
        later.push_back(std::move(m));
      }
    }
    in_flight = std::move(later);
  }
  TimePoint now = 0;
  std::vector<std::size_t> connects;
  std::vector<Sent> in_flight;
};

TEST_CASE("swarm (echo): unreliable echoes still on their way at the stop are waited for, not counted lost") {
  constexpr TimePoint kRtt = 100'000;  // 50 ms each way: at 10 Hz a bot has one echo in flight
  SwarmConfig c;
  c.bots = 4;
  c.rate_hz = 10;
  c.channels = 1;
  c.mix = EchoMix::kUnreliable;
  EchoLink link;
  Swarm swarm(c, link);
  swarm.start(0);
  for (std::size_t b : link.connects) swarm.on_connected(b, 0);
  const TimePoint stop = 3 * kSecond + 50'000;  // mid-period: every bot's latest echo is out
  for (TimePoint t = 1'000; t <= stop; t += 1'000) {
    link.now = t;
    swarm.tick(t);
    link.deliver(swarm, t, kRtt);
  }
  swarm.stop(stop);
  REQUIRE_FALSE(link.in_flight.empty());
  TimePoint t = stop;
  while (!swarm.settled(t, kLimit)) {
    t += 1'000;
    link.deliver(swarm, t, kRtt);
    REQUIRE(t < stop + kLimit);
  }
  CHECK(link.in_flight.empty());
  CHECK(t - stop >= kRtt / 2);    // waited for them
  CHECK(t - stop <= 3 * kRtt);    // about two round trips (2 x p99 + 20 ms), not the whole limit
  swarm.leave_all(t);
  swarm.finish(t);
  const Totals totals = swarm.totals();
  CHECK(totals.echo.unreliable_sent > 100);
  CHECK(totals.echo.unreliable_received == totals.echo.unreliable_sent);
}

}  // namespace
}  // namespace volley::bots
