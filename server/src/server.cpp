// Server: binds the sans-IO Host to engine::Loop. The Loop's receive batches go to
// Host::on_datagrams, the Host's per-peer deadlines become Loop timers, its output goes to
// Loop::send, and posted tasks are followed by a Host flush. The only file that sees both the
// engine and the protocol.
#include <algorithm>
#include <cstring>
#include <utility>

#include "host.hpp"
#include "volley/engine/loop.hpp"
#include "volley/server/server.hpp"

namespace volley::server {

namespace {


struct Settings {
  engine::LoopConfig loop;
  HostConfig host;
};

// Config → engine and protocol settings; a non-empty result is a one-line error.
std::string make_settings(const Config& c, Settings& out) {
  constexpr std::size_t kMaxPeers = 1u << 20;
  if (c.max_peers < 1 || c.max_peers > kMaxPeers) return "max_peers must be 1..1048576";
  if (c.channel_limit < protocol::kMinChannelCount || c.channel_limit > protocol::kMaxChannelCount) {
    return "channel_limit must be 1..255";
  }
  if (c.mtu < protocol::kMinMtu || c.mtu > protocol::kMaxMtu) return "mtu must be 576..4096";
  if (c.ping_interval_ms == 0) return "ping_interval_ms must be positive";
  if (c.timeout_minimum_ms > c.timeout_maximum_ms) return "timeout_minimum_ms exceeds timeout_maximum_ms";
  if (c.recv_buffer_bytes < 0 || c.send_buffer_bytes < 0) return "socket buffer sizes must be >= 0";
  const auto bind = engine::Address::from_ip(c.bind, c.port);
  if (!bind) return "bad bind address '" + c.bind + "' (want a numeric IPv4 or IPv6 address)";
  const auto backend = engine::parse_backend(c.backend);
  if (!backend) return "unknown backend '" + c.backend + "' (want auto, io_uring, epoll or iocp)";

  protocol::PeerConfig& p = out.host.peer;
  p = protocol::PeerConfig::server_defaults();
  p.checksum = c.checksum;
  p.compress = c.compress;
  p.mtu = c.mtu;
  p.channel_limit = c.channel_limit;
  p.incoming_bandwidth = c.incoming_bandwidth;
  p.outgoing_bandwidth = c.outgoing_bandwidth;
  p.ping_interval_ms = c.ping_interval_ms;
  p.timeout_limit = c.timeout_limit;
  p.timeout_minimum_ms = c.timeout_minimum_ms;
  p.timeout_maximum_ms = c.timeout_maximum_ms;
  out.host.max_peers = c.max_peers;
  out.host.per_ip_cap = c.per_ip_cap;
  out.host.fast_refusal = c.fast_refusal;

  engine::LoopConfig& l = out.loop;
  l.bind = *bind;
  l.backend = *backend;
  l.recv_buffer_bytes = c.recv_buffer_bytes;
  l.send_buffer_bytes = c.send_buffer_bytes;
  // A 1.3.17 sender in CRC mode exceeds its MTU (at most 4096) by 4 bytes; leave some headroom.
  l.max_datagram_bytes = protocol::kMaxMtu + 64;
  // One broadcast can queue a datagram per peer in a single iteration.
  l.max_queued_sends = std::clamp<std::size_t>(2 * c.max_peers, 8192, 65536);
  return {};
}

PeerStats make_peer_stats(const protocol::Peer& peer, const engine::Address& address) {
  const protocol::PeerStats s = peer.stats();
  const protocol::Counters& k = peer.counters();
  PeerStats out;
  out.address = address.to_string();
  out.rtt_ms = s.rtt_ms;
  out.rtt_variance_ms = s.rtt_variance_ms;
  out.packet_loss = static_cast<double>(s.packet_loss) / 65536.0;
  out.packet_throttle = s.packet_throttle;
  out.mtu = s.mtu;
  out.channels = s.channel_count;
  out.packets_in = k[protocol::Counter::kPacketsIn];
  out.packets_out = k[protocol::Counter::kPacketsOut];
  out.bytes_in = k[protocol::Counter::kPayloadBytesIn];
  out.bytes_out = k[protocol::Counter::kPayloadBytesOut];
  out.datagrams_in = k[protocol::Counter::kDatagramsIn];
  out.datagrams_out = k[protocol::Counter::kDatagramsOut];
  return out;
}

ServerStats make_server_stats(const HostStats& h, const DeadlineOps& d, const engine::Stats& l) {
  using protocol::Counter;
  ServerStats s;
  s.connects = h.connects;
  s.disconnects = h.disconnects;
  s.timeouts = h.timeouts;
  s.packets_in = h.peers[Counter::kPacketsIn];
  s.packets_out = h.peers[Counter::kPacketsOut];
  s.bytes_in = h.peers[Counter::kPayloadBytesIn];
  s.bytes_out = h.peers[Counter::kPayloadBytesOut];
  s.datagrams_in = l[engine::Counter::kDatagramsIn];
  s.datagrams_out = l[engine::Counter::kDatagramsOut];
  s.bad_datagrams = h.bad_datagrams() + l[engine::Counter::kTruncated];
  s.peers_now = h.connected;
  s.peers_peak = h.connected_peak;
  auto& x = s.details;
  for (std::size_t i = 0; i < kHostDropCount; ++i) {
    x.emplace_back(std::string(host_drop_name(static_cast<HostDrop>(i))), h.drops[i]);
  }
  for (std::size_t i = 0; i < protocol::kCounterCount; ++i) {
    const auto c = static_cast<Counter>(i);
    const std::string_view name = protocol::counter_name(c);
    if (name.starts_with("drop_") || c == Counter::kRetransmits || c == Counter::kThrottleDropped) {
      x.emplace_back(std::string(name), h.peers[c]);
    }
  }
  x.emplace_back("local_disconnects", h.local_disconnects);
  x.emplace_back("refusals_sent", h.refusals_sent);
  x.emplace_back("recv_batches", h.batches);
  x.emplace_back("peers_serviced", h.peers_serviced);
  x.emplace_back("timer_fires", h.timer_fires);
  x.emplace_back("timers_armed", d.armed);
  x.emplace_back("timers_moved", d.moved);
  x.emplace_back("timers_disarmed", d.disarmed);
  for (std::size_t i = 0; i < static_cast<std::size_t>(engine::Counter::kCount); ++i) {
    const auto c = static_cast<engine::Counter>(i);
    x.emplace_back("loop_" + std::string(engine::counter_name(c)), l[c]);
  }
  return s;
}

}  // namespace

class Server::Impl final : public HostEvents, public TimerPort {
 public:
  explicit Impl(const Config& config) : config_(config) {}

  std::string open() {
    Settings settings;
    if (std::string error = make_settings(config_, settings); !error.empty()) return error;
    settings.loop.on_datagrams = [this](std::span<const engine::DatagramView> batch) {
      const Guard guard(*this);
      host_->on_datagrams(engine::now(), batch);
    };
    auto opened = engine::Loop::open(std::move(settings.loop));
    if (!opened) return "cannot open the UDP socket: " + opened.error;
    loop_ = std::move(opened.loop);
    host_ = std::make_unique<Host>(
        settings.host, *this,
        [this](std::span<const engine::OutDatagram> out) { loop_->send(out); }, this);
    return {};
  }

  // --- TimerPort --------------------------------------------------------------------------
  TimerId arm(std::uint32_t slot, TimePoint at) override {
    return loop_->schedule(at, [this, slot] {
      const Guard guard(*this);
      host_->on_timer(loop_->time(), slot);
    });
  }
  void move(TimerId timer, TimePoint at) override { loop_->reschedule(timer, at); }
  void disarm(TimerId timer) override { loop_->cancel(timer); }

  // --- HostEvents -------------------------------------------------------------------------
  void on_connect(PeerHandle peer, std::uint32_t data) override {
    if (callbacks_.on_connect) callbacks_.on_connect(peer, data);
  }
  void on_receive(PeerHandle peer, const protocol::PeerEvent& event) override {
    if (callbacks_.on_receive) {
      callbacks_.on_receive(Packet{peer, event.channel, event.delivery, event.payload});
    }
  }
  void on_disconnect(PeerHandle peer, DisconnectReason reason, std::uint32_t data) override {
    if (callbacks_.on_disconnect) callbacks_.on_disconnect(peer, reason, data);
  }

  // --- operations -------------------------------------------------------------------------
  // Marks "inside a Host call": API calls made meanwhile are flushed by that call; API calls
  // made outside (before run(), say) flush themselves.
  struct Guard {
    explicit Guard(Impl& owner) : impl(owner) { impl.depth_ += 1; }
    ~Guard() {
      if (--impl.depth_ == 0) impl.after_host_call();
    }
    Impl& impl;
  };

  void after_host_call() {
    host_->flush(engine::now());
    if (shutting_down_ && host_->live_peers() == 0) loop_->stop();
  }

  void maybe_flush() {
    if (depth_ == 0) after_host_call();
  }

  void run() {
    if (finished_) return;
    loop_->run();
    finished_ = true;
  }

  void stop() {
    loop_->post([this] {
      const Guard guard(*this);
      begin_shutdown();
    });
  }

  void post(std::function<void()> task) {
    loop_->post([this, task = std::move(task)] {
      const Guard guard(*this);
      task();
    });
  }

  void begin_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    host_->set_accepting(false);
    host_->disconnect_all(0);
    const TimePoint grace = static_cast<TimePoint>(config_.shutdown_grace_ms) * 1000;
    loop_->schedule(engine::now() + grace, [this] { loop_->stop(); });
  }

  Config config_;
  Callbacks callbacks_;
  std::unique_ptr<engine::Loop> loop_;
  std::unique_ptr<Host> host_;
  int depth_ = 0;
  bool shutting_down_ = false;
  bool finished_ = false;
};

Server::Created Server::create(const Config& config) {
  auto impl = std::make_unique<Impl>(config);
  if (std::string error = impl->open(); !error.empty()) return {nullptr, std::move(error)};
  return {std::unique_ptr<Server>(new Server(std::move(impl))), {}};
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

void Server::set_callbacks(Callbacks callbacks) { impl_->callbacks_ = std::move(callbacks); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }
void Server::post(std::function<void()> task) { impl_->post(std::move(task)); }

SendResult Server::send(PeerHandle peer, std::uint8_t channel, Bytes bytes, Delivery delivery) {
  const SendResult result = impl_->host_->send(peer, channel, bytes, protocol::packet_flags(delivery));
  impl_->maybe_flush();
  return result;
}

std::size_t Server::broadcast(std::uint8_t channel, Bytes bytes, Delivery delivery) {
  const std::size_t n = impl_->host_->broadcast(channel, bytes, protocol::packet_flags(delivery));
  impl_->maybe_flush();
  return n;
}

bool Server::disconnect(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kNormal);
  impl_->maybe_flush();
  return ok;
}

bool Server::disconnect_later(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kLater);
  impl_->maybe_flush();
  return ok;
}

bool Server::disconnect_now(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kNow);
  impl_->maybe_flush();
  return ok;
}

std::optional<PeerStats> Server::peer_stats(PeerHandle handle) const {
  const protocol::Peer* peer = impl_->host_->peer(handle);
  if (peer == nullptr) return std::nullopt;
  return make_peer_stats(*peer, *impl_->host_->address(handle));
}

std::size_t Server::peer_count() const noexcept { return impl_->host_->connected_peers(); }

ServerStats Server::stats() const {
  return make_server_stats(impl_->host_->stats(), impl_->host_->deadline_ops(),
                           impl_->loop_->stats());
}

std::string Server::local_address() const { return impl_->loop_->local_address().to_string(); }
std::uint16_t Server::local_port() const { return impl_->loop_->local_address().port(); }
std::string_view Server::backend() const noexcept {
  return engine::backend_name(impl_->loop_->backend());
}
const std::string& Server::backend_note() const noexcept { return impl_->loop_->backend_note(); }
int Server::recv_buffer_granted() const noexcept { return impl_->loop_->socket_buffers().recv_bytes; }
int Server::send_buffer_granted() const noexcept { return impl_->loop_->socket_buffers().send_bytes; }

}  // namespace volley::server
