// No heap allocation per packet on the echo path (issue 13, item 5). This binary replaces the
// global operator new so that it can count every allocation of the process; a lean in-test
// harness (fixed buffers, no per-datagram containers) runs 16 client Peers against the sans-IO
// Host with an echoing app, warms up, and then requires that the Host, the Peers on both sides
// and the echo app allocate nothing at all while thousands more packets go round: reliable,
// unreliable, unsequenced and fragmented reliable packets.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "host.hpp"
#include "host_driver.hpp"
#include "support/seed.hpp"
#include "volley/protocol/peer.hpp"

namespace {

std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace volley::server::test {
namespace {

using protocol::Delivery;
using protocol::PacketFlags;
using protocol::PeerEvent;

constexpr std::size_t kClients = 16;
constexpr std::size_t kMaxWire = 1024;  // datagrams in flight one way per step
constexpr std::uint16_t kBasePort = 20000;

struct Wire {
  std::array<std::uint8_t, protocol::kMaxMtu> bytes;
  std::size_t size = 0;
  engine::Address address;
};

// Echoes every packet back the way it came, from the Host's callback, as volley-server does.
class EchoApp final : public HostEvents {
 public:
  Host* host = nullptr;
  std::size_t connects = 0;
  std::size_t echoed = 0;
  void on_connect(PeerHandle, std::uint32_t) override { ++connects; }
  void on_receive(PeerHandle peer, const PeerEvent& e) override {
    if (host->send(peer, e.channel, e.bytes(), protocol::packet_flags(e.delivery)) == SendResult::kOk) ++echoed;
  }
  void on_disconnect(PeerHandle, protocol::DisconnectReason, std::uint32_t) override {}
};

// The server Host, its timers and kClients client Peers, exchanging datagrams through
// preallocated buffers at a virtual instant until both sides are quiet.
class Rig {
 public:
  explicit Rig(std::uint32_t seed)
      : timers_(now_, [this](std::uint32_t slot) { host_->on_timer(now_, slot); }), down_(kMaxWire), up_(kMaxWire) {
    HostConfig config;
    config.max_peers = 64;
    for (std::size_t i = 0; i < config.handshake_key.size(); ++i)
      config.handshake_key[i] = static_cast<std::uint8_t>(seed >> (i % 4 * 8));
    host_ = std::make_unique<Host>(
        config, timers_,
        [this](std::span<const engine::OutDatagram> out) {
          for (const auto& d : out) {
            if (down_count_ == down_.size()) {
              ++overflow;
              continue;
            }
            Wire& w = down_[down_count_++];
            std::memcpy(w.bytes.data(), d.bytes.data(), d.bytes.size());
            w.size = d.bytes.size();
            w.address = d.to;
          }
        },
        &app);
    app.host = host_.get();
    clients_.reserve(kClients);
    for (std::size_t i = 0; i < kClients; ++i)
      clients_.push_back(std::make_unique<protocol::Peer>(protocol::PeerRole::kClient, 0));
    views_.reserve(64);
    payload_.resize(4000);
    for (std::size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<std::uint8_t>(seed + i * 7);
  }

  void connect_all() {
    for (std::size_t i = 0; i < kClients; ++i) {
      const auto n = static_cast<std::uint8_t>(i + 1);
      clients_[i]->connect(now_, 2, 0, {n, 0x5A, 0x17, 0x42});
    }
    pump();
    for (int i = 0; i < 20 && app.connects < kClients; ++i) step_time(10);
  }

  // Every client sends one packet of `size` bytes; then the exchange runs until quiet.
  void round(Delivery delivery, std::size_t size) {
    for (auto& c : clients_) {
      if (c->send(0, Bytes(payload_.data(), size), protocol::packet_flags(delivery)) == SendResult::kOk) ++sent;
    }
    pump();
    step_time(5);
  }

  void step_time(TimePoint ms) {
    now_ += ms * kMs;
    timers_.fire_due(now_);
    pump();
  }

  EchoApp app;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t mismatched = 0;
  std::size_t overflow = 0;

 private:
  void pump() {
    for (int i = 0; i < 100; ++i) {
      std::size_t up_count = 0;
      for (std::size_t c = 0; c < kClients; ++c) {
        for (;;) {
          if (up_count == up_.size()) {
            ++overflow;
            break;
          }
          Wire& w = up_[up_count];
          w.size = clients_[c]->poll_datagram(now_, w.bytes);
          if (w.size == 0) break;
          w.address = engine::Address::loopback_v4(static_cast<std::uint16_t>(kBasePort + c));
          ++up_count;
        }
      }
      for (std::size_t at = 0; at < up_count; at += 64) {
        views_.clear();
        for (std::size_t j = at; j < up_count && j < at + 64; ++j)
          views_.push_back(engine::DatagramView{Bytes(up_[j].bytes.data(), up_[j].size), up_[j].address});
        host_->on_datagrams(now_, views_);
      }
      host_->flush(now_);
      const std::size_t down_count = down_count_;
      down_count_ = 0;
      for (std::size_t j = 0; j < down_count; ++j) {
        const std::size_t c = down_[j].address.port() - kBasePort;
        if (c < kClients) clients_[c]->on_datagram(now_, Bytes(down_[j].bytes.data(), down_[j].size));
      }
      for (auto& c : clients_) {
        while (auto e = c->poll_event()) {
          if (e->type != PeerEvent::Type::kReceive) continue;
          ++received;
          if (std::memcmp(e->payload.data(), payload_.data(), e->payload.size()) != 0) ++mismatched;
          protocol::recycle_payload(std::move(e->payload));
        }
      }
      if (up_count == 0 && down_count == 0) return;
    }
  }

  TimePoint now_ = 1000 * kSec;
  WheelTimers timers_;
  std::unique_ptr<Host> host_;
  std::vector<std::unique_ptr<protocol::Peer>> clients_;
  std::vector<Wire> down_;
  std::size_t down_count_ = 0;
  std::vector<Wire> up_;
  std::vector<engine::DatagramView> views_;
  std::vector<std::uint8_t> payload_;
};

struct Case {
  Delivery delivery;
  std::size_t size;
  const char* name;
};

TEST_CASE("host echo: no heap allocation per packet in steady state") {
  VOLLEY_SEEDED_RNG(rng, 0);
  const auto seed = static_cast<std::uint32_t>(rng());
  for (const Case& c : {Case{Delivery::kReliable, 64, "reliable 64 B"}, Case{Delivery::kUnreliable, 64, "unreliable 64 B"},
                        Case{Delivery::kUnsequenced, 200, "unsequenced 200 B"},
                        Case{Delivery::kReliable, 3000, "reliable 3,000 B (3 fragments)"}}) {
    INFO(c.name);
    const std::uint64_t at_start = g_allocations.load();
    Rig rig(seed);
    rig.connect_all();
    REQUIRE(g_allocations.load() > at_start);  // the counter does see this binary's allocations
    REQUIRE(rig.app.connects == kClients);
    // Warm-up: the pools, queues and arenas grow to their working size.
    for (int i = 0; i < 200; ++i) rig.round(c.delivery, c.size);
    const std::size_t received_before = rig.received;
    const std::uint64_t before = g_allocations.load();
    constexpr int kRounds = 500;  // 8,000 packets each way; keepalive PINGs included (2.5 s)
    for (int i = 0; i < kRounds; ++i) rig.round(c.delivery, c.size);
    const std::uint64_t allocations = g_allocations.load() - before;
    CHECK(rig.received - received_before == kRounds * kClients);
    CHECK(rig.mismatched == 0);
    CHECK(rig.overflow == 0);
    CHECK(allocations == 0);
  }
}

}  // namespace
}  // namespace volley::server::test
