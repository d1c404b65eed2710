// The demo game behind volley-server --mode demo: the demo scene's world, one entity per
// connected player moved by its inputs (demo_messages.fbs Input), and chat lines (reliable on
// kGameChannel) broadcast as snapshot events, with entity created / destroyed events. Runs on
// the server's loop thread through the callbacks it returns.
#pragma once

#include <cstdint>
#include <cstddef>
#include <map>
#include <vector>

#include "demo_protocol.hpp"
#include "demo_scene.hpp"
#include "event_backlog.hpp"
#include "volley/server/server.hpp"

namespace volley::demo {

struct DemoGameConfig {
  std::uint64_t seed = 1;
  std::size_t entities = 256;
  double tick_hz = 30;
  // Interest management: 0 = every client sees every entity. Otherwise the field is a grid of
  // cells this many metres wide and a player sees the scene plus the players in its own and the
  // eight neighbouring cells; players in the same cell see the same set, so they share encodings.
  double view_cell = 0;
  // Events held while the sender's 256-event window is full (event_backlog.hpp): sized to the
  // client count by volley-server (4 per --max-peers slot: a join, a leave, chat; at most
  // 65,536), so a connect ramp of every slot at once waits instead of losing "created" events.
  std::size_t event_backlog = 4 * 4096;
};

struct DemoGameCounters {
  std::uint64_t players_joined = 0, players_left = 0;
  std::uint64_t inputs = 0, inputs_malformed = 0;
  std::uint64_t chat_received = 0, chat_malformed = 0, chat_rate_limited = 0;
  std::uint64_t player_ticks = 0;  // players present, summed over ticks (client-seconds x hz)
};

class DemoGame {
 public:
  DemoGame(server::Server& server, DemoGameConfig config);
  // The snapshot schema the server must be configured with (one type: kEntityFields).
  static snapshot::Schema schema();
  server::Callbacks callbacks();
  const DemoGameCounters& counters() const noexcept { return counters_; }
  const EventBacklogCounters& event_counters() const noexcept { return events_.counters(); }

 private:
  struct Player {
    std::uint32_t id = 0;
    scene::Vec3 position, velocity;
    double heading = 0;
    double move_x = 0, move_y = 0;  // the last input's wanted direction, -1..1
    bool jump = false;
    double chat_tokens = kChatBurst;  // demo_protocol.hpp's chat rate limit
  };

  void tick(std::uint32_t frame, snapshot::Frame& world);
  void input(server::PeerHandle peer, const snapshot::Input& input);
  void receive(const server::Packet& packet);
  void join(server::PeerHandle peer);
  void leave(server::PeerHandle peer);
  void raise_change(std::uint16_t kind, std::uint32_t id, bool player);
  void raise(std::uint16_t kind, Bytes payload);
  void step_player(Player& p, double dt);
  bool sees(std::uint32_t viewer, std::uint32_t id) const noexcept;
  std::uint32_t cell_of(const Player& p) const noexcept;

  server::Server& server_;
  DemoGameConfig config_;
  DemoScene scene_;
  RecordedFrame recorded_;
  std::vector<std::uint32_t> previous_ids_;  // the scene's ids last tick (created / destroyed)
  std::map<std::uint32_t, Player> players_;       // by entity id: the world's order
  std::map<std::uint64_t, std::uint32_t> peer_ids_;  // peer handle -> its player's entity id
  std::uint32_t next_player_id_;
  // Each player's grid cell this tick (x in the high half, y in the low), by id - kFirstPlayerId:
  // the view filter runs once per (client, entity) per tick, so it must be an array lookup.
  std::vector<std::uint32_t> cells_;
  DemoGameCounters counters_;
  EventBacklog events_;
};

}  // namespace volley::demo
