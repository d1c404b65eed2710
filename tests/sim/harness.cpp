// Simulation harness; see harness.hpp.
#include "sim/harness.hpp"

#include <algorithm>
#include <stdexcept>

namespace volley::sim {

using protocol::Peer;
using protocol::PeerEvent;
using protocol::PeerRole;

std::size_t Endpoint::count(PeerEvent::Type type) const {
  return static_cast<std::size_t>(
      std::count_if(events.begin(), events.end(), [&](const PeerEvent& e) { return e.type == type; }));
}

Harness::Harness(const HarnessOptions& o)
    : clock_(o.start),
      client_(Peer(PeerRole::kClient, o.client_slot, o.client_config)),
      server_(Peer(PeerRole::kServer, o.server_slot, o.server_config)),
      to_server_(o.to_server, o.seed * 2 + 1),
      to_client_(o.to_client, o.seed * 2 + 2),
      seed_(o.seed) {}

void Harness::connect(std::uint32_t channels, std::uint32_t data) {
  const std::uint64_t mixed = seed_ * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  std::array<std::uint8_t, 4> id{};
  for (int i = 0; i < 4; ++i) id[i] = static_cast<std::uint8_t>(mixed >> (8 * i + 24));
  client_.peer.connect(clock_.now(), channels, data, id);
  flush();
}

void Harness::drain_events(Endpoint& endpoint) {
  while (auto event = endpoint.peer.poll_event()) {
    endpoint.events.push_back(*event);
    if (endpoint.on_event) endpoint.on_event(endpoint, endpoint.events.back());
  }
}

void Harness::flush(Endpoint& endpoint, Link& link) {
  // Polled until empty, as a simple caller does; every test using the harness thereby checks
  // the promise a server Host relies on to skip the empty poll.
  bool said_done = false;
  for (int i = 0; i < 1'000'000; ++i) {
    const std::size_t n = endpoint.peer.poll_datagram(clock_.now(), buffer_);
    if (n == 0) return;
    if (said_done) throw std::logic_error("poll_again() was false, yet the next poll returned a datagram");
    said_done = !endpoint.peer.poll_again();
    const protocol::Bytes datagram(buffer_.data(), n);
    if (endpoint.on_send) endpoint.on_send(clock_.now(), datagram);
    link.send(clock_.now(), datagram);
  }
}

void Harness::flush() {
  drain_events(client_);
  drain_events(server_);
  flush(client_, to_server_);
  flush(server_, to_client_);
}

bool Harness::step(std::optional<TimePoint> limit) {
  flush();
  std::optional<TimePoint> next;
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(to_server_.next_delivery());
  consider(to_client_.next_delivery());
  consider(client_.peer.next_deadline());
  consider(server_.peer.next_deadline());
  if (!next || (limit && *next > *limit)) return false;
  if (*next <= clock_.now()) ++stalls_;
  clock_.advance_to(*next);
  ++steps_;
  for (auto& d : to_server_.take_due(clock_.now())) server_.peer.on_datagram(clock_.now(), d.bytes);
  for (auto& d : to_client_.take_due(clock_.now())) client_.peer.on_datagram(clock_.now(), d.bytes);
  client_.peer.on_deadline(clock_.now());
  server_.peer.on_deadline(clock_.now());
  flush();
  return true;
}

bool Harness::drive_until(const std::function<bool()>& done, TimePoint max_duration,
                          std::size_t max_steps) {
  const TimePoint limit = clock_.now() + max_duration;
  for (std::size_t i = 0; i < max_steps; ++i) {
    flush();
    if (done()) return true;
    if (!step(limit)) {
      clock_.advance_to(limit);
      flush();
      return done();
    }
  }
  return done();
}

void Harness::run_for(TimePoint duration) {
  drive_until([] { return false; }, duration);
}

}  // namespace volley::sim
