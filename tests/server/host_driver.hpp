// A small multi-peer driver for the sans-IO Host: thousands of client-role protocol Peers on a
// virtual clock, the engine's TimerWheel behind the Host's TimerPort, and zero-latency
// delivery both ways (optionally muting chosen clients). The Host sees client datagrams in
// batches of up to 64, like the engine delivers them. Test code: clarity over speed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "host.hpp"
#include "timer_wheel.hpp"
#include "volley/engine/udp.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::server::test {

using protocol::TimePoint;
inline constexpr TimePoint kMs = volley::kMillisecond;
inline constexpr TimePoint kSec = volley::kSecond;

// The Host's TimerPort on the engine's own TimerWheel (the one the Loop runs), so tests see
// exactly the server's timer order: (deadline, scheduling order), a moved timer taking a new
// place behind timers already due at the same instant.
class WheelTimers final : public TimerPort {
 public:
  using Fire = std::function<void(std::uint32_t slot)>;
  WheelTimers(TimePoint start, Fire fire) : wheel_(start), fire_(std::move(fire)) {}

  TimerId arm(std::uint32_t slot, TimePoint at) override {
    return wheel_.schedule(at, [this, slot] {
      ++fired_;
      fire_(slot);
    });
  }
  void move(TimerId token, TimePoint at) override { wheel_.reschedule(token, at); }
  void disarm(TimerId token) override { wheel_.cancel(token); }
  std::optional<TimePoint> next() { return wheel_.next_wake(); }
  // Fires everything due at `now`, including timers the Host arms for `now` while firing
  // (the wheel runs those on its next advance, as the Loop's next iteration would).
  void fire_due(TimePoint now) {
    std::uint64_t before;
    do {
      before = fired_;
      wheel_.advance(now);
    } while (fired_ != before);
  }
  std::size_t armed() const { return wheel_.size(); }

 private:
  engine::TimerWheel wheel_;
  Fire fire_;
  std::uint64_t fired_ = 0;
};

struct Client {
  Client(engine::Address a, std::uint16_t slot, const protocol::PeerConfig& config)
      : address(a), peer(protocol::PeerRole::kClient, slot, config) {}
  engine::Address address;
  protocol::Peer peer;
  std::vector<protocol::PeerEvent> events;
  bool muted = false;  // its datagrams are lost both ways
  std::size_t count(protocol::PeerEvent::Type type) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.type == type ? 1 : 0;
    return n;
  }
};

// Records events and, when echo is on, sends every packet back as the echo server does.
class RecordingEvents final : public HostEvents {
 public:
  Host* host = nullptr;
  bool echo = true;
  std::vector<PeerHandle> connected;
  std::vector<std::pair<PeerHandle, protocol::DisconnectReason>> disconnected;
  std::size_t received = 0;
  std::function<void(const protocol::PeerEvent&)> observe;  // sees each packet, during the call
  std::function<void(PeerHandle)> on_packet;                  // told whose packet, during the call
  std::function<void(PeerHandle)> on_gone;                   // runs inside each on_disconnect
  std::function<void(PeerHandle)> on_join;                   // runs inside each on_connect

  void on_connect(PeerHandle peer, std::uint32_t) override {
    connected.push_back(peer);
    if (on_join) on_join(peer);
  }
  void on_receive(PeerHandle peer, const protocol::PeerEvent& e) override {
    received += 1;
    if (observe) observe(e);
    if (on_packet) on_packet(peer);
    if (!echo) return;
    protocol::PacketFlags flags = protocol::PacketFlags::kUnreliable;
    if (e.delivery == protocol::Delivery::kReliable) flags = protocol::PacketFlags::kReliable;
    if (e.delivery == protocol::Delivery::kUnsequenced) flags = protocol::PacketFlags::kUnsequenced;
    if (e.delivery == protocol::Delivery::kUnreliableFragment) flags = protocol::PacketFlags::kUnreliableFragment;
    host->send(peer, e.channel, e.bytes(), flags);
  }
  void on_disconnect(PeerHandle peer, protocol::DisconnectReason reason, std::uint32_t) override {
    disconnected.emplace_back(peer, reason);
    if (on_gone) on_gone(peer);
  }
};

class HostDriver {
 public:
  explicit HostDriver(HostConfig config, protocol::PeerConfig client_config = {})
      : client_config_(client_config),
        timers_(now_, [this](std::uint32_t slot) { host_->on_timer(now_, slot); }) {
    client_config_.checksum = config.peer.checksum;
    client_config_.compress = config.peer.compress;
    host_ = std::make_unique<Host>(
        config, timers_,
        [this](std::span<const engine::OutDatagram> out) {
          sink_calls += 1;
          for (const auto& d : out) {
            to_clients_.push_back({std::vector<std::uint8_t>(d.bytes.begin(), d.bytes.end()), d.to});
          }
        },
        &events);
    events.host = host_.get();
  }

  Host& host() { return *host_; }
  WheelTimers& timers() { return timers_; }
  TimePoint now() const { return now_; }
  std::vector<std::unique_ptr<Client>>& clients() { return clients_; }

  // 127.0.0.1 port `port` (IPv4) or ::1 (IPv6).
  static engine::Address address(std::uint16_t port, bool v6 = false) {
    return v6 ? engine::Address::loopback_v6(port) : engine::Address::loopback_v4(port);
  }

  Client& add_client(engine::Address address, std::uint16_t client_slot = 0) {
    clients_.push_back(std::make_unique<Client>(address, client_slot, client_config_));
    by_address_[{address, client_slot}] = clients_.size() - 1;
    return *clients_.back();
  }
  void connect(Client& c, std::uint32_t channels = 4, std::uint32_t data = 0) {
    const std::uint32_t n = ++connect_seed_;
    c.peer.connect(now_, channels, data,
                   {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                    static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)});
  }

  // Moves the virtual clock (forward only) and fires the Host's due timers; clients do nothing.
  void advance_to(TimePoint t) {
    now_ = std::max(now_, t);
    timers_.fire_due(now_);
  }
  // What the Host has sent and deliver() has not handed out yet (to any address).
  std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>>& outbound() { return to_clients_; }

  // Raw client → host datagrams, delivered as one Host batch.
  void inject(std::span<const engine::DatagramView> batch) { host_->on_datagrams(now_, batch); }

  // Gathers every client's pending datagrams (in client order) without delivering them.
  std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>> gather() {
    std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>> out;
    std::array<std::uint8_t, protocol::kMaxMtu> buf{};
    for (auto& c : clients_) {
      while (const std::size_t n = c->peer.poll_datagram(now_, buf)) {
        if (!c->muted) out.emplace_back(std::vector<std::uint8_t>(buf.data(), buf.data() + n), c->address);
      }
    }
    return out;
  }

  void feed(const std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>>& datagrams) {
    std::vector<engine::DatagramView> views;
    for (std::size_t i = 0; i < datagrams.size(); i += 64) {
      views.clear();
      for (std::size_t j = i; j < datagrams.size() && j < i + 64; ++j) {
        views.push_back({datagrams[j].first, datagrams[j].second});
      }
      inject(views);
    }
  }

  // Hands the Host's output to the clients; returns how many datagrams were delivered.
  std::size_t deliver() {
    std::size_t n = 0;
    auto pending = std::move(to_clients_);
    to_clients_.clear();
    for (auto& [bytes, to] : pending) {
      const auto header = protocol::decode_header(bytes, client_config_.checksum);
      if (!header.ok()) continue;
      const auto it = by_address_.find({to.unmapped(), header.value->header.peer_id});
      if (it == by_address_.end()) continue;
      Client& c = *clients_[it->second];
      if (c.muted) continue;
      c.peer.on_datagram(now_, bytes);
      ++n;
    }
    for (auto& c : clients_) {
      while (auto e = c->peer.poll_event()) c->events.push_back(std::move(*e));
    }
    return n;
  }

  // Exchanges datagrams at the current instant until both sides are quiet.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      auto up = gather();
      if (up.empty() && to_clients_.empty()) return;
      feed(up);
      deliver();
    }
  }

  void fire_due() {
    timers_.fire_due(now_);
    for (auto& c : clients_) {
      if (const auto d = c->peer.next_deadline(); d && *d <= now_) c->peer.on_deadline(now_);
    }
    deliver();
  }

  // Runs the world until `done` holds or `limit` of virtual time passes.
  bool run_until(const std::function<bool()>& done, TimePoint limit) {
    const TimePoint end = now_ + limit;
    for (std::size_t steps = 0; steps < 1'000'000; ++steps) {
      pump();
      if (done()) return true;
      std::optional<TimePoint> next = timers_.next();
      for (auto& c : clients_) {
        if (const auto d = c->peer.next_deadline(); d && (!next || *d < *next)) next = d;
      }
      if (!next || *next > end) return done();
      now_ = std::max(now_, *next);
      fire_due();
    }
    return done();
  }
  void run_for(TimePoint duration) {
    const TimePoint end = now_ + duration;
    run_until([&] { return false; }, duration);
    now_ = std::max(now_, end);
  }

  RecordingEvents events;
  std::size_t sink_calls = 0;

 private:
  struct AddressSlot {
    engine::Address address;
    std::uint16_t slot;
    bool operator==(const AddressSlot&) const = default;
  };
  struct AddressSlotHash {
    std::size_t operator()(const AddressSlot& k) const { return k.address.hash() * 31 + k.slot; }
  };
  TimePoint now_ = 10 * kSec;
  protocol::PeerConfig client_config_;
  WheelTimers timers_;
  std::unique_ptr<Host> host_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::unordered_map<AddressSlot, std::size_t, AddressSlotHash> by_address_;
  std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>> to_clients_;
  std::uint32_t connect_seed_ = 0x1000;
};

}  // namespace volley::server::test
