// The one bot logic of volley-bots, whatever carries it: when each bot connects (the ramp),
// leaves and rejoins (churn), what it sends each tick (echo messages or game inputs and chat),
// what it checks in what comes back (echo_checker, game_checker), and the run's totals, RTT
// histogram and once-a-second samples. Single-threaded; the engine driver (enet_driver.cpp,
// volley_driver.cpp) implements Transport and feeds events back in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "echo_checker.hpp"
#include "game_checker.hpp"
#include "latency_histogram.hpp"
#include "report.hpp"
#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/vocabulary/bytes.hpp"
#include "volley/vocabulary/delivery.hpp"

namespace volley::bots {

enum class Behavior : std::uint8_t { kEcho, kGame };
enum class EchoMix : std::uint8_t { kReliable, kUnreliable, kMixed };

// The data word of a bot's DISCONNECT. libenet 1.3.17 reports a timeout as a DISCONNECT with
// data 0, so a stock server tells a graceful leave from a timeout only by a non-zero word
// (tools/bench/enet_echo_server.cpp counts data != 0 as a disconnect).
inline constexpr std::uint32_t kGoodbyeData = 0x42594521;  // "BYE!"

struct SwarmConfig {
  std::size_t bots = 1;
  Behavior behavior = Behavior::kEcho;
  double rate_hz = 10;      // echo messages / game inputs per bot per second
  // A stepped load ramp (tools/bench; support::stepped_rate): the rate doubles at double_after_s
  // (0: one double_every_s in) and then every double_every_s; both 0 = a constant rate.
  double double_after_s = 0, double_every_s = 0;
  double ramp_per_s = 0;    // connects per second; 0 = all at once
  double churn_per_s = 0;   // bots leaving (and rejoining) per second
  std::size_t channels = 2;  // echo: channels used (the game uses the session's)
  std::size_t size = 64;    // echo payload bytes
  EchoMix mix = EchoMix::kMixed;
  // Game: one chat line per bot this often. A player in a busy game types a line every minute
  // or so; 1,000 players on one global channel then make ~17 lines/s, already more than anyone
  // reads (every line is an event each client holds until it acknowledges it).
  double chat_every_s = 60;
  std::uint32_t nonce = 0;   // marks this run's chat lines
  std::uint64_t seed = 1;    // churn picks
};

// What a bot does to its connection; one implementation per engine. Bots are 0..bots-1.
class Transport {
 public:
  virtual ~Transport() = default;
  // Starts connecting; false when it cannot even start (counted failed).
  virtual bool connect(std::size_t bot) = 0;
  virtual void disconnect(std::size_t bot) = 0;  // graceful; ends in on_disconnected
  virtual SendResult send(std::size_t bot, std::uint8_t channel, Bytes bytes, Delivery delivery) = 0;
  // Game: the session's input message (the game bytes plus the snapshot acknowledgement).
  virtual SendResult send_input(std::size_t bot, Bytes game_input) = 0;
  // The transport's smoothed RTT of a connected bot, microseconds.
  virtual std::optional<TimePoint> rtt(std::size_t bot) = 0;
};

class Swarm {
 public:
  Swarm(SwarmConfig config, Transport& transport);
  ~Swarm();

  void start(TimePoint now);
  // Connects due by the ramp, churn, sends due by the rate, churn drains. Call often (~1 ms).
  void tick(TimePoint now);
  // The end: no more connects, churn or chat; echo traffic stops, game inputs go on.
  void stop(TimePoint now);
  // After stop(): every reliable echo is back (or `limit` passed since stop); the game waits
  // out a fixed settle time so the last chat lines can be shown.
  bool settled(TimePoint now, TimePoint limit) const;
  void leave_all(TimePoint now);
  bool all_gone() const noexcept { return live_ == 0; }
  // Ends every session still open (their outstanding reliable echoes count lost).
  void finish(TimePoint now);

  // --- transport events --------------------------------------------------------------------
  void on_connected(std::size_t bot, TimePoint now);
  // `reason` and `data` as the transport reported them: a refusal after the handshake
  // (refused_after_handshake) counts as a failed connect, not a connection lost.
  void on_disconnected(std::size_t bot, TimePoint now, DisconnectReason reason, std::uint32_t data);
  void on_received(std::size_t bot, std::uint8_t channel, Delivery delivery, Bytes bytes, TimePoint now);
  // A snapshot packet the session consumed, with the outcome, the newest applied frame and the
  // events it showed for the first time.
  void on_snapshot(std::size_t bot, snapshot::ReceiveResult result, std::size_t bytes,
                   const snapshot::Frame* latest, std::span<const snapshot::Event> shown, TimePoint now);

  // One point of the time series (pps and RTT over the time since the previous sample).
  Sample sample(TimePoint now);
  Totals totals() const;
  const LatencyHistogram& rtt() const noexcept { return rtt_; }
  std::size_t connected() const noexcept { return connected_; }

 private:
  struct Bot;
  void start_session(std::size_t i, TimePoint now);
  void end_session(Bot& b, TimePoint now);
  struct ChatTally {
    std::uint64_t sent = 0, shown = 0;
  };
  // Chat lines sent from this session's join grace until `until`, and how many of them it showed.
  ChatTally chat_tally(const Bot& b, TimePoint until) const;
  void send_tick(std::size_t i, std::uint64_t tick, TimePoint now);
  void send_echo(std::size_t i, std::uint8_t channel, Delivery delivery, TimePoint now);
  void churn(TimePoint now);
  double rate_at(TimePoint now) const;
  void show_chat(Bot& b, const snapshot::Event& e);
  void record_rtt(TimePoint us);

  SwarmConfig config_;
  Transport& transport_;
  std::vector<Bot> bots_;
  std::vector<std::uint8_t> scratch_;
  flatbuffers::FlatBufferBuilder input_fbb_{64};  // reused for every input: no allocation per tick
  TimePoint start_ = 0, stop_ = 0, last_sample_ = 0, last_integrate_ = 0;
  bool stopped_ = false;
  std::uint64_t connects_started_ = 0, sends_done_ = 0, churn_done_ = 0;
  double sends_due_ = 0;  // sends owed since the start, the rate integrated over time
  TimePoint last_due_ = 0;
  std::uint64_t rng_;
  std::vector<std::uint32_t> leaving_;  // churned bots waiting to disconnect
  std::size_t connected_ = 0, live_ = 0;
  double bot_seconds_ = 0;
  std::vector<std::uint32_t> chat_sent_ms_;  // every chat line sent, ms since start (rising)
  Totals totals_;
  LatencyHistogram rtt_, rtt_second_;
  std::uint64_t packets_in_mark_ = 0, packets_out_mark_ = 0;
};

}  // namespace volley::bots
