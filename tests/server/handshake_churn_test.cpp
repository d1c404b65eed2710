// The half-open table under churn (docs/attacks.md, "Churn"): its memory follows the entries in
// flight and returns to its baseline, and slots reused at once (the most recently freed first)
// never confuse one handshake with another. The Host test runs clients that share addresses,
// connect, echo, leave and rejoin with overlapping handshakes, through loss of CONNECTs,
// VERIFYs, ACKs and data, next to forged CONNECTs that linger and expire; seeded, virtual time.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>

#include "handshake_table.hpp"
#include "host_driver.hpp"
#include "support/seed.hpp"
#include "volley/protocol/datagram.hpp"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

namespace volley::server::test {
namespace {

using protocol::PeerEvent;
using protocol::PeerState;

constexpr std::size_t kEntryChunk = HandshakeTable::kChunkEntries;

// What a client-role Peer sends first: the template of forged CONNECTs (connectID at byte 44).
std::vector<std::uint8_t> connect_template() {
  protocol::Peer p(protocol::PeerRole::kClient, 0, {});
  p.connect(0, 2, 0, {1, 2, 3, 4});
  std::array<std::uint8_t, protocol::kMaxMtu> buf{};
  const std::size_t n = p.poll_datagram(0, buf);
  return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

TEST_CASE("half-open memory follows the entries in flight and returns to one chunk") {
  const SipKey key{9};
  HandshakeTable table(131072, 20 * kSec, key);
  const engine::Address from = HostDriver::address(3000);
  TimePoint now = kSec;
  CHECK(table.chunks_allocated() == 0);  // an idle server touches none of it
  // 150,000 handshakes one after another, two in flight: always the same two slots.
  for (std::uint32_t i = 0; i < 150000; ++i) {
    now += kMs;
    HalfOpen& a = table.insert(now, from, 2 * i, 1);
    HalfOpen& b = table.insert(now, from, 2 * i + 1, 2);
    CHECK_MESSAGE(a.slot + b.slot == 1, "slot ", a.slot, " and ", b.slot);  // slots 0 and 1
    table.erase(a);
    table.erase(b);
    if (i % 10000 != 0) continue;  // (the CHECK above is cheap; these lookups are not)
    CHECK(table.find_connect(now, from, 2 * i) == nullptr);
  }
  CHECK(table.size() == 0);
  CHECK(table.chunks_allocated() == 1);

  // A burst of 5,000 in flight takes 5 chunks; as they complete the chunks are freed.
  std::vector<HalfOpen*> burst;
  for (std::uint32_t i = 0; i < 5000; ++i) burst.push_back(&table.insert(now, from, 1000000 + i, static_cast<std::uint16_t>(i % 4095)));
  CHECK(table.chunks_allocated() == 5);
  // One lingers in the last chunk: the rest complete, newest first.
  HalfOpen& lingering = *burst[4500];
  for (std::size_t i = burst.size(); i-- > 0;) {
    if (i != 4500) table.erase(*burst[i]);
  }
  CHECK(table.size() == 1);
  CHECK(table.chunks_allocated() <= 3);  // chunk 0, the lingering one's, at most one spare
  CHECK(table.find_connect(now, from, 1000000 + 4500) == &lingering);
  // New entries fill the lowest chunk, not the lingering one's.
  HalfOpen& fresh = table.insert(now, from, 77, 4000);
  CHECK(fresh.slot < kEntryChunk);
  table.erase(fresh);
  // The lingering one expires with its lifetime, and then the spare goes too.
  CHECK(table.find_connect(now + 20 * kSec, from, 1000000 + 4500) == nullptr);
  CHECK(table.expired() == 1);
  CHECK(table.size() == 0);
  CHECK(table.chunks_allocated() == 1);
}

TEST_CASE("a full table evicts its oldest entry, in creation order, whatever slots they took") {
  VOLLEY_SEEDED_RNG(rng, 1290);
  const SipKey key{5};
  const std::size_t capacity = 3000;  // 3 chunks, the last one partial
  HandshakeTable table(capacity, 20 * kSec, key);
  const engine::Address from = HostDriver::address(3001);
  // Created in order 0, 1, 2, ...; random ones erased as they go, so slots are reused out of
  // creation order. `alive` mirrors the table: the oldest live entry must be the one evicted.
  std::set<std::uint32_t> alive;
  TimePoint now = kSec;
  for (std::uint32_t i = 0; i < 40000; ++i) {
    now += 10;
    if (!alive.empty() && rng() % 3 == 0) {
      auto it = alive.begin();
      std::advance(it, static_cast<long>(rng() % alive.size()));
      HalfOpen* e = table.find_connect(now, from, *it);
      REQUIRE(e != nullptr);
      table.erase(*e);
      alive.erase(it);
    }
    const std::uint64_t evicted = table.evicted();
    HalfOpen& e = table.insert(now, from, i, static_cast<std::uint16_t>(i % 4095));
    REQUIRE(e.slot < capacity);
    if (alive.size() == capacity) {
      REQUIRE(table.evicted() == evicted + 1);
      CHECK(table.find_connect(now, from, *alive.begin()) == nullptr);  // the oldest went
      alive.erase(alive.begin());
    }
    alive.insert(i);
    REQUIRE(table.size() == alive.size());
  }
  // Every live entry is still found by connectID and by id, and only those.
  for (std::uint32_t i = 39000; i < 40000; ++i) {
    HalfOpen* e = table.find_connect(now, from, i);
    CHECK((e != nullptr) == alive.contains(i));
    if (e) CHECK(table.find_id(now, from, static_cast<std::uint16_t>(i % 4095)) == e);
  }
}

// Clients share four addresses (as libenet hosts with many peers do), echo reliably, leave when
// their echoes are back and rejoin at once with a new connectID. 5% of datagrams are lost each way
// (CONNECTs, VERIFYs, ACKs, data), except those of a leaving client: a lost ack of a DISCONNECT
// makes a stock client resend it past the 5 s the Host remembers a departed id, which is counted
// as an unknown peer and has nothing to do with this table. Forged CONNECTs linger beside them
// and expire, so the table spans several chunks and real entries take slots freed moments ago.
TEST_CASE("churn with loss: slot reuse loses no handshake, no echo, and memory returns to baseline") {
  VOLLEY_SEEDED_RNG(rng, 1291);
  HostConfig c;
  c.max_peers = 256;
  c.per_ip_cap = 0;
  c.handshake.half_open_entries = 8192;
  c.handshake.entry_lifetime = 2 * kSec;  // the forged entries turn over within the run
  c.handshake_key = {7, 1, 7, 1};
  HostDriver d(c);
  const std::size_t baseline_bytes = d.host().half_open_bytes();

  constexpr std::size_t kAddresses = 4, kPerAddress = 16;
  struct Session {
    bool leaving = false;
    bool connected = false;
    std::size_t events_seen = 0;
    std::uint64_t sent = 0, received = 0;
    std::uint64_t session_echoes = 0;  // echoes back in this session: the server holds a Peer
    TimePoint next_send = 0;
  };
  std::vector<Session> sessions(kAddresses * kPerAddress);
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::size_t> by_port_slot;  // (port, slot) -> client
  for (std::size_t a = 0; a < kAddresses; ++a) {
    for (std::uint16_t slot = 0; slot < kPerAddress; ++slot) {
      const auto port = static_cast<std::uint16_t>(41000 + a);
      d.add_client(HostDriver::address(port), slot);
      by_port_slot[{port, slot}] = d.clients().size() - 1;
    }
  }
  std::uint64_t joins = 0, leaves = 0, dropped = 0, lost_datagrams = 0;
  auto lose = [&] { return rng() % 100 < 5; };
  for (auto& client : d.clients()) {
    d.connect(*client);
    joins += 1;
  }

  const std::vector<std::uint8_t> forged = connect_template();
  std::size_t peak_bytes = 0;
  constexpr TimePoint kStep = 5 * kMs;
  const TimePoint churn_end = d.now() + 20 * kSec;
  const TimePoint hard_end = churn_end + 20 * kSec;
  bool settled = false;
  for (std::size_t step = 0; step < 20000 && d.now() < hard_end; ++step) {
    const bool churning = d.now() < churn_end;
    d.advance_to(d.now() + kStep);
    for (auto& client : d.clients()) {
      if (const auto due = client->peer.next_deadline(); due && *due <= d.now()) client->peer.on_deadline(d.now());
    }
    // Forged CONNECTs from 10.0.0.0/8: 8 per step (1,600/s), never acknowledged.
    if (churning) {
      std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>> batch;
      for (int k = 0; k < 8; ++k) {
        auto bytes = forged;
        const auto connect_id = static_cast<std::uint32_t>(rng());
        std::memcpy(bytes.data() + 44, &connect_id, 4);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(1024 + rng() % 60000));
        sa.sin_addr.s_addr = htonl(0x0A000000u | static_cast<std::uint32_t>(rng() & 0xFFFFFF));
        batch.emplace_back(std::move(bytes), engine::Address::from_sockaddr(&sa, sizeof(sa)));
      }
      d.feed(batch);
      // Replies to forged sources go nowhere.
      std::erase_if(d.outbound(), [&](const auto& datagram) {
        return std::none_of(d.clients().begin(), d.clients().end(),
                            [&](const auto& client) { return client->address == datagram.second; });
      });
    }
    // Client -> server, with loss (not for a leaving client).
    std::vector<std::pair<std::vector<std::uint8_t>, engine::Address>> up;
    std::array<std::uint8_t, protocol::kMaxMtu> buf{};
    for (std::size_t i = 0; i < d.clients().size(); ++i) {
      Client& client = *d.clients()[i];
      while (const std::size_t n = client.peer.poll_datagram(d.now(), buf)) {
        if (!sessions[i].leaving && lose()) {
          lost_datagrams += 1;
          continue;
        }
        up.emplace_back(std::vector<std::uint8_t>(buf.data(), buf.data() + n), client.address);
      }
    }
    std::shuffle(up.begin(), up.end(), rng);  // handshakes and data of many clients interleave
    d.feed(up);
    // Server -> client, with the same loss.
    std::erase_if(d.outbound(), [&](const auto& datagram) {
      const auto header = protocol::decode_header(datagram.first, false);
      if (!header.ok()) return true;
      const auto it = by_port_slot.find({datagram.second.port(), header.value->header.peer_id});
      if (it == by_port_slot.end()) return true;
      if (sessions[it->second].leaving || !lose()) return false;
      lost_datagrams += 1;
      return true;
    });
    d.deliver();
    peak_bytes = std::max(peak_bytes, d.host().half_open_bytes());

    // Client events, sends, leaves and rejoins.
    for (std::size_t i = 0; i < d.clients().size(); ++i) {
      Client& client = *d.clients()[i];
      Session& s = sessions[i];
      for (; s.events_seen < client.events.size(); ++s.events_seen) {
        const PeerEvent& e = client.events[s.events_seen];
        if (e.type == PeerEvent::Type::kConnect) {
          s.connected = true;
          s.session_echoes = 0;
        }
        if (e.type == PeerEvent::Type::kReceive) {
          s.received += 1;
          s.session_echoes += 1;
        }
        if (e.type == PeerEvent::Type::kDisconnect) {
          if (!s.leaving) dropped += 1;
          s.connected = false;
          s.leaving = false;
          d.connect(client);  // rejoin at once, a new connectID
          joins += 1;
        }
      }
      if (!s.connected || s.leaving) continue;
      // After the churn, one echo still proves each session (the server holds its Peer).
      if ((churning || (s.session_echoes == 0 && s.sent == s.received)) && d.now() >= s.next_send) {
        const std::array<std::uint8_t, 8> payload{static_cast<std::uint8_t>(s.sent), 1, 2, 3};
        REQUIRE(client.peer.send(0, payload, protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
        s.sent += 1;
        s.next_send = d.now() + static_cast<TimePoint>(50 + rng() % 300) * kMs;
      }
      // About 40 leaves a second, each once its echoes are back. Not before the first echo: a
      // client that leaves before its ACK of the VERIFY_CONNECT went out never proves itself
      // (disconnect() drops the queued ACK, as enet_peer_disconnect does), a case of its own.
      if (churning && s.session_echoes > 0 && s.sent == s.received && rng() % 1000 < 16) {
        s.leaving = true;
        client.peer.disconnect(0);
        leaves += 1;
      }
    }
    if (!churning) {
      settled = std::all_of(sessions.begin(), sessions.end(), [](const Session& s) {
        return s.connected && !s.leaving && s.session_echoes > 0 && s.sent == s.received;
      });
      if (settled) break;
    }
  }
  if (!settled) {
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const Session& x = sessions[i];
      if (!(x.connected && !x.leaving && x.sent == x.received))
        MESSAGE("client ", i, ": connected ", x.connected, ", leaving ", x.leaving, ", sent ", x.sent, ", echoed ",
                x.received, ", state ", static_cast<int>(d.clients()[i]->peer.state()));
    }
  }
  REQUIRE(settled);
  // Every client leaves; then past the entries' lifetime and the departed ids' memory, one
  // datagram to an unknown id makes the Host pass (and so expire) the table.
  for (std::size_t i = 0; i < d.clients().size(); ++i) {
    sessions[i].leaving = true;
    d.clients()[i]->peer.disconnect(0);
  }
  d.run_for(1 * kSec);
  d.advance_to(d.now() + 6 * kSec);
  const HostStats& s = d.host().stats();
  const std::uint64_t unknown_before = s[HostDrop::kUnknownPeer];
  // A PING to id 5 (header: sent-time flag and id, sent time; command 0x85 on channel 0xFF).
  const std::vector<std::uint8_t> stray{0x80, 0x05, 0x00, 0x00, 0x85, 0xFF, 0x00, 0x01};
  d.feed({{stray, HostDriver::address(50000)}});
  CHECK(s[HostDrop::kUnknownPeer] == unknown_before + 1);

  std::uint64_t sent = 0, received = 0;
  for (const Session& x : sessions) {
    sent += x.sent;
    received += x.received;
  }
  MESSAGE("joins ", joins, ", leaves ", leaves, ", handshakes completed ", s.handshake.completed, ", echoes ", sent,
          ", datagrams lost ", lost_datagrams, ", probes ", s.handshake.probes_sent, ", VERIFYs resent ",
          s.handshake.verifies_resent, ", forged entries ", s.handshake.entries_created - s.handshake.completed,
          ", half-open peak ", s.handshake.half_open_peak, ", entry memory peak ", peak_bytes, " B");
  CHECK(leaves >= 500);
  CHECK(dropped == 0);
  CHECK(received == sent);
  CHECK(s.connects == joins);
  CHECK(s.handshake.completed == joins);
  CHECK(unknown_before == 0);
  CHECK(s[HostDrop::kHandshakeWrongCookie] == 0);
  CHECK(s[HostDrop::kHandshakeBadDatagram] == 0);
  CHECK(s.peers[protocol::Counter::kDropWrongSession] == 0);
  CHECK(s.handshake.evicted == 0);
  CHECK(s.timeouts == 0);
  CHECK(s.handshake.verifies_resent + s.handshake.probes_sent > 0);  // the loss did hit handshakes
  CHECK(peak_bytes >= 3 * kEntryChunk * sizeof(HalfOpen));           // the forged entries spanned chunks
  CHECK(d.host().live_peers() == 0);
  CHECK(d.host().half_open() == 0);
  CHECK(d.host().half_open_bytes() <= std::max(baseline_bytes, kEntryChunk * sizeof(HalfOpen)));
}

}  // namespace volley::server::test
