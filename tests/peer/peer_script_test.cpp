// Property test over random API scripts (practice 8's "peer_script" idea as a seeded doctest):
// both peers are driven by random calls (connect, every send kind, every disconnect variant,
// reset, knob changes) while the links randomly die, recover and degrade. Invariants: no crash
// or sanitizer report; each side's events form a valid life cycle (receive only inside a
// connection, never two connects without a disconnect); within one connection reliable packets
// per channel arrive in order without gaps or repeats, unless a disconnect ends it.
#include <map>

#include "peer_test_util.hpp"
#include "volley/protocol/byte_io.hpp"

using namespace volley;
using namespace volley::protocol;

namespace {

std::vector<std::uint8_t> numbered(std::uint32_t connection, std::uint32_t n, std::size_t size) {
  auto v = volley::test::pattern(std::max<std::size_t>(size, 8), n);
  store_be32(v, 0, connection);
  store_be32(v, 4, n);
  return v;
}

std::uint32_t word(const std::vector<std::uint8_t>& v, int at) {
  return load_be32(v, static_cast<std::size_t>(at));
}

struct Side {
  std::uint32_t connection = 0;  // bumps at every local connect event
  std::map<std::uint8_t, std::uint32_t> sent;  // next reliable number per channel
};

void check_life_cycle(const sim::Endpoint& e) {
  bool connected = false;
  std::map<std::pair<std::uint32_t, std::uint8_t>, std::uint32_t> next;
  for (const auto& ev : e.events) {
    if (ev.type == PeerEvent::Type::kConnect) {
      CHECK_FALSE(connected);
      connected = true;
      next.clear();
    } else if (ev.type == PeerEvent::Type::kDisconnect) {
      connected = false;
    } else {
      CHECK(connected);
      if (ev.delivery == Delivery::kReliable && ev.payload.size() >= 8) {
        const auto key = std::pair(word(ev.payload, 0), ev.channel);
        const std::uint32_t n = word(ev.payload, 4);
        if (n == 0xFFFFFFFF) continue;  // a large unreliable packet sent as reliable fragments
        if (next.count(key)) CHECK(n == next[key]);
        next[key] = n + 1;
      }
    }
  }
}

}  // namespace

TEST_CASE("script: random API calls and link faults keep both life cycles valid") {
  std::size_t total_connects = 0, total_received = 0;
  for (std::uint64_t index = 0; index < 500; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    sim::HarnessOptions o;
    o.seed = rng();
    o.client_config.checksum = o.server_config.checksum = (index & 1) != 0;
    o.client_config.compress = o.server_config.compress = (index & 2) != 0;
    sim::Harness h(o);
    Side sides[2];
    std::uint32_t connections = 0;
    h.client().on_event = [&](sim::Endpoint&, const PeerEvent& e) {
      if (e.type == PeerEvent::Type::kConnect) sides[0] = Side{++connections, {}};
    };
    h.server().on_event = [&](sim::Endpoint&, const PeerEvent& e) {
      if (e.type == PeerEvent::Type::kConnect) sides[1] = Side{++connections, {}};
    };
    for (int step = 0; step < 300; ++step) {
      const int who = static_cast<int>(rng() % 2);
      sim::Endpoint& e = who == 0 ? h.client() : h.server();
      Peer& p = e.peer;
      // reset / disconnect_now (and disconnect before CONNECTED) end a connection without an
      // event, as in libenet; the script records a marker so the life-cycle check sees the end.
      auto silent_end = [&](auto&& call) {
        const bool was_connected = p.state() != PeerState::kDisconnected;
        call();
        if (was_connected && p.state() == PeerState::kDisconnected) {
          PeerEvent marker;
          marker.type = PeerEvent::Type::kDisconnect;
          marker.data = 0xDEAD;
          e.events.push_back(marker);
        }
      };
      switch (rng() % 24) {
        case 0:
          if (who == 0 && p.state() == PeerState::kDisconnected) h.connect(1 + rng() % 3, static_cast<std::uint32_t>(rng()));
          break;
        case 1: if (rng() % 4 == 0) silent_end([&] { p.disconnect(static_cast<std::uint32_t>(rng())); }); break;
        case 2: if (rng() % 4 == 0) silent_end([&] { p.disconnect_now(1); }); break;
        case 3: if (rng() % 4 == 0) silent_end([&] { p.disconnect_later(2); }); break;
        case 4: if (rng() % 4 == 0) silent_end([&] { p.reset(); }); break;
        case 5: h.to_server().dead = rng() % 3 == 0; h.to_client().dead = rng() % 3 == 0; break;
        case 6: h.to_server().impairment().loss = (rng() % 4) * 0.1; h.to_client().impairment().reorder = (rng() % 3) * 0.1; break;
        case 7: p.set_timeout(rng() % 40, rng() % 8000, rng() % 40000); p.set_ping_interval(rng() % 1000); break;
        case 8: p.throttle_configure(100 + rng() % 5000, rng() % 5, rng() % 5); break;
        case 9: p.bandwidth_limit(static_cast<std::uint32_t>(rng() % 300000), static_cast<std::uint32_t>(rng() % 300000)); break;
        case 10: h.run_for(static_cast<TimePoint>(rng() % 40) * sim::kSecond); break;
        default: {
          const auto channel = static_cast<std::uint8_t>(rng() % 3);
          const PacketFlags kinds[] = {PacketFlags::kReliable, PacketFlags::kUnreliable, PacketFlags::kUnsequenced,
                                       PacketFlags::kUnreliableFragment};
          const PacketFlags flags = kinds[rng() % 4];
          const std::size_t size = rng() % 3 == 0 ? rng() % 6000 : rng() % 100;
          Side& s = sides[who];
          const std::uint32_t n = flags == PacketFlags::kReliable ? s.sent[channel] : 0xFFFFFFFF;
          if (p.send(channel, numbered(s.connection, n, size), flags) == SendResult::kOk && flags == PacketFlags::kReliable)
            ++s.sent[channel];
          break;
        }
      }
      h.run_for(static_cast<TimePoint>(rng() % 200) * sim::kMillisecond);
    }
    h.run_for(120 * sim::kSecond);
    check_life_cycle(h.client());
    check_life_cycle(h.server());
    for (const auto* e : {&h.client(), &h.server()}) {
      total_connects += e->count(PeerEvent::Type::kConnect);
      total_received += e->count(PeerEvent::Type::kReceive);
    }
  }
  MESSAGE("scripts: ", total_connects, " connect events, ", total_received, " packets delivered");
  CHECK(total_connects > 500);
  CHECK(total_received > 4000);
}
