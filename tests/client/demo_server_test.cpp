// The client library and volley-client against volley-server --mode demo run as a child process
// over 127.0.0.1: game connections connect, apply frames in increasing order, each player sees its
// own entity appear and move, one chat line is shown exactly once on every client, and they
// disconnect (the server counts every disconnect). volley-client itself: a crowd run whose report
// holds no broken invariant, and bad flags exit 2. Every wait is bounded in real time.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "demo_messages_generated.h"
#include "demo_protocol.hpp"
#include "support/server_with_stats.hpp"
#include "volley/client/game_connection.hpp"
#include "volley/client/host.hpp"
#include "volley/snapshot/session.hpp"

namespace vc = volley::client;
namespace demo = volley::demo;
using Clock = std::chrono::steady_clock;

namespace {

// volley-server --mode demo on 127.0.0.1 with a 64-entity world.
class DemoServer : public volley::test::ServerWithStats {
 public:
  explicit DemoServer(std::vector<std::string> extra = {})
      : ServerWithStats(VOLLEY_SERVER_EXE, args(std::move(extra)), "volley-demo-server") {}

 private:
  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--entities", "64",
                                  "--status-interval", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

struct Player {
  vc::ConnectionId id;
  std::unique_ptr<vc::GameConnection> game;
  bool connected = false, disconnected = false;
  std::vector<std::uint32_t> applied;  // frame numbers in the order they became newest
  std::vector<std::string> chat;       // chat texts shown
  std::vector<std::uint32_t> created;  // entity ids whose creation was shown
};

// One client Host with `n` game connections to the demo server, connecting (pump() sees them
// through); the schema outlives the connections that decode with it.
struct Crowd {
  Crowd(const std::string& address, std::size_t n) : host(options_for(n)), players(n) {
    REQUIRE(schema.add_type(demo::kEntityFields));
    for (Player& p : players) {
      const vc::ConnectResult r = host.connect(address);
      REQUIRE(r);
      p.id = r.connection;
      p.game = std::make_unique<vc::GameConnection>(host, r.connection, schema, volley::snapshot::CodecConfig{});
    }
  }
  static vc::HostOptions options_for(std::size_t n) {
    vc::HostOptions options;
    options.max_connections = n;
    options.channels = volley::snapshot::kSessionChannels;
    return options;
  }
  vc::Host host;
  volley::snapshot::Schema schema;
  std::vector<Player> players;
};

volley::Bytes input_bytes(flatbuffers::FlatBufferBuilder& fbb) {
  fbb.Clear();
  fbb.Finish(demo::fb::CreateInput(fbb, 127, 0, false));
  return volley::Bytes(fbb.GetBufferPointer(), fbb.GetSize());
}

// Polls every event into the players; sends inputs every 33 ms; until done() or the limit.
template <class Done>
bool pump(vc::Host& host, std::vector<Player>& players, Done done, std::chrono::milliseconds limit) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto end = Clock::now() + limit;
  auto next_input = Clock::now();
  vc::Event event;
  while (Clock::now() < end) {
    while (host.poll(event, 2)) {
      for (Player& p : players) {
        if (!(p.id == event.connection)) continue;
        if (event.type == vc::EventType::kConnected) p.connected = true;
        if (event.type == vc::EventType::kDisconnected) p.disconnected = true;
        if (event.type == vc::EventType::kReceived && p.game->handle(event) && p.game->frame() != nullptr) {
          if (p.applied.empty() || p.applied.back() != p.game->frame()->number) {
            p.applied.push_back(p.game->frame()->number);
          }
          std::vector<volley::snapshot::Event> events;
          p.game->take_events(events);
          for (const volley::snapshot::Event& e : events) {
            flatbuffers::Verifier v(e.payload.data(), e.payload.size());
            if (e.kind == demo::kEventChat && v.VerifyBuffer<demo::fb::Chat>(nullptr)) {
              p.chat.push_back(flatbuffers::GetRoot<demo::fb::Chat>(e.payload.data())->text()->str());
            }
            flatbuffers::Verifier w(e.payload.data(), e.payload.size());
            if (e.kind == demo::kEventCreated && w.VerifyBuffer<demo::fb::EntityChange>(nullptr)) {
              p.created.push_back(flatbuffers::GetRoot<demo::fb::EntityChange>(e.payload.data())->id());
            }
          }
        }
      }
    }
    if (Clock::now() >= next_input) {
      next_input += std::chrono::milliseconds(33);
      for (Player& p : players) {
        if (p.connected && !p.disconnected) p.game->send_input(input_bytes(fbb));
      }
    }
    if (done()) return true;
  }
  return false;
}

// volley-client with `stdin_file` (default: nothing) as its stdin.
int run_client(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null") {
  // Bounded by coreutils' timeout as well as by the client's own --seconds.
  std::string command = "timeout 60 '" VOLLEY_CLIENT_EXE "'";
  for (const std::string& a : args) command += " '" + a + "'";
  command += " <'" + stdin_file + "' >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The report volley-client wrote at `path`, read and removed.
volley::test::FlatJson take_report(const std::string& path) {
  const auto text = volley::test::read_file_text(path);
  std::remove(path.c_str());
  REQUIRE(text);
  const auto json = volley::test::FlatJson::parse(*text);
  REQUIRE(json);
  return *json;
}

}  // namespace

TEST_CASE("client library against volley-server --mode demo: frames in order, chat once everywhere, disconnect") {
  DemoServer server;
  constexpr std::size_t kPlayers = 3;
  Crowd crowd(server.address(), kPlayers);
  vc::Host& host = crowd.host;
  std::vector<Player>& players = crowd.players;
  auto all = [&](auto pred) {
    for (const Player& p : players) {
      if (!pred(p)) return false;
    }
    return true;
  };
  REQUIRE(pump(host, players, [&] { return all([](const Player& p) { return p.applied.size() >= 10; }); },
               std::chrono::seconds(10)));

  // One chat line from the first player reaches every player exactly once.
  flatbuffers::FlatBufferBuilder fbb(128);
  fbb.Finish(demo::fb::CreateChat(fbb, 0, fbb.CreateString("hello, demo")));
  REQUIRE(host.send(players[0].id, volley::snapshot::kGameChannel,
                    volley::Bytes(fbb.GetBufferPointer(), fbb.GetSize()),
                    volley::Delivery::kReliable) == volley::SendResult::kOk);
  REQUIRE(pump(host, players, [&] { return all([](const Player& p) { return !p.chat.empty(); }); },
               std::chrono::seconds(10)));
  // A second longer for any repeat to show up.
  pump(host, players, [] { return false; }, std::chrono::seconds(1));
  for (const Player& p : players) {
    CHECK(p.chat == std::vector<std::string>{"hello, demo"});
    // Frames became newest in strictly increasing order.
    for (std::size_t i = 1; i < p.applied.size(); ++i) REQUIRE(p.applied[i] > p.applied[i - 1]);
    // The world holds the scene (64 entities) and every player's entity.
    const volley::snapshot::Frame* f = p.game->frame();
    REQUIRE(f != nullptr);
    CHECK(f->size() == 64 + kPlayers);
    CHECK(p.game->counters().dropped_corrupt == 0);
    CHECK(p.game->counters().dropped_checksum == 0);
  }
  // The last player to join saw its own creation event (the others joined before it was raised).
  const auto& created = players.back().created;
  bool saw_player = false;
  for (std::uint32_t id : created) saw_player = saw_player || id >= demo::kFirstPlayerId;
  CHECK(saw_player);
  // Players move by their inputs (move_x = 127: +x at full speed): entity x grows over time.
  const volley::snapshot::Frame* f = players[0].game->frame();
  const std::size_t me = f->find(demo::kFirstPlayerId);
  REQUIRE(me < f->size());
  const std::int32_t x0 = f->values(me)[0];
  pump(host, players, [] { return false; }, std::chrono::milliseconds(500));
  const volley::snapshot::Frame* g = players[0].game->frame();
  CHECK(g->values(g->find(demo::kFirstPlayerId))[0] > x0);

  for (Player& p : players) host.disconnect(p.id);
  REQUIRE(pump(host, players, [&] { return all([](const Player& p) { return p.disconnected; }); },
               std::chrono::seconds(10)));
  const volley::test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("connects") == kPlayers);
  CHECK(stats.number("disconnects") == kPlayers);
  CHECK(stats.number("demo_chat_received") == 1);
  CHECK(stats.number("demo_inputs") > 0);
  CHECK(stats.number("demo_inputs_malformed") == 0);
  CHECK(stats.number("snapshots_delta") > 0);
  CHECK(stats.number("snapshot_bytes_per_client_s") > 0);
}

TEST_CASE("volley-client crowd against volley-server --mode demo: report without broken invariants") {
  DemoServer server;
  const std::string report = volley::test::unique_temp_path("volley-client-report");
  const int code = run_client({"--server", server.address(), "--clients", "4", "--seconds", "3",
                               "--chat-every", "0.5", "--report-json", report});
  const volley::test::FlatJson json = take_report(report);
  INFO(json.dump());
  CHECK(code == 0);
  CHECK(json.number("connected") == 4);
  CHECK(json.number("frames_applied") > 4 * 30);
  CHECK(json.number("frame_regressions") == 0);
  CHECK(json.number("events_duplicated") == 0);
  CHECK(json.number("chat_sent") >= 4 * 3);
  // Every line is shown once on every client.
  CHECK(json.number("chat_shown") == 4 * json.number("chat_sent"));
  CHECK(json.number("bytes_in_per_client_s") > 0);
  const volley::test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 4);
  CHECK(stats.number("disconnects") == 4);
  CHECK(stats.number("demo_chat_received") == json.number("chat_sent"));
}

// Piped chat ends at once, long before the connection is up: its lines wait for it, are sent,
// and with --seconds 0 the run ends after them (they were dropped unsent before).
TEST_CASE("volley-client: chat piped on stdin before the connection is up is sent (--seconds 0)") {
  DemoServer server;
  const std::string input = volley::test::unique_temp_path("volley-client-stdin");
  {
    FILE* f = std::fopen(input.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("first line\nsecond line\n", f);
    std::fclose(f);
  }
  const std::string report = volley::test::unique_temp_path("volley-client-piped");
  const int code = run_client({"--server", server.address(), "--seconds", "0", "--report-json", report}, input);
  std::remove(input.c_str());
  const volley::test::FlatJson json = take_report(report);
  INFO(json.dump());
  CHECK(code == 0);
  CHECK(json.number("connected") == 1);
  CHECK(json.number("chat_sent") == 2);
  const volley::test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("demo_chat_received") == 2);
}

// All connect at once, so the server has VERIFYs out to all three when the first ACK takes its one
// slot: the others are refused after their handshake (already CONNECTED on their side) or at
// their CONNECT. Either way they failed, and the run is exit 1; and a scene of no entities runs.
TEST_CASE("volley-client: clients refused by a full server count failed, exit 1 (--entities 0)") {
  volley::test::ServerWithStats server(VOLLEY_SERVER_EXE,
                                      {"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--entities", "0",
                                       "--status-interval", "0", "--max-peers", "1"},
                                      "volley-demo-full");
  const std::string report = volley::test::unique_temp_path("volley-client-refused");
  const int code = run_client({"--server", server.address(), "--clients", "3", "--seconds", "2", "--report-json", report});
  const volley::test::FlatJson json = take_report(report);
  INFO(json.dump());
  CHECK(code == 1);
  CHECK(json.number("connected") == 1);
  CHECK(json.number("failed") == 2);
  CHECK(json.number("frames_applied") > 0);
  const volley::test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 1);
}

TEST_CASE("volley-client against an echo server: connected, no snapshot, exit 1") {
  volley::test::ServerWithStats server(VOLLEY_SERVER_EXE, {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0"},
                                      "volley-client-echo-mode");
  CHECK(run_client({"--server", server.address(), "--clients", "2", "--seconds", "2.5", "--quiet"}) == 1);
  CHECK(server.stop_and_stats().number("connects") == 2);
}

TEST_CASE("volley-client --version: exit 0 without the required --server") {
  CHECK(run_client({"--version"}) == 0);
  CHECK(run_client({"--version", "--server", "127.0.0.1:1"}) == 0);
}

TEST_CASE("volley-client bad flags exit 2") {
  CHECK(run_client({}) == 2);                                              // --server missing
  CHECK(run_client({"--server", "127.0.0.1:1", "--clients", "0"}) == 2);   // out of range
  CHECK(run_client({"--server", "127.0.0.1:1", "--clients", "3x"}) == 2);  // not a number
  CHECK(run_client({"--server", "127.0.0.1:1", "--seconds", "nan"}) == 2);
  CHECK(run_client({"--server", "127.0.0.1:1", "--bogus"}) == 2);
  CHECK(run_client({"--server", "no-port-here", "--seconds", "1"}) == 2);  // malformed address
  CHECK(run_client({"--server", "127.0.0.1:1", "--keyboard"}) == 2);      // stdin not a terminal
  CHECK(run_client({"--server", "[::1]:7777", "--seconds", "1"}) == 2);    // IPv6: libenet 1.3.x
}

TEST_CASE("volley-server --mode demo: a chat flood from one player is cut at its rate limit") {
  DemoServer server;
  Crowd crowd(server.address(), 1);
  vc::Host& host = crowd.host;
  std::vector<Player>& players = crowd.players;
  REQUIRE(pump(host, players, [&] { return players[0].applied.size() >= 5; }, std::chrono::seconds(10)));
  // 30 lines at once: the bucket lets kChatBurst through (plus what a tick or two refills).
  constexpr int kFlood = 30;
  for (int i = 0; i < kFlood; ++i) {
    flatbuffers::FlatBufferBuilder fbb(64);
    fbb.Finish(demo::fb::CreateChat(fbb, 0, fbb.CreateString("flood " + std::to_string(i))));
    REQUIRE(host.send(players[0].id, volley::snapshot::kGameChannel,
                      volley::Bytes(fbb.GetBufferPointer(), fbb.GetSize()),
                    volley::Delivery::kReliable) == volley::SendResult::kOk);
  }
  pump(host, players, [] { return false; }, std::chrono::seconds(2));
  const std::size_t shown = players[0].chat.size();
  CHECK(shown >= static_cast<std::size_t>(demo::kChatBurst));
  CHECK(shown <= static_cast<std::size_t>(demo::kChatBurst) + 2);
  host.disconnect(players[0].id);
  REQUIRE(pump(host, players, [&] { return players[0].disconnected; }, std::chrono::seconds(10)));
  const volley::test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("demo_chat_received") == shown);
  CHECK(stats.number("demo_chat_rate_limited") == kFlood - shown);
}

TEST_CASE("volley-server --mode demo --view-cell: players in distant cells do not see each other") {
  // With 4 m cells a player sees the players of a 12 m square around it; the first three spawn
  // points of the interest-grid spiral are further apart than that (and all move the same way).
  DemoServer server({"--view-cell", "4"});
  constexpr std::size_t kPlayers = 3;
  Crowd crowd(server.address(), kPlayers);
  vc::Host& host = crowd.host;
  std::vector<Player>& players = crowd.players;
  const auto all_applied = [&] {
    for (const Player& p : players) {
      if (p.applied.size() < 10) return false;
    }
    return true;
  };
  REQUIRE(pump(host, players, all_applied, std::chrono::seconds(10)));
  pump(host, players, [] { return false; }, std::chrono::milliseconds(300));
  for (const Player& p : players) {
    const volley::snapshot::Frame* f = p.game->frame();
    REQUIRE(f != nullptr);
    std::size_t visible_players = 0;
    for (std::size_t i = 0; i < f->size(); ++i) visible_players += f->id(i) >= demo::kFirstPlayerId ? 1 : 0;
    CHECK(f->size() - visible_players == 64);  // the whole scene
    CHECK(visible_players == 1);               // itself only
  }
  for (Player& p : players) host.disconnect(p.id);
  pump(host, players, [&] {
    for (const Player& p : players) {
      if (!p.disconnected) return false;
    }
    return true;
  }, std::chrono::seconds(10));
}
