// Practice 9: the live state machine against docs/peer-states.md. Real peers are driven through
// every documented path; every transition reported by the observer must appear in the doc's
// table, and every table row must be exercised at least once by this file.
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "peer_test_util.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;

namespace {

using Row = std::tuple<std::string, std::string, std::string>;

std::set<Row> documented_transitions() {
  std::ifstream in(VOLLEY_PEER_STATES_DOC);
  std::set<Row> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("| From | To | Cause |", 0) == 0) { in_table = true; continue; }
    if (!in_table) continue;
    if (line.empty() || line[0] != '|') { if (!rows.empty()) break; continue; }
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, '|')) {
      const auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      if (b != std::string::npos) cells.push_back(cell.substr(b, e - b + 1));
    }
    if (cells.size() == 3 && cells[0].find("---") == std::string::npos) rows.emplace(cells[0], cells[1], cells[2]);
  }
  return rows;
}

struct Recorder {
  std::set<Row> seen;
  void watch(Peer& p) {
    p.set_transition_observer([this](const StateTransition& t) {
      seen.emplace(std::string(peer_state_name(t.from)), std::string(peer_state_name(t.to)), std::string(t.cause));
    });
  }
  void watch(sim::Harness& h) { watch(h.client().peer); watch(h.server().peer); }
};

}  // namespace

TEST_CASE("states: every observed transition is in docs/peer-states.md, and every row is exercised") {
  const auto documented = documented_transitions();
  REQUIRE(documented.size() >= 25);
  Recorder r;
  auto fresh = [&](sim::HarnessOptions o = {}) {
    auto h = std::make_unique<sim::Harness>(o);
    r.watch(*h);
    return h;
  };
  {  // graceful both ways, disconnect_later
    auto h = fresh();
    REQUIRE(connect_pair(*h));
    h->client().peer.disconnect(1);
    h->run_for(2 * sim::kSecond);
    REQUIRE(connect_pair(*h));
    h->to_server().dead = true;
    h->server().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->client().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->client().peer.disconnect_later(2);
    h->server().peer.disconnect_later(2);
    h->flush();
    h->to_server().dead = false;
    h->run_for(10 * sim::kSecond);
  }
  {  // disconnect_now received in CONNECTED and DISCONNECT_LATER, DISCONNECTING resets
    auto h = fresh();
    REQUIRE(connect_pair(*h));
    h->client().peer.disconnect_now(3);
    h->run_for(sim::kSecond);
    REQUIRE(connect_pair(*h));
    h->to_server().dead = true;
    h->server().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->server().peer.disconnect_later(0);
    h->flush();
    h->to_server().dead = false;
    h->client().peer.disconnect_now(4);
    h->run_for(sim::kSecond);
    REQUIRE(connect_pair(*h));
    h->to_client().dead = true;
    h->client().peer.disconnect(0);
    h->client().peer.reset();
    h->server().peer.disconnect(0);
    h->server().peer.disconnect_now(0);
  }
  {  // timeouts in every live state, resets in CONNECTING / ACK_CONNECT / CONNECTED / LATER / ACK_DISC
    auto h = fresh();
    h->to_server().dead = true;
    h->connect(1, 0);
    h->run_for(40 * sim::kSecond);           // CONNECTING -> ZOMBIE (timeout)
    h->to_server().dead = false;
    h->to_client().dead = true;
    h->connect(1, 0);
    h->run_for(40 * sim::kSecond);           // server ACK_CONNECT -> DISCONNECTED (silent)
    h->client().peer.reset();
    h->to_client().dead = false;
    REQUIRE(connect_pair(*h));
    h->to_client().dead = true;
    h->client().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->client().peer.disconnect_later(0);
    h->run_for(60 * sim::kSecond);           // DISCONNECT_LATER -> ZOMBIE (timeout), CONNECTED timeout
    h->to_client().dead = false;
    REQUIRE(connect_pair(*h));
    h->to_server().dead = true;
    h->client().peer.disconnect(0);
    h->run_for(60 * sim::kSecond);           // DISCONNECTING -> ZOMBIE (timeout)
    h->to_server().dead = false;
    h->server().peer.reset();
    REQUIRE(connect_pair(*h));
    h->client().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->client().peer.disconnect_later(0);
    h->client().peer.reset();                // DISCONNECT_LATER -> reset
    h->server().peer.reset();
    h->connect(1, 0);
    h->client().peer.reset();                // CONNECTING -> reset
    h->run_for(100 * sim::kMillisecond);
    h->server().peer.reset();                // ACKNOWLEDGING_CONNECT -> reset
  }
  {  // both sides disconnect at once: DISCONNECTING receives DISCONNECT; ACK_DISCONNECT timeout / reset
    auto h = fresh();
    REQUIRE(connect_pair(*h));
    h->client().peer.disconnect(1);
    h->server().peer.disconnect(2);
    h->run_for(5 * sim::kSecond);
    REQUIRE(connect_pair(*h));
    h->to_client().dead = true;              // the DISCONNECT's ack never arrives...
    h->client().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->flush();
    h->server().peer.disconnect(0);
    h->flush();
    h->run_for(sim::kSecond);
    h->client().peer.reset();
    h->server().peer.reset();
  }
  {  // ACKNOWLEDGING_DISCONNECT: server receives acked DISCONNECT, never manages to send its ack
    sim::HarnessOptions o;
    auto h = fresh(o);
    REQUIRE(connect_pair(*h));
    Peer& server = h->server().peer;
    h->to_client().dead = true;
    server.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    h->flush();
    // Feed the DISCONNECT straight in, without letting the server poll (so no ack goes out).
    auto dgram = volley::test::hex("80 00 00 10 84 FF 00 09 00 00 00 05");
    dgram[0] = static_cast<std::uint8_t>(0x80 | (server.incoming_session_id() << 4));
    server.on_datagram(h->now(), dgram);
    CHECK(server.state() == PeerState::kAcknowledgingDisconnect);
    server.reset();
    h->client().peer.reset();
    h->to_client().dead = false;
    REQUIRE(connect_pair(*h));
    h->server().peer.on_datagram(h->now(), [&] {
      auto d = dgram;
      d[0] = static_cast<std::uint8_t>(0x80 | (h->server().peer.incoming_session_id() << 4));
      d[7] = 0x20;
      return d;
    }());
    h->server().peer.send(0, volley::test::pattern(10, 1), PacketFlags::kReliable);
    std::array<std::uint8_t, kMaxMtu> buf{};
    (void)buf;
    CHECK(h->server().peer.state() == PeerState::kAcknowledgingDisconnect);
  }
  {  // CONNECTING: a corrupted VERIFY_CONNECT aborts; a fast refusal (3.5) is a disconnect
    auto h = fresh();
    std::vector<std::uint8_t> verify;
    h->to_client().drop_if = [&](Bytes d) {
      if (d.size() > 4 && d[4] == 0x83) verify.assign(d.begin(), d.end());
      return true;
    };
    h->connect(1, 0);
    h->run_for(50 * sim::kMillisecond);
    REQUIRE(!verify.empty());
    verify[4 + 40] ^= 1;  // connectID no longer echoed
    h->client().peer.on_datagram(h->now(), verify);
    CHECK(h->client().peer.state() == PeerState::kZombie);
    h->flush();
    h->server().peer.reset();
    h->connect(1, 0);
    // 3.5: header = our id, session 0, no sentTime; 44 FF 00 01 + reason.
    h->client().peer.on_datagram(h->now(), volley::test::hex("00 00 44 FF 00 01 00 00 00 2A"));
    h->flush();
    const auto* refused = volley::test::last_disconnect(h->client());
    REQUIRE(refused);
    CHECK(refused->reason == DisconnectReason::kRefused);
    CHECK(refused->data == 42);
  }
  for (const auto& row : r.seen)
    CHECK_MESSAGE(documented.count(row) == 1, std::get<0>(row), " -> ", std::get<1>(row), " (", std::get<2>(row), ")");
  std::size_t exercised = 0;
  for (const auto& row : documented) {
    exercised += r.seen.count(row);
    if (!r.seen.count(row)) MESSAGE("not exercised: ", std::get<0>(row), " -> ", std::get<1>(row), " (", std::get<2>(row), ")");
  }
  MESSAGE("documented transitions exercised: ", exercised, " of ", documented.size());
  CHECK(exercised == documented.size());
}
