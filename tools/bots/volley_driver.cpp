// --engine volley: bots as client-role protocol Peers on one engine Loop (one thread) over
// --sockets UDP sockets. ENet peer ids are 12 bits per socket, so a socket carries at most
// 4,095 bots: bot i is peer id (i mod per-socket) on socket (i / per-socket). Each datagram is
// routed by its socket and the peer id in its header; a bot's events and datagrams are drained
// once per receive batch (acknowledgements of one batch leave together), its sends once per
// step. One timer per bot follows the Peer's next deadline. Game bots run a snapshot Receiver
// per session, exactly as the client library's GameConnection does.
#include <array>
#include <memory>
#include <vector>

#include "drivers.hpp"
#include "demo_protocol.hpp"
#include "run.hpp"
#include "volley/client/address.hpp"
#include "volley/client/host.hpp"
#include "volley/engine/loop.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/session.hpp"

namespace volley::bots {
namespace {

namespace engine = volley::engine;
namespace protocol = volley::protocol;


class VolleyTransport final : public Transport {
 public:
  VolleyTransport(const Options& o, engine::Address server) : o_(o), server_(server) {
    schema_.add_type(demo::kEntityFields);
    per_socket_ = (o.swarm.bots + o.sockets - 1) / o.sockets;
    protocol::PeerConfig config;
    if (o.timeout_limit) config.timeout_limit = o.timeout_limit;
    if (o.timeout_minimum_ms) config.timeout_minimum_ms = o.timeout_minimum_ms;
    if (o.timeout_maximum_ms) config.timeout_maximum_ms = o.timeout_maximum_ms;
    config.rto_cap_ms = o.rto_cap_ms;
    bots_.reserve(o.swarm.bots);
    for (std::size_t i = 0; i < o.swarm.bots; ++i) {
      bots_.emplace_back(static_cast<std::uint16_t>(i % per_socket_), config);
    }
    channels_ = o.swarm.behavior == Behavior::kGame ? snapshot::kSessionChannels : o.swarm.channels;
  }

  std::string open() {
    const bool v4 = server_.family() == engine::AddressFamily::kIpv4;
    const bool loopback = server_.to_string().rfind(v4 ? "127." : "[::1]", 0) == 0;
    const engine::Address bind = loopback ? (v4 ? engine::Address::loopback_v4(0) : engine::Address::loopback_v6(0))
                                          : (v4 ? engine::Address::any_v4(0) : engine::Address::any_v6(0));
    engine::LoopConfig c;
    c.bind = bind;
    // Thousands of handshakes and echoes land together; let the kernel hold bursts.
    c.recv_buffer_bytes = 4 << 20;
    c.send_buffer_bytes = 4 << 20;
    c.max_datagram_bytes = 4096;
    c.recv_buffers = 2048;
    c.max_queued_sends = 65536;
    c.on_datagrams = [this](std::span<const engine::DatagramView> batch) { on_batch(batch); };
    engine::Loop::Opened opened = engine::Loop::open(std::move(c));
    if (!opened) return opened.error;
    loop_ = std::move(opened.loop);
    sockets_.push_back(engine::kPrimarySocket);
    for (std::size_t k = 1; k < o_.sockets; ++k) {
      std::string error;
      const std::optional<engine::SocketId> id =
          loop_->open_socket(engine::SocketOptions{bind, 4 << 20, 4 << 20}, &error);
      if (!id) return "cannot open socket " + std::to_string(k) + ": " + error;
      sockets_.push_back(*id);
    }
    return {};
  }

  void run(Swarm& swarm, Run& run) {
    swarm_ = &swarm;
    run_ = &run;
    step_timer_ = loop_->schedule(loop_->time(), [this] { step(); });
    loop_->run();
    loop_->close();
  }
  std::string backend() const { return std::string(engine::backend_name(loop_->backend())); }

  bool connect(std::size_t bot) override {
    Bot& b = bots_[bot];
    const std::uint64_t r = ++connect_seed_ * 0x9E3779B97F4A7C15ull;
    const std::array<std::uint8_t, 4> id{static_cast<std::uint8_t>(r >> 56), static_cast<std::uint8_t>(r >> 48),
                                         static_cast<std::uint8_t>(r >> 40), static_cast<std::uint8_t>(r >> 32)};
    if (!b.peer.connect(loop_->time(), static_cast<std::uint32_t>(channels_), static_cast<std::uint32_t>(bot), id)) {
      return false;
    }
    if (o_.swarm.behavior == Behavior::kGame) {
      b.receiver = std::make_unique<snapshot::Receiver>(schema_, snapshot::CodecConfig{}, demo::receiver_config());
    }
    touch(bot);
    return true;
  }
  void disconnect(std::size_t bot) override {
    bots_[bot].peer.disconnect(kGoodbyeData);
    touch(bot);
  }
  SendResult send(std::size_t bot, std::uint8_t channel, Bytes bytes, Delivery delivery) override {
    touch(bot);
    return bots_[bot].peer.send(channel, bytes, protocol::packet_flags(delivery));
  }
  SendResult send_input(std::size_t bot, Bytes game_input) override {
    Bot& b = bots_[bot];
    if (!b.receiver) return SendResult::kNotConnected;
    const std::size_t size = snapshot::encode_input(b.receiver->ack(), game_input, input_);
    if (size == 0) return SendResult::kTooLarge;
    touch(bot);
    return b.peer.send(snapshot::kInputChannel, Bytes(input_.data(), size), protocol::PacketFlags::kUnreliable);
  }
  std::optional<TimePoint> rtt(std::size_t bot) override {
    if (bots_[bot].peer.state() != protocol::PeerState::kConnected) return std::nullopt;
    return static_cast<TimePoint>(bots_[bot].peer.stats().rtt_ms) * 1000;
  }

 private:
  struct Bot {
    Bot(std::uint16_t peer_id, const protocol::PeerConfig& config) : peer(protocol::PeerRole::kClient, peer_id, config) {}
    protocol::Peer peer;
    engine::TimerId timer;
    bool touched = false;
    std::unique_ptr<snapshot::Receiver> receiver;
  };

  void touch(std::size_t bot) {
    if (bots_[bot].touched) return;
    bots_[bot].touched = true;
    touched_.push_back(static_cast<std::uint32_t>(bot));
  }

  void flush_touched() {
    const TimePoint now = loop_->time();
    // flush() may touch bots again (a churned bot rejoins from its disconnect event).
    for (std::size_t k = 0; k < touched_.size(); ++k) {
      bots_[touched_[k]].touched = false;
      flush(touched_[k], now);
    }
    touched_.clear();
  }

  void step() {
    if (!run_->step(loop_->time())) {
      flush_touched();
      loop_->stop();
      return;
    }
    flush_touched();
    step_timer_ = loop_->schedule(loop_->time() + o_.step_us, [this] { step(); });
  }

  void on_batch(std::span<const engine::DatagramView> batch) {
    const TimePoint now = loop_->time();
    for (const engine::DatagramView& d : batch) {
      if (d.bytes.size() < 2) continue;
      std::size_t k = 0;
      while (k < sockets_.size() && sockets_[k] != d.socket) ++k;
      // The header's low 12 bits name the receiving peer: the bot's index on that socket.
      const auto id = static_cast<std::size_t>(((d.bytes[0] << 8) | d.bytes[1]) & protocol::kMaxPeerId);
      const std::size_t bot = k * per_socket_ + id;
      if (k == sockets_.size() || id >= per_socket_ || bot >= bots_.size()) continue;
      bots_[bot].peer.on_datagram(now, d.bytes);
      touch(bot);
    }
    flush_touched();
  }

  void on_timer(std::size_t bot) {
    Bot& b = bots_[bot];
    b.timer = {};
    const TimePoint now = loop_->time();
    b.peer.on_deadline(now);
    flush(bot, now);
  }

  // A bot's events to the swarm, its datagrams to the socket, its timer to the next deadline.
  void flush(std::size_t bot, TimePoint now) {
    Bot& b = bots_[bot];
    while (std::optional<protocol::PeerEvent> ev = b.peer.poll_event()) handle(bot, *ev, now);
    const engine::SocketId socket = sockets_[bot / per_socket_];
    while (std::size_t n = b.peer.poll_datagram(now, protocol::MutableBytes(buffer_))) {
      loop_->send(engine::OutDatagram{Bytes(buffer_.data(), n), server_, socket});
    }
    const std::optional<TimePoint> deadline = b.peer.next_deadline();
    if (!deadline) {
      if (b.timer) loop_->cancel(b.timer);
      b.timer = {};
    } else if (!b.timer || !loop_->reschedule(b.timer, *deadline)) {
      b.timer = loop_->schedule(*deadline, [this, bot] { on_timer(bot); });
    }
  }

  void handle(std::size_t bot, const protocol::PeerEvent& ev, TimePoint now) {
    Bot& b = bots_[bot];
    using Type = protocol::PeerEvent::Type;
    if (ev.type == Type::kConnect) {
      swarm_->on_connected(bot, now);
    } else if (ev.type == Type::kDisconnect) {
      b.receiver.reset();
      swarm_->on_disconnected(bot, now, ev.reason, ev.data);
    } else if (b.receiver && ev.channel == snapshot::kSnapshotChannel) {
      shown_.clear();
      const snapshot::ReceiveResult r = b.receiver->receive(ev.payload, shown_);
      swarm_->on_snapshot(bot, r, ev.payload.size(), b.receiver->latest(), shown_, now);
    } else {
      swarm_->on_received(bot, ev.channel, ev.delivery, ev.payload, now);
    }
  }

  const Options& o_;
  engine::Address server_;
  snapshot::Schema schema_;
  std::size_t per_socket_ = 1, channels_ = 2;
  std::vector<Bot> bots_;
  std::vector<std::uint32_t> touched_;
  std::vector<engine::SocketId> sockets_;  // index k: the loop's id of socket k
  std::unique_ptr<engine::Loop> loop_;
  engine::TimerId step_timer_;
  Swarm* swarm_ = nullptr;
  Run* run_ = nullptr;
  std::uint64_t connect_seed_ = 0;
  std::array<std::uint8_t, 4096> buffer_{};
  std::array<std::uint8_t, snapshot::kInputHeaderBytes + snapshot::kMaxInputBytes> input_{};
  std::vector<snapshot::Event> shown_;
};

}  // namespace

bool run_volley(const Options& o, bool show_progress, Report& report, std::string& error) {
  // Resolved once, before any bot (as run_enet does); IPv6 answers too: the engine speaks both.
  // The options checked the form already, so a failure here is the name's.
  const std::optional<client::Endpoint> endpoint = client::parse_endpoint(o.server);
  std::optional<engine::Address> server;
  if (endpoint) server = engine::Address::resolve(endpoint->host, endpoint->port);
  if (!server) {
    error = "--server '" + o.server + "': " + std::string(client::connect_error_text(client::ConnectError::kUnresolvable));
    return false;
  }
  VolleyTransport transport(o, *server);
  if (std::string e = transport.open(); !e.empty()) {
    error = e;
    return false;
  }
  Swarm swarm(o.swarm, transport);
  Run run(o, swarm, show_progress);
  transport.run(swarm, run);
  report = run.report();
  return true;
}

}  // namespace volley::bots
