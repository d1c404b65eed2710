// --engine enet: bots on volley::client. --sockets client Hosts (one libenet host and socket
// each) on one thread, serviced in turn; game bots run a GameConnection each, so the snapshot
// receiver and the input acknowledgement are exactly what a game client runs.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

#include "drivers.hpp"
#include "demo_protocol.hpp"
#include "run.hpp"
#include "volley/client/game_connection.hpp"
#include "volley/client/host.hpp"
#include "volley/snapshot/session.hpp"

namespace volley::bots {
namespace {

TimePoint steady_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class EnetTransport final : public Transport {
 public:
  EnetTransport(const Options& o) : o_(o), bots_(o.swarm.bots) {
    schema_.add_type(demo::kEntityFields);
    const std::size_t per_host = (o.swarm.bots + o.sockets - 1) / o.sockets;
    client::HostOptions h;
    h.max_connections = per_host;
    h.timeout_limit = o.timeout_limit;
    h.timeout_minimum_ms = o.timeout_minimum_ms;
    h.timeout_maximum_ms = o.timeout_maximum_ms;
    h.channels = o.swarm.behavior == Behavior::kGame ? snapshot::kSessionChannels : o.swarm.channels;
    for (std::size_t k = 0; k < o.sockets; ++k) hosts_.push_back(std::make_unique<client::Host>(h));
    slots_.resize(o.sockets);
    per_host_ = per_host;
  }
  void attach(Swarm& swarm) { swarm_ = &swarm; }

  bool connect(std::size_t bot) override {
    const std::size_t k = bot / per_host_;
    const client::ConnectResult r = hosts_[k]->connect(o_.server, static_cast<std::uint32_t>(bot));
    if (!r) return false;
    Bot& b = bots_[bot];
    b.id = r.connection;
    if (r.connection.index >= slots_[k].size()) slots_[k].resize(r.connection.index + 1, kNone);
    slots_[k][r.connection.index] = static_cast<std::uint32_t>(bot);
    if (o_.swarm.behavior == Behavior::kGame) {
      const client::InterpolationConfig interpolation{.tick_interval = static_cast<TimePoint>(1e6 / o_.swarm.rate_hz)};
      b.game = std::make_unique<client::GameConnection>(*hosts_[k], r.connection, schema_, snapshot::CodecConfig{},
                                                        demo::receiver_config(), interpolation);
    }
    return true;
  }
  void disconnect(std::size_t bot) override { hosts_[bot / per_host_]->disconnect(bots_[bot].id, kGoodbyeData); }
  SendResult send(std::size_t bot, std::uint8_t channel, Bytes bytes, Delivery delivery) override {
    return hosts_[bot / per_host_]->send(bots_[bot].id, channel, bytes, delivery);
  }
  SendResult send_input(std::size_t bot, Bytes game_input) override {
    Bot& b = bots_[bot];
    return b.game ? b.game->send_input(game_input) : SendResult::kNotConnected;
  }
  std::optional<TimePoint> rtt(std::size_t bot) override {
    const auto s = hosts_[bot / per_host_]->stats(bots_[bot].id);
    if (!s) return std::nullopt;
    return static_cast<TimePoint>(s->rtt_ms) * 1000;
  }

  // Services every host once; waits up to 1 ms on the first when nothing happened.
  void service() {
    bool any = false;
    for (std::size_t k = 0; k < hosts_.size(); ++k) {
      while (hosts_[k]->poll(event_, 0)) {
        dispatch(k, event_);
        any = true;
      }
    }
    if (!any && hosts_[0]->poll(event_, 1)) dispatch(0, event_);
  }

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  struct Bot {
    client::ConnectionId id;
    std::unique_ptr<client::GameConnection> game;
  };

  void dispatch(std::size_t k, const client::Event& e) {
    if (e.connection.index >= slots_[k].size() || slots_[k][e.connection.index] == kNone) return;
    const std::size_t bot = slots_[k][e.connection.index];
    Bot& b = bots_[bot];
    if (!(b.id == e.connection)) return;
    switch (e.type) {
      case client::EventType::kConnected:
        swarm_->on_connected(bot, e.time);
        return;
      case client::EventType::kDisconnected: {
        slots_[k][e.connection.index] = kNone;
        b.id = {};
        b.game.reset();  // before the swarm may reconnect this bot
        swarm_->on_disconnected(bot, e.time, e.reason, e.data);
        return;
      }
      case client::EventType::kReceived:
        if (b.game) {
          const snapshot::ReceiverCounters before = b.game->counters();
          if (b.game->handle(e)) {
            b.game->take_events(shown_);
            swarm_->on_snapshot(bot, outcome(before, b.game->counters()), e.bytes.size(), b.game->frame(), shown_, e.time);
            return;
          }
        }
        swarm_->on_received(bot, e.channel, e.delivery, e.bytes, e.time);
        return;
    }
  }

  // The Receiver's verdict on the packet just handled, from its counters.
  static snapshot::ReceiveResult outcome(const snapshot::ReceiverCounters& a, const snapshot::ReceiverCounters& b) {
    if (b.applied != a.applied) return snapshot::ReceiveResult::kApplied;
    if (b.dropped_old != a.dropped_old) return snapshot::ReceiveResult::kOld;
    if (b.dropped_no_baseline != a.dropped_no_baseline) return snapshot::ReceiveResult::kNoBaseline;
    if (b.dropped_checksum != a.dropped_checksum) return snapshot::ReceiveResult::kBadChecksum;
    return snapshot::ReceiveResult::kCorrupt;
  }

  const Options& o_;
  snapshot::Schema schema_;
  std::vector<std::unique_ptr<client::Host>> hosts_;
  std::vector<std::vector<std::uint32_t>> slots_;  // per host: connection slot -> bot
  std::vector<Bot> bots_;
  std::size_t per_host_ = 1;
  Swarm* swarm_ = nullptr;
  client::Event event_;
  std::vector<snapshot::Event> shown_;
};

}  // namespace

bool run_enet(const Options& o, bool show_progress, Report& report, std::string& error) {
  // Resolved once, before any bot: a name that cannot be used fails here, not as every bot's
  // failed connect, and thousands of connects make no lookup each.
  const client::ResolvedAddress server = client::resolve_address(o.server);
  if (!server) {
    error = "--server '" + o.server + "': " + std::string(client::connect_error_text(server.error));
    return false;
  }
  Options resolved = o;
  resolved.server = server.numeric;
  std::unique_ptr<EnetTransport> transport;
  try {
    transport = std::make_unique<EnetTransport>(resolved);
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  Swarm swarm(o.swarm, *transport);
  transport->attach(swarm);
  Run run(o, swarm, show_progress);
  while (run.step(steady_now())) transport->service();
  report = run.report();
  return true;
}

}  // namespace volley::bots
