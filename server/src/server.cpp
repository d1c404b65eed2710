// Server: binds the sans-IO Host to engine::Loop, and nothing more. Every way in from the loop
// (a receive batch, a Host timer, a posted task, stop) goes through enter(): one clock
// (Loop::time(), the instant the loop's timer wheel fires by, refreshed before each receive
// batch), one depth count so that API calls made from callbacks are collected rather than
// flushed one by one, and one Host flush when the outermost entry returns. Config translation
// lives in settings.cpp, stats assembly in server_stats.cpp, the shared enums in volley/vocabulary.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <utility>

#include "bucket_counts.hpp"
#include "host.hpp"
#include "random_key.hpp"
#include "snapshot_sender.hpp"
#include "server_stats.hpp"
#include "settings.hpp"
#include "volley/engine/clock.hpp"
#include "volley/engine/loop.hpp"
#include "volley/server/server.hpp"

namespace volley::server {

class Server::Impl final : public HostEvents, public TimerPort {
 public:
  explicit Impl(const Config& config) : config_(config) {}

  std::string open() {
    Settings settings;
    if (std::string error = make_settings(config_, settings); !error.empty()) return error;
    settings.host.handshake_key = random_key();
    settings.loop.on_datagrams = [this](std::span<const engine::DatagramView> batch) {
      batch_sizes_.add(static_cast<double>(batch.size()));
      enter([&](TimePoint now) { host_->on_datagrams(now, batch); });
    };
    auto opened = engine::Loop::open(std::move(settings.loop));
    if (!opened) return "cannot open the UDP socket: " + opened.error;
    loop_ = std::move(opened.loop);
    host_ = std::make_unique<Host>(
        settings.host, *this,
        [this](std::span<const engine::OutDatagram> out) { loop_->send(out); }, this);
    loop_->schedule(loop_->time() + kCookieKeyPeriod, [this] { rotate_cookie_key(); });
    if (config_.tick_hz > 0) {
      const SnapshotConfig& snap = config_.snapshots;
      if (snap.schema.type_count() > 0) {
        SenderConfig sender;
        sender.history = snap.history;
        sender.budget_bytes = snap.budget_bytes;
        sender.event_max_age = snap.event_max_age_ticks;
        sender.codec.zstd_level = snap.zstd_level;
        sender.tick_hz = config_.tick_hz;
        sender.max_inputs_per_second = snap.max_inputs_per_second;
        sender.input_burst = snap.input_burst;
        sender_ = std::make_unique<SnapshotSender>(snap.schema, sender);
      }
      tick_period_ = 1'000'000 / static_cast<TimePoint>(config_.tick_hz);
      next_tick_ = loop_->time() + tick_period_;
      loop_->schedule(next_tick_, [this] { on_tick_timer(); });
    }
    return {};
  }

  // A fresh cookie key every few minutes (docs/handshake.md): a cookie seen on the wire is
  // worth nothing after that. Handshakes in flight keep the cookie their entry was issued.
  static constexpr TimePoint kCookieKeyPeriod = 300 * volley::kSecond;
  void rotate_cookie_key() {
    if (finished_) return;
    host_->set_cookie_key(random_key());
    loop_->schedule(loop_->time() + kCookieKeyPeriod, [this] { rotate_cookie_key(); });
  }

  // --- the tick -----------------------------------------------------------------------------
  // Fixed rate: the next deadline is the previous one plus the period, so timer lateness does
  // not accumulate into drift; after a stall longer than a period the missed ticks are skipped
  // (counted as ticks_late), not run back to back.
  void on_tick_timer() {
    if (finished_) return;
    // Wall time of the whole tick, the flush of its snapshots included: one clock read each side.
    const TimePoint started = engine::now();
    enter([&](TimePoint now) { tick(now); });
    const TimePoint took = engine::now() - started;
    tick_durations_.add(static_cast<double>(took) / 1e6);
    next_tick_ += tick_period_;
    const TimePoint now = loop_->time();
    bool late = false;
    if (next_tick_ <= now) {
      const TimePoint behind = now - next_tick_;
      ticks_.ticks_late += static_cast<std::uint64_t>(behind / tick_period_) + 1;
      next_tick_ = now + tick_period_;
      late = true;
    }
    adapt_stride(late ? 1.0 : static_cast<double>(took) / static_cast<double>(tick_period_));
    loop_->schedule(next_tick_, [this] { on_tick_timer(); });
  }

  // The snapshot rate under load (SnapshotConfig::max_stride): the share of the tick period the
  // ticks take, smoothed over ~10 ticks, is kept under kBusy by sending each client a snapshot
  // every `stride` ticks; the stride comes back down when the load at the smaller stride would
  // stay under kIdle. Decisions at most every half second (a late tick: every third tick), so the
  // stride does not flap.
  void adapt_stride(double load) {
    if (!sender_ || config_.snapshots.max_stride <= 1) return;
    constexpr double kBusy = 0.5, kIdle = 0.35;
    constexpr std::uint32_t kSettleTicks = 15;
    tick_load_ += (load - tick_load_) * 0.1;
    ++ticks_since_stride_;
    const std::uint32_t stride = sender_->stride();
    // A tick that ran late (a crowd joining: full snapshots for everyone) steps up at once.
    const bool late = load >= 1.0 && ticks_since_stride_ >= 3;
    if (!late && ticks_since_stride_ < kSettleTicks) return;
    if ((late || tick_load_ > kBusy) && stride < config_.snapshots.max_stride) {
      sender_->set_stride(stride + 1);
      tick_load_ *= static_cast<double>(stride) / static_cast<double>(stride + 1);
      ticks_since_stride_ = 0;
    } else if (stride > 1 && tick_load_ * stride / (stride - 1) < kIdle) {
      sender_->set_stride(stride - 1);
      tick_load_ *= static_cast<double>(stride) / static_cast<double>(stride - 1);
      ticks_since_stride_ = 0;
    }
  }

  void tick(TimePoint) {
    ++ticks_.ticks;
    if (!sender_) {
      world_.clear();
      world_.number = ++frame_;
      if (callbacks_->on_tick) callbacks_->on_tick(frame_, world_);
      return;
    }
    snapshot::Frame& world = sender_->begin_tick();
    if (callbacks_->on_tick) callbacks_->on_tick(sender_->frame_number(), world);
    sender_->end_tick([this](PeerHandle peer, std::span<const std::uint8_t> bytes) {
      send_snapshot(peer, bytes);
    });
  }

  // One datagram when it fits the peer's MTU (unsequenced, as the budget intends); otherwise
  // unreliable fragments asked for explicitly (an over-MTU unsequenced packet would go as
  // reliable fragments).
  void send_snapshot(PeerHandle peer, std::span<const std::uint8_t> bytes) {
    const protocol::Peer* p = host_->peer(peer);
    if (p == nullptr) return;
    constexpr std::size_t kEnetOverhead = 32;  // header, command, optional CRC, with headroom
    const std::size_t mtu = p->stats().mtu;
    const Delivery delivery = bytes.size() + kEnetOverhead <= mtu ? Delivery::kUnsequenced
                                                                  : Delivery::kUnreliableFragment;
    const SendResult r =
        host_->send(peer, snapshot::kSnapshotChannel, bytes, protocol::packet_flags(delivery));
    // A peer that is disconnecting (shutdown, or the game's disconnect) simply gets no more.
    if (r == SendResult::kOk) snapshot_sizes_.add(static_cast<double>(bytes.size()));
    if (r != SendResult::kOk && r != SendResult::kNotConnected) ++ticks_.snapshot_send_failed;
  }

  TickStats tick_stats() const {
    TickStats t = ticks_;
    t.sender = sender_ ? &sender_->counters() : nullptr;
    return t;
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
    // settle() has work only when the Host does, or while draining or shutting down.
    if (depth_ == 0 && (host_->flush_pending() || draining_ || shutting_down_)) settle(now);
    if (depth_ == 0 && !retired_callbacks_.empty()) retired_callbacks_.clear();
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
    if (sender_) sender_->add_client(peer);
    if (callbacks_->on_connect) callbacks_->on_connect(peer, data);
  }
  void on_receive(PeerHandle peer, const protocol::PeerEvent& event) override {
    if (sender_ && event.channel == snapshot::kInputChannel) {
      const auto input = sender_->on_input(peer, aligned(event.bytes()));
      if (input && callbacks_->on_input) callbacks_->on_input(peer, *input);
      return;
    }
    if (callbacks_->on_receive) {
      callbacks_->on_receive(Packet{peer, event.channel, event.delivery, aligned(event.bytes())});
    }
  }

  // A packet viewed in the receive batch (PeerEvent::borrowed) starts wherever the datagram
  // put it; FlatBuffers and other readers of the bytes in place need the alignment a heap
  // buffer has, which Packet::bytes promises. Such a packet lies within one received datagram,
  // so it fits the array: one memcpy, where a pooled buffer used to be taken and given back.
  Bytes aligned(Bytes bytes) {
    constexpr std::uintptr_t kAlign = alignof(std::max_align_t);
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % kAlign == 0) return bytes;
    if (bytes.size() > aligned_.size()) return bytes;  // cannot be a view: the loop drops such datagrams
    std::memcpy(aligned_.data(), bytes.data(), bytes.size());
    return Bytes(aligned_.data(), bytes.size());
  }
  void on_disconnect(PeerHandle peer, DisconnectReason reason, std::uint32_t data) override {
    if (sender_) sender_->remove_client(peer);
    if (callbacks_->on_disconnect) callbacks_->on_disconnect(peer, reason, data);
  }

  // --- lifecycle --------------------------------------------------------------------------
  // run() inside run() (from a callback or a posted task, or on a second thread) returns at
  // once: a nested loop took the stop() for itself and the outer one served on for good.
  void run() {
    if (running_.exchange(true, std::memory_order_acquire)) return;
    const Running running(running_);
    if (finished_) return;
    loop_->run();
    finished_ = true;
  }

  void stop() {
    loop_->post([this] { enter([&](TimePoint now) { begin_shutdown(now); }); });
  }

  // Drain: refuse new peers, serve the connected ones until they leave or the limit passes.
  void begin_drain(std::uint32_t limit_ms) {
    loop_->post([this, limit_ms] {
      enter([&](TimePoint now) {
        if (draining_ || shutting_down_) return;
        draining_ = true;
        host_->set_accepting(false);
        const TimePoint limit = static_cast<TimePoint>(limit_ms) * 1000;
        loop_->schedule(now + limit, [this] { enter([&](TimePoint t) { begin_shutdown(t); }); });
      });
    });
  }

  ServerStats stats() const {
    ServerStats s = make_server_stats(host_->stats(), host_->deadline_ops(), loop_->stats(), tick_stats());
    add_connected_peers(s, *host_);
    s.datagrams_per_batch = batch_sizes_.histogram();
    s.tick_seconds = tick_durations_.histogram();
    s.snapshot_bytes = snapshot_sizes_.histogram();
    s.accepting = !draining_ && !shutting_down_;
    s.draining = draining_;
    return s;
  }

  void post(std::function<void()> task) {
    if (!task) return;  // calling it would throw std::bad_function_call out of run()
    loop_->post([this, task = std::move(task)] { enter([&](TimePoint) { task(); }); });
  }

  // Set by set_callbacks(), which may be called from a callback: the callbacks it replaces are
  // kept (at their address: a std::function's closure may live inside it) until the outermost
  // entry returns, so the callback running is not destroyed under itself.
  void set_callbacks(Callbacks callbacks) {
    if (depth_ > 0) retired_callbacks_.push_back(std::move(callbacks_));  // else none is running
    callbacks_ = std::make_unique<Callbacks>(std::move(callbacks));
  }

  Config config_;
  std::unique_ptr<Callbacks> callbacks_ = std::make_unique<Callbacks>();
  std::vector<std::unique_ptr<Callbacks>> retired_callbacks_;
  std::unique_ptr<engine::Loop> loop_;
  std::unique_ptr<Host> host_;
  std::unique_ptr<SnapshotSender> sender_;  // null: no tick, or no schema
  std::uint32_t frame_ = 0;   // tick count when snapshots are off
  snapshot::Frame world_;     // the on_tick frame when snapshots are off
  alignas(std::max_align_t) std::array<std::uint8_t, kMaxReceivedDatagram> aligned_{};  // aligned()

 private:
  // Counts nested entries; restores the count even if a callback throws.
  struct Depth {
    explicit Depth(int& depth) : value(depth) { ++value; }
    ~Depth() { --value; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    int& value;
  };

  // Marks run() as active; cleared even if a callback throws.
  struct Running {
    explicit Running(std::atomic<bool>& flag) : value(flag) {}
    ~Running() { value.store(false, std::memory_order_release); }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
    std::atomic<bool>& value;
  };

  void settle(TimePoint now) {
    host_->flush(now);
    // The last peer of a drain has left (settle runs after every disconnect event). Shut down
    // from a posted task, not here: inside a receive batch the loop would stop before sending
    // what this flush queued (the ACK of that peer's DISCONNECT).
    if (draining_ && !shutting_down_ && !drain_done_ && host_->live_peers() == 0 && !handshake_may_finish(now)) {
      drain_done_ = true;
      loop_->post([this] { enter([&](TimePoint t) { begin_shutdown(t); }); });
    }
    if (shutting_down_ && host_->live_peers() == 0) loop_->stop();
  }

  // A client counts itself connected once our VERIFY arrives, before its ACK makes it a peer
  // here, so a drain that finds no peer still waits kDrainHandshakeWait after the newest
  // half-open entry (no new ones come while draining): the ACK of a real client arrives within
  // a round trip, or with its next PING (500 ms later) when the ACK is lost.
  bool handshake_may_finish(TimePoint now) {
    const std::optional<TimePoint> newest = host_->newest_half_open();
    if (!newest || now >= *newest + kDrainHandshakeWait) return false;
    if (!drain_recheck_) {
      drain_recheck_ = true;
      loop_->schedule(*newest + kDrainHandshakeWait, [this] {
        drain_recheck_ = false;
        enter([](TimePoint) {});  // settle() looks again
      });
    }
    return true;
  }
  static constexpr TimePoint kDrainHandshakeWait = 2 * volley::kSecond;

  void begin_shutdown(TimePoint now) {
    if (shutting_down_) return;
    shutting_down_ = true;
    host_->set_accepting(false);
    host_->disconnect_all(0);
    const TimePoint grace = static_cast<TimePoint>(config_.shutdown_grace_ms) * 1000;
    loop_->schedule(now + grace, [this] { loop_->stop(); });
  }

  int depth_ = 0;
  bool draining_ = false;
  bool drain_done_ = false;  // its shutdown is posted
  bool drain_recheck_ = false;  // a timer will look at the half-open handshakes again
  bool shutting_down_ = false;
  bool finished_ = false;
  std::atomic<bool> running_{false};
  TimePoint tick_period_ = 0;
  double tick_load_ = 0;  // adapt_stride()'s smoothed share of the tick period
  std::uint32_t ticks_since_stride_ = 0;
  TimePoint next_tick_ = 0;
  TickStats ticks_;
  BucketCounts<7> batch_sizes_{{1, 2, 4, 8, 16, 32, 63}};  // the loop hands up to 64
  BucketCounts<10> tick_durations_{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05, 0.1}};
  BucketCounts<10> snapshot_sizes_{{64, 128, 256, 512, 1024, 1400, 2048, 4096, 8192, 16384}};
};

Server::Created Server::create(const Config& config) {
  auto impl = std::make_unique<Impl>(config);
  if (std::string error = impl->open(); !error.empty()) return {nullptr, std::move(error)};
  return {std::unique_ptr<Server>(new Server(std::move(impl))), {}};
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

void Server::set_callbacks(Callbacks callbacks) { impl_->set_callbacks(std::move(callbacks)); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }
void Server::begin_drain(std::uint32_t limit_ms) { impl_->begin_drain(limit_ms); }
void Server::post(std::function<void()> task) { impl_->post(std::move(task)); }

SendResult Server::send(PeerHandle peer, std::uint8_t channel, Bytes bytes, Delivery delivery) {
  if (!is_delivery(delivery)) return SendResult::kBadDelivery;
  const SendResult result = impl_->host_->send(peer, channel, bytes, protocol::packet_flags(delivery));
  impl_->after_api_call();
  return result;
}

std::size_t Server::broadcast(std::uint8_t channel, Bytes bytes, Delivery delivery) {
  if (!is_delivery(delivery)) return 0;
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
  // No disconnect event follows, so the snapshot sender forgets the peer here.
  if (impl_->sender_) impl_->sender_->remove_client(peer);
  const bool ok = impl_->host_->disconnect(peer, data, DisconnectMode::kNow);
  impl_->after_api_call();
  return ok;
}

std::optional<PeerStats> Server::peer_stats(PeerHandle handle) const {
  const protocol::Peer* peer = impl_->host_->peer(handle);
  if (peer == nullptr) return std::nullopt;
  PeerStats out = make_peer_stats(*peer, *impl_->host_->address(handle));
  if (impl_->sender_) {
    if (const auto s = impl_->sender_->client_stats(handle)) {
      out.snapshot_bytes = s->bytes;
      out.snapshots_full = s->full;
      out.snapshots_delta = s->delta;
      out.acked_frame = s->acked;
    }
  }
  return out;
}

std::uint64_t Server::raise_event(std::uint16_t kind, Bytes payload) {
  return impl_->sender_ ? impl_->sender_->raise_event(kind, payload) : 0;
}

void Server::set_view_filter(PeerHandle peer, ViewFilter filter) {
  if (impl_->sender_) impl_->sender_->set_filter(peer, std::move(filter));
}

std::uint32_t Server::frame_number() const noexcept {
  return impl_->sender_ ? impl_->sender_->frame_number() : impl_->frame_;
}

std::size_t Server::peer_count() const noexcept { return impl_->host_->connected_peers(); }

ServerStats Server::stats() const { return impl_->stats(); }

std::string Server::local_address() const { return impl_->loop_->local_address().to_string(); }
std::uint16_t Server::local_port() const { return impl_->loop_->local_address().port(); }
std::string_view Server::backend() const noexcept {
  return engine::backend_name(impl_->loop_->backend());
}
const std::string& Server::backend_note() const noexcept { return impl_->loop_->backend_note(); }
int Server::recv_buffer_granted() const noexcept { return impl_->loop_->socket_buffers().recv_bytes; }
int Server::send_buffer_granted() const noexcept { return impl_->loop_->socket_buffers().send_bytes; }

}  // namespace volley::server
