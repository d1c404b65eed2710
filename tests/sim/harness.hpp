// Two sans-IO Peers (client role and server role) joined by two simulated Links on a virtual
// clock. step() delivers due datagrams, fires due deadlines, hands events to the test and
// flushes all output once per batch (as a Host does); the clock then jumps straight to the next
// delivery or deadline. drive_until() bounds every run by virtual time and step count.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "sim/clock.hpp"
#include "volley/netsim/link.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::sim {

// The impairment model is volley-netsim's (tools/netsim/model): one model, two drivers.
using netsim::Impairment;
using netsim::Link;
using netsim::LinkStats;

struct Endpoint {
  explicit Endpoint(protocol::Peer p) : peer(std::move(p)) {}
  protocol::Peer peer;
  std::vector<protocol::PeerEvent> events;  // every event polled so far, in order
  // Optional reaction to each event as it is polled (e.g. an echo server).
  std::function<void(Endpoint&, const protocol::PeerEvent&)> on_event;
  // Optional observer of every datagram this endpoint sends (before the link impairs it).
  std::function<void(TimePoint, protocol::Bytes)> on_send;
  std::size_t count(protocol::PeerEvent::Type type) const;
};

struct HarnessOptions {
  protocol::PeerConfig client_config = protocol::PeerConfig::libenet_defaults();
  protocol::PeerConfig server_config = protocol::PeerConfig::libenet_defaults();
  Impairment to_server;
  Impairment to_client;
  std::uint64_t seed = 1;
  TimePoint start = 1 * kSecond;
  std::uint16_t client_slot = 0;
  std::uint16_t server_slot = 0;
};

class Harness {
 public:
  explicit Harness(const HarnessOptions& options);

  Endpoint& client() { return client_; }
  Endpoint& server() { return server_; }
  Link& to_server() { return to_server_; }
  Link& to_client() { return to_client_; }
  TimePoint now() const { return clock_.now(); }
  std::size_t steps() const { return steps_; }
  std::size_t stalls() const { return stalls_; }

  // Client connect with a connectID drawn from the seed.
  void connect(std::uint32_t channels, std::uint32_t data);
  bool step(std::optional<TimePoint> limit = std::nullopt);
  bool drive_until(const std::function<bool()>& done, TimePoint max_duration,
                   std::size_t max_steps = 20'000'000);
  void run_for(TimePoint duration);
  void flush();

 private:
  void drain_events(Endpoint& endpoint);
  void flush(Endpoint& endpoint, Link& link);
  VirtualClock clock_;
  Endpoint client_;
  Endpoint server_;
  Link to_server_;
  Link to_client_;
  std::uint64_t seed_;
  std::size_t steps_ = 0;
  std::size_t stalls_ = 0;
  std::array<std::uint8_t, protocol::kMaxMtu> buffer_{};
};

}  // namespace volley::sim
