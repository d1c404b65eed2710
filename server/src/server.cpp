// Server: binds the sans-IO Host to engine::Loop, and nothing more. Every way in from the loop
// (a receive batch, a Host timer, a posted task, stop) goes through enter(): one clock
// (Loop::time(), the instant the loop's timer wheel fires by, refreshed before each receive
// batch), one depth count so that API calls made from callbacks are collected rather than
// flushed one by one, and one Host flush when the outermost entry returns. Config translation
// lives in settings.cpp, stats assembly in server_stats.cpp, the shared enums in volley/vocabulary.
#include <utility>

#include "host.hpp"
#include "server_stats.hpp"
#include "settings.hpp"
#include "volley/engine/loop.hpp"
#include "volley/server/server.hpp"

namespace volley::server {

class Server::Impl final : public HostEvents, public TimerPort {
 public:
  explicit Impl(const Config& config) : config_(config) {}

  std::string open() {
    Settings settings;
    if (std::string error = make_settings(config_, settings); !error.empty()) return error;
    settings.loop.on_datagrams = [this](std::span<const engine::DatagramView> batch) {
      enter([&](TimePoint now) { host_->on_datagrams(now, batch); });
    };
    auto opened = engine::Loop::open(std::move(settings.loop));
    if (!opened) return "cannot open the UDP socket: " + opened.error;
    loop_ = std::move(opened.loop);
    host_ = std::make_unique<Host>(
        settings.host, *this,
        [this](std::span<const engine::OutDatagram> out) { loop_->send(out); }, this);
    return {};
  }

  // The one way into the Host from the loop. Entries nest when a callback runs a posted task's
  // work inline; only the outermost flushes.
  template <class Fn>
  void enter(Fn&& fn) {
    const TimePoint now = loop_->time();
    {
      const Depth depth(depth_);
      fn(now);
    }
    if (depth_ == 0) settle(now);
  }

  // After an API call: inside an entry that entry flushes; outside one (before run()) flush now.
  void after_api_call() {
    if (depth_ == 0) settle(loop_->time());
  }

  // --- TimerPort --------------------------------------------------------------------------
  TimerId arm(std::uint32_t slot, TimePoint at) override {
    return loop_->schedule(at, [this, slot] {
      enter([&](TimePoint now) { host_->on_timer(now, slot); });
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

  // --- lifecycle --------------------------------------------------------------------------
  void run() {
    if (finished_) return;
    loop_->run();
    finished_ = true;
  }

  void stop() {
    loop_->post([this] { enter([&](TimePoint now) { begin_shutdown(now); }); });
  }

  void post(std::function<void()> task) {
    loop_->post([this, task = std::move(task)] { enter([&](TimePoint) { task(); }); });
  }

  Config config_;
  Callbacks callbacks_;
  std::unique_ptr<engine::Loop> loop_;
  std::unique_ptr<Host> host_;

 private:
  // Counts nested entries; restores the count even if a callback throws.
  struct Depth {
    explicit Depth(int& depth) : value(depth) { ++value; }
    ~Depth() { --value; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    int& value;
  };

  void settle(TimePoint now) {
    host_->flush(now);
    if (shutting_down_ && host_->live_peers() == 0) loop_->stop();
  }

  void begin_shutdown(TimePoint now) {
    if (shutting_down_) return;
    shutting_down_ = true;
    host_->set_accepting(false);
    host_->disconnect_all(0);
    const TimePoint grace = static_cast<TimePoint>(config_.shutdown_grace_ms) * 1000;
    loop_->schedule(now + grace, [this] { loop_->stop(); });
  }

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
  impl_->after_api_call();
  return result;
}

std::size_t Server::broadcast(std::uint8_t channel, Bytes bytes, Delivery delivery) {
  const std::size_t n = impl_->host_->broadcast(channel, bytes, protocol::packet_flags(delivery));
  impl_->after_api_call();
  return n;
}

bool Server::disconnect(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kNormal);
  impl_->after_api_call();
  return ok;
}

bool Server::disconnect_later(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kLater);
  impl_->after_api_call();
  return ok;
}

bool Server::disconnect_now(PeerHandle peer, std::uint32_t data) {
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kNow);
  impl_->after_api_call();
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
