// The game connections of one volley-client process, all on one client Host: each is a demo
// game player (scripted movement as inputs every tick, scripted or typed chat), and each checks
// what it is shown: frames never go backwards, no event id is shown twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "volley/client/game_connection.hpp"
#include "volley/client/host.hpp"
#include "keyboard.hpp"

namespace volley::client::app {

struct CrowdTotals {
  std::size_t clients = 0, connected_ever = 0, connected_now = 0, failed = 0;
  std::uint64_t frames_received = 0, frames_applied = 0;
  std::uint64_t dropped_old = 0, dropped_corrupt = 0, dropped_no_baseline = 0;
  std::uint64_t frame_regressions = 0;
  std::uint64_t events_shown = 0, events_duplicated = 0;
  std::uint64_t chat_sent = 0, chat_shown = 0;
  std::uint64_t created_shown = 0, destroyed_shown = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;  // application payload, over all connections
  double client_seconds = 0;                  // connected time summed over connections
};

class Crowd {
 public:
  Crowd(Host& host, const snapshot::Schema& schema, double tick_hz, std::size_t clients);
  // Starts every connection; false (with a one-line error) when the address is refused.
  bool connect(const std::string& address, std::string& error);
  void handle(const Event& event);
  // Inputs for every connected player (once per tick): their scripted movement at `t` seconds
  // (standing still when `idle`), or for a steered player the input given to steer().
  void send_inputs(double t, bool idle = false);
  // Player `client` is driven by `input` (the keyboard) from now on instead of its script.
  void steer(std::size_t client, MoveInput input);
  bool send_chat(std::size_t client, const std::string& text);
  // Whether connection `client` is up now, and whether it has ended (refused, timed out, or
  // disconnected): one still connecting is neither.
  bool connected(std::size_t client) const { return client < players_.size() && players_[client].connected; }
  bool ended(std::size_t client) const { return client >= players_.size() || players_[client].ended; }
  // Disconnects every connection (the closing totals keep their bytes and connected time).
  void disconnect_all(TimePoint now);

  CrowdTotals totals(TimePoint now);
  // RTT of every connected connection now, milliseconds, and its byte totals (the caller
  // samples once a second; a connection's stats are gone after it ends).
  void sample_rtt(std::vector<std::uint32_t>& out);
  // The first connected player's newest frame: number and entity count (0, 0 before any).
  std::pair<std::uint32_t, std::size_t> view() const;
  // Chat lines shown to the first client since the last call ("<from>: text").
  std::vector<std::string> take_chat_lines();
  std::size_t connection_count() const { return host_.connection_count(); }

 private:
  struct Player {
    ConnectionId id;
    std::unique_ptr<GameConnection> game;
    bool connected = false;
    bool ended = false;
    bool ever_connected = false;
    bool heard = false;  // a packet arrived (a refusal after the handshake comes before any)
    TimePoint connected_at = 0;
    TimePoint connected_for = 0;  // once it ended
    std::uint32_t newest = 0;
    std::unordered_set<std::uint64_t> shown;  // event ids shown (each must come once)
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::uint64_t jump_ticks = 0;
    bool steered = false;
    MoveInput steering;
  };

  Player* find(ConnectionId id);
  void close(Player& p, TimePoint now);
  void show_events(std::size_t index, Player& p);

  Host& host_;
  const snapshot::Schema& schema_;
  double tick_hz_;
  std::vector<Player> players_;
  std::uint64_t frame_regressions_ = 0, events_shown_ = 0, events_duplicated_ = 0;
  std::uint64_t chat_sent_ = 0, chat_shown_ = 0, created_shown_ = 0, destroyed_shown_ = 0;
  std::size_t connected_ever_ = 0, failed_ = 0;
  std::vector<std::string> chat_lines_;
  std::vector<snapshot::Event> events_;  // reused: take_events() swaps buffers with it
};

}  // namespace volley::client::app
