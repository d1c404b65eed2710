// The client library against a plain stock-libenet 1.3.17 server written here (enet_host_create
// on 127.0.0.1): what the library puts on the wire is stock ENet. Connect data, every delivery
// kind both ways with libenet's own packet flags checked, the three disconnect modes seen from
// the server, a server-side disconnect and a silent server seen from the client (also while a
// third party sends our peer id), the packet size and HostOptions edges, and the checksum and
// range-coder options interoperating (and a mismatch failing to connect).
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loopback.hpp"
#include "support/udp_socket.hpp"
#include "volley/client/host.hpp"

namespace vc = volley::client;
using vc::test::ClientLog;
using vc::test::StockServer;
using vc::test::pattern;
using vc::test::pump;
using volley::Delivery;
using volley::DisconnectReason;

namespace {

struct Kind {
  Delivery delivery;
  std::uint32_t flags;  // how libenet marks it on arrival
  std::uint8_t channel;
  std::size_t size;
};
// The unreliable fragment is larger than the 1400-byte MTU so that it really is fragmented.
constexpr Kind kKinds[] = {
    {Delivery::kReliable, ENET_PACKET_FLAG_RELIABLE, 0, 300},
    {Delivery::kUnreliable, 0, 1, 200},
    {Delivery::kUnsequenced, ENET_PACKET_FLAG_UNSEQUENCED, 2, 100},
    {Delivery::kUnreliableFragment, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, 3, 3000},
};

vc::ConnectionId connect_ok(vc::Host& host, ClientLog& log, StockServer& server,
                            std::uint32_t data = 0) {
  const vc::ConnectResult result = host.connect(server.address(), data);
  REQUIRE(result);
  REQUIRE(pump(host, log, &server, [&] {
    return log.find(vc::EventType::kConnected, result.connection) != nullptr;
  }));
  REQUIRE(host.connected(result.connection));
  return result.connection;
}

// connect_ok, then until the server has seen it too: the connection and the server's peer.
struct Connected {
  vc::ConnectionId id;
  ENetPeer* peer = nullptr;
};
Connected connect_both(vc::Host& host, ClientLog& log, StockServer& server) {
  const vc::ConnectionId id = connect_ok(host, log, server);
  REQUIRE(pump(host, log, &server, [&] { return server.last_connected() != nullptr; }));
  return {id, server.last_connected()};
}

// A stock server and a client Host with `options`, connected (both ends have seen it).
struct Session {
  explicit Session(const vc::HostOptions& options) : host(options), connection(connect_both(host, log, server)) {}
  StockServer server;
  vc::Host host;
  ClientLog log;
  Connected connection;
};

std::size_t server_count(const StockServer& server, ENetEventType type) {
  std::size_t n = 0;
  for (const auto& e : server.events) n += e.type == type ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("stock enet: connect data, every delivery kind both ways, server disconnect") {
  StockServer server;
  vc::HostOptions options;
  options.channels = 4;
  options.incoming_bandwidth = 100'000;
  options.outgoing_bandwidth = 50'000;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server, 0xC0FFEE);
  REQUIRE(pump(host, log, &server, [&] { return server.last_connected() != nullptr; }));
  ENetPeer* peer = server.last_connected();
  CHECK(server.events.back().data == 0xC0FFEE);
  CHECK(peer->channelCount == 4);
  // The CONNECT carried the host's bandwidth limits, as libenet reads them.
  CHECK(peer->incomingBandwidth == 100'000);
  CHECK(peer->outgoingBandwidth == 50'000);

  for (const Kind& kind : kKinds) {
    CAPTURE(volley::delivery_name(kind.delivery));
    const auto bytes = pattern(kind.size, kind.channel);
    REQUIRE(host.send(id, kind.channel, bytes, kind.delivery) == volley::SendResult::kOk);
    const std::size_t before = server.events.size();
    REQUIRE(pump(host, log, &server, [&] { return server.events.size() > before; }));
    const auto& got = server.events.back();
    CHECK(got.type == ENET_EVENT_TYPE_RECEIVE);
    CHECK(got.channel == kind.channel);
    CHECK(got.flags == kind.flags);
    CHECK(got.bytes == bytes);

    server.send(peer, kind.channel, kind.flags, bytes);
    const std::size_t seen = log.events.size();
    REQUIRE(pump(host, log, &server, [&] { return log.events.size() > seen; }));
    const auto& back = log.events.back();
    CHECK(back.type == vc::EventType::kReceived);
    CHECK(back.connection == id);
    CHECK(back.channel == kind.channel);
    CHECK(back.delivery == kind.delivery);
    CHECK(back.bytes == bytes);
  }
  CHECK(host.send(id, 4, pattern(8, 1), Delivery::kReliable) == volley::SendResult::kBadChannel);
  CHECK(host.send(id, 0, pattern(8, 1), Delivery::kCount) == volley::SendResult::kBadDelivery);
  CHECK(host.send(id, 0, pattern(8, 1), static_cast<Delivery>(77)) == volley::SendResult::kBadDelivery);

  const auto stats = host.stats(id);
  REQUIRE(stats);
  CHECK(stats->packets_out == 4);
  CHECK(stats->packets_in == 4);
  CHECK(stats->bytes_out == 3600);
  CHECK(stats->bytes_in == 3600);
  CHECK(stats->bytes_out_per_s > 0);
  CHECK(stats->packets_in_per_s > 0);
  CHECK(stats->throttle > 0);

  enet_peer_disconnect(peer, 77);
  REQUIRE(pump(host, log, &server, [&] {
    return log.find(vc::EventType::kDisconnected, id) != nullptr;
  }));
  const auto* gone = log.find(vc::EventType::kDisconnected, id);
  CHECK(gone->reason == DisconnectReason::kRemote);
  CHECK(gone->data == 77);
  CHECK_FALSE(host.connected(id));
  CHECK(host.send(id, 0, pattern(8, 1), Delivery::kReliable) == volley::SendResult::kNoSuchPeer);
  CHECK(host.connection_count() == 0);
}

TEST_CASE("stock enet: the connection's channel count is the server's when it has fewer") {
  StockServer::Options few;
  few.channels = 2;
  StockServer server(few);
  vc::HostOptions options;
  options.channels = 3;  // snapshot::kSessionChannels
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server);
  REQUIRE(host.stats(id));
  CHECK(host.stats(id)->channels == 2);
  CHECK(host.send(id, 2, pattern(8, 1), Delivery::kReliable) == volley::SendResult::kBadChannel);
  CHECK(host.send(id, 1, pattern(8, 1), Delivery::kReliable) == volley::SendResult::kOk);
}

TEST_CASE("stock enet: disconnect, disconnect_later and disconnect_now reach the server") {
  StockServer server;
  vc::HostOptions options;
  options.max_connections = 3;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId a = connect_ok(host, log, server);
  const vc::ConnectionId b = connect_ok(host, log, server);
  const vc::ConnectionId c = connect_ok(host, log, server);
  REQUIRE(pump(host, log, &server, [&] { return server_count(server, ENET_EVENT_TYPE_CONNECT) == 3; }));

  // disconnect_later lets the queued reliable packet go first.
  const auto last_words = pattern(2000, 9);
  REQUIRE(host.send(b, 0, last_words, Delivery::kReliable) == volley::SendResult::kOk);
  host.disconnect(a, 1);
  host.disconnect_later(b, 2);
  host.disconnect_now(c, 3);
  CHECK(host.send(a, 0, last_words, Delivery::kReliable) == volley::SendResult::kNotConnected);
  // disconnect_now's event is at once; the handshakes take a round trip.
  ClientLog now_log;
  now_log.drain(host);
  REQUIRE(now_log.find(vc::EventType::kDisconnected, c) != nullptr);
  CHECK(now_log.find(vc::EventType::kDisconnected, c)->reason == DisconnectReason::kLocal);
  CHECK(now_log.find(vc::EventType::kDisconnected, c)->data == 3);
  for (auto& e : now_log.events) log.events.push_back(e);

  REQUIRE(pump(host, log, &server, [&] {
    return server_count(server, ENET_EVENT_TYPE_DISCONNECT) == 3 &&
           log.find(vc::EventType::kDisconnected, a) && log.find(vc::EventType::kDisconnected, b);
  }));
  std::vector<std::uint32_t> data;
  bool received_before_disconnect = false;
  for (const auto& e : server.events) {
    if (e.type == ENET_EVENT_TYPE_DISCONNECT) data.push_back(e.data);
    if (e.type == ENET_EVENT_TYPE_RECEIVE && e.bytes == last_words) {
      received_before_disconnect = data.size() < 3;
    }
  }
  std::sort(data.begin(), data.end());
  CHECK(data == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(received_before_disconnect);
  for (const vc::ConnectionId id : {a, b, c}) {
    CHECK(log.count(vc::EventType::kDisconnected, id) == 1);
    CHECK(log.find(vc::EventType::kDisconnected, id)->reason == DisconnectReason::kLocal);
  }
  CHECK(log.find(vc::EventType::kDisconnected, a)->data == 1);
  CHECK(log.find(vc::EventType::kDisconnected, b)->data == 2);
  CHECK(host.connection_count() == 0);
}

namespace {

enum class Meanwhile : std::uint8_t { kNothing, kSpoof, kWrongSessionDisconnect, kUnacknowledgeableDisconnect };

// The server forgets the client without a word (enet_peer_reset) while it has a reliable packet
// in flight: libenet on the client times the connection out. With kSpoof, a third party on
// another port keeps sending the client's peer id (0, the first slot) meanwhile; with
// kWrongSessionDisconnect the server's own socket sends one DISCONNECT naming another session,
// which libenet ignores; with kUnacknowledgeableDisconnect one with the right session but no
// sent time, which libenet takes but cannot acknowledge. Returns the reason of the kDisconnected
// event.
DisconnectReason silent_server_reason(Meanwhile meanwhile) {
  const bool spoof = meanwhile == Meanwhile::kSpoof;
  StockServer server;
  vc::HostOptions options;
  options.timeout_minimum_ms = 300;
  options.timeout_maximum_ms = 1000;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server);
  REQUIRE(pump(host, log, &server, [&] { return server.last_connected() != nullptr; }));
  ENetPeer* gone = server.last_connected();
  const ENetAddress client_address = gone->address;
  const enet_uint16 client_id = gone->outgoingPeerID;
  const enet_uint8 wrong_session = meanwhile == Meanwhile::kWrongSessionDisconnect
                                       ? static_cast<enet_uint8>((gone->outgoingSessionID + 1) & 3)
                                       : gone->outgoingSessionID;
  enet_peer_reset(gone);
  if (meanwhile == Meanwhile::kWrongSessionDisconnect || meanwhile == Meanwhile::kUnacknowledgeableDisconnect) {
    // Header (peer id, session), then DISCONNECT: command with ACKNOWLEDGE, channel 0xFF,
    // reliable sequence 1, data 0. No sent time, no checksum (the host's defaults).
    const auto header = static_cast<enet_uint16>(client_id | (wrong_session << ENET_PROTOCOL_HEADER_SESSION_SHIFT));
    std::array<std::uint8_t, 10> forged{static_cast<std::uint8_t>(header >> 8), static_cast<std::uint8_t>(header),
                                        static_cast<std::uint8_t>(ENET_PROTOCOL_COMMAND_DISCONNECT) |
                                            static_cast<std::uint8_t>(ENET_PROTOCOL_COMMAND_FLAG_ACKNOWLEDGE),
                                        0xFF, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
    ENetBuffer buffer{forged.data(), forged.size()};
    REQUIRE(enet_socket_send(server.host()->socket, &client_address, &buffer, 1) == static_cast<int>(forged.size()));
  }
  REQUIRE(host.send(id, 0, pattern(16, 2), Delivery::kReliable) == volley::SendResult::kOk);
  volley::test::UdpSocket spoofer;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(host.local_port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sockaddr_storage client_at{};
  std::memcpy(&client_at, &to, sizeof(to));
  const std::array<std::uint8_t, 2> header{0x00, 0x00};  // peer id 0, no flags
  auto last_spoof = std::chrono::steady_clock::time_point{};
  int spoofed = 0;
  REQUIRE(pump(host, log, &server, [&] {
    const auto now = std::chrono::steady_clock::now();
    if (spoof && now - last_spoof > std::chrono::milliseconds(40)) {
      spoofer.send_to(header, client_at, sizeof(to));
      last_spoof = now;
      ++spoofed;
    }
    return log.find(vc::EventType::kDisconnected, id) != nullptr;
  }, std::chrono::seconds(10)));
  if (spoof) CHECK(spoofed > 5);
  return log.find(vc::EventType::kDisconnected, id)->reason;
}

}  // namespace

TEST_CASE("stock enet: a server that goes silent times the connection out") {
  CHECK(silent_server_reason(Meanwhile::kNothing) == DisconnectReason::kTimeout);
}

TEST_CASE("stock enet: a DISCONNECT naming another session, which libenet ignores, leaves a timeout a timeout") {
  CHECK(silent_server_reason(Meanwhile::kWrongSessionDisconnect) == DisconnectReason::kTimeout);
}

TEST_CASE("stock enet: a DISCONNECT libenet takes but cannot acknowledge ends the connection as remote") {
  // Without a sent time in its datagram libenet 1.3.17 queues no ACK for it and leaves the peer
  // acknowledging the disconnect forever, with no event and no timeout: the game never heard.
  CHECK(silent_server_reason(Meanwhile::kUnacknowledgeableDisconnect) == DisconnectReason::kRemote);
}

TEST_CASE("stock enet: datagrams from another address naming our peer id do not hide a timeout") {
  // The Host notes when each connection last heard from its server, to tell a remote
  // disconnect from a timeout. Only datagrams from the server's address count: a third party
  // sending the client's peer id must not make a silent server look alive.
  CHECK(silent_server_reason(Meanwhile::kSpoof) == DisconnectReason::kTimeout);
}

// The server is alive (its PINGs keep arriving every 500 ms) but never acknowledges our packet:
// its fragments are over the server's maximum packet size, which libenet refuses unacknowledged.
// libenet times the connection out; that is a timeout, not a remote disconnect. (Told apart by
// the time of the last datagram heard before, it read as a remote disconnect with data 0.)
TEST_CASE("stock enet: a live server that never acknowledges a packet times the connection out") {
  StockServer server;
  server.host()->maximumPacketSize = 1000;
  vc::HostOptions options;
  options.timeout_minimum_ms = 2000;
  options.timeout_maximum_ms = 2000;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server);
  REQUIRE(host.send(id, 0, pattern(5000, 3), Delivery::kReliable) == volley::SendResult::kOk);
  REQUIRE(pump(host, log, &server, [&] { return log.find(vc::EventType::kDisconnected, id) != nullptr; },
               std::chrono::seconds(10)));
  CHECK(log.find(vc::EventType::kDisconnected, id)->reason == DisconnectReason::kTimeout);
  CHECK(server_count(server, ENET_EVENT_TYPE_RECEIVE) == 0);
}

TEST_CASE("stock enet: a packet of exactly the host's maximum size is queued, one byte more is too large") {
  StockServer server;
  vc::Host host;
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server);
  // HostOptions::max_packet_size (4 MiB), not libenet's 32 MiB: the ENetHost was given it.
  CHECK(vc::HostOptions{}.max_packet_size == 4u * 1024 * 1024);
  std::vector<std::uint8_t> bytes(vc::HostOptions{}.max_packet_size, 0x5A);
  CHECK(host.send(id, 0, bytes, Delivery::kReliable) == volley::SendResult::kOk);
  bytes.push_back(0x5A);
  CHECK(host.send(id, 0, bytes, Delivery::kReliable) == volley::SendResult::kTooLarge);
}

TEST_CASE("host options: max_connections 1..4095, channels 1..255, packet and waiting limits >= 1, the values past them refused") {
  const auto refusal = [](const vc::HostOptions& options) -> std::string {
    try {
      vc::Host host(options);
      return {};
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  };
  const std::string out_of_range = "volley::client: HostOptions out of range: max_connections must be 1..4095, "
                                   "channels 1..255, max_packet_size and max_waiting_data at least 1";
  vc::HostOptions options;
  options.max_connections = 4095;  // ENET_PROTOCOL_MAXIMUM_PEER_ID
  CHECK(refusal(options).empty());
  options.max_connections = 4096;
  CHECK(refusal(options) == out_of_range);
  options.max_connections = 0;
  CHECK(refusal(options) == out_of_range);
  options = {};
  options.channels = 255;
  CHECK(refusal(options).empty());
  options.channels = 256;
  CHECK(refusal(options) == out_of_range);
  options.channels = 0;
  CHECK(refusal(options) == out_of_range);
  options = {};
  options.max_packet_size = 1;
  options.max_waiting_data = 1;
  CHECK(refusal(options).empty());
  options.max_packet_size = 0;
  CHECK(refusal(options) == out_of_range);
  options.max_packet_size = 1;
  options.max_waiting_data = 0;
  CHECK(refusal(options) == out_of_range);
}

TEST_CASE("stock enet: checksum and range coder interoperate when both ends agree") {
  struct Case {
    bool checksum, range_coder;
  };
  for (const Case c : {Case{true, false}, Case{false, true}, Case{true, true}}) {
    CAPTURE(c.checksum);
    CAPTURE(c.range_coder);
    StockServer::Options server_options;
    server_options.checksum = c.checksum;
    server_options.range_coder = c.range_coder;
    StockServer server(server_options);
    vc::HostOptions options;
    options.checksum = c.checksum;
    options.range_coder = c.range_coder;
    vc::Host host(options);
    ClientLog log;
    const vc::ConnectionId id = connect_ok(host, log, server);
    const std::vector<std::uint8_t> text(1000, 'a');  // compressible
    REQUIRE(host.send(id, 0, text, Delivery::kReliable) == volley::SendResult::kOk);
    REQUIRE(pump(host, log, &server, [&] { return server_count(server, ENET_EVENT_TYPE_RECEIVE) == 1; }));
    server.send(server.last_connected(), 1, ENET_PACKET_FLAG_RELIABLE, text);
    REQUIRE(pump(host, log, &server, [&] { return log.find(vc::EventType::kReceived, id) != nullptr; }));
    CHECK(log.find(vc::EventType::kReceived, id)->bytes == text);
    if (c.range_coder) {
      // The datagrams really were compressed: far fewer bytes than the payload went out.
      CHECK(host.stats(id)->bytes_out == 1000);
      CHECK(server.host()->totalReceivedData < 600);
    }
  }
}

TEST_CASE("stock enet: a checksum on one end only never connects") {
  StockServer server;  // no checksum
  vc::HostOptions options;
  options.checksum = true;
  options.connect_timeout = 500 * volley::kMillisecond;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectResult result = host.connect(server.address());
  REQUIRE(result);
  REQUIRE(pump(host, log, &server, [&] {
    return log.find(vc::EventType::kDisconnected, result.connection) != nullptr;
  }));
  CHECK(log.find(vc::EventType::kConnected, result.connection) == nullptr);
  CHECK(log.find(vc::EventType::kDisconnected, result.connection)->reason ==
        DisconnectReason::kTimeout);
  CHECK(server_count(server, ENET_EVENT_TYPE_CONNECT) == 0);
}

// HostOptions::max_packet_size is libenet's maximumPacketSize on the client's ENetHost: a stock
// server's packets over it are never delivered, the connection carries on as libenet makes it
// (an unreliable one is simply lost; a reliable one is never acknowledged, so the server times
// the connection out), and a packet of exactly the limit arrives. Each refusal is counted.
TEST_CASE("stock enet: packets from the server over HostOptions::max_packet_size are dropped and counted") {
  vc::HostOptions options;
  options.channels = 4;
  options.max_packet_size = 10'000;
  Session s(options);
  const auto received = [&](std::size_t size) {
    for (const auto& e : s.log.events) {
      if (e.type == vc::EventType::kReceived && e.bytes.size() == size) return true;
    }
    return false;
  };
  s.server.send(s.connection.peer, 1, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, pattern(10'001, 1));  // over: lost
  s.server.send(s.connection.peer, 1, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, pattern(10'000, 2));  // the limit
  s.server.send(s.connection.peer, 0, ENET_PACKET_FLAG_RELIABLE, pattern(9'000, 3));
  REQUIRE(pump(s.host, s.log, &s.server, [&] { return received(10'000) && received(9'000); }));
  CHECK_FALSE(received(10'001));
  CHECK(s.host.connected(s.connection.id));
  // Each fragment of the over-size packet is one refused command (8 of at most 1,400 bytes).
  CHECK(s.host.stats(s.connection.id)->dropped_oversize >= 1);
  CHECK(s.host.stats(s.connection.id)->dropped_oversize <= 8);
  const std::uint64_t after_unreliable = s.host.stats(s.connection.id)->dropped_oversize;

  // A reliable packet over the limit: never acknowledged, resent; the server gives up on us.
  enet_peer_timeout(s.connection.peer, 1, 500, 1000);
  s.server.send(s.connection.peer, 0, ENET_PACKET_FLAG_RELIABLE, pattern(10'001, 4));
  REQUIRE(pump(s.host, s.log, &s.server, [&] {
    for (const auto& e : s.server.events) {
      if (e.type == ENET_EVENT_TYPE_DISCONNECT) return true;
    }
    return false;
  }, std::chrono::seconds(10)));
  CHECK_FALSE(received(10'001));
  CHECK(s.host.stats(s.connection.id)->dropped_oversize > after_unreliable);  // its resends, counted again
}

// HostOptions::max_waiting_data is libenet's maximumWaitingData: while the packets poll() has not
// taken reach it, libenet refuses new ones (a reliable one is resent and arrives later).
TEST_CASE("stock enet: past HostOptions::max_waiting_data new packets wait for the server's resend, counted") {
  vc::HostOptions options;
  options.max_waiting_data = 3'000;
  Session s(options);
  // Ten reliable packets of 1,000 bytes reach the socket before the client polls: libenet takes
  // three (the check is before each one: 0, 1,000, 2,000 < 3,000), the rest come resent.
  for (std::uint8_t i = 0; i < 10; ++i) s.server.send(s.connection.peer, 0, ENET_PACKET_FLAG_RELIABLE, pattern(1'000, i));
  enet_host_flush(s.server.host());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(pump(s.host, s.log, &s.server, [&] { return s.log.count(vc::EventType::kReceived, s.connection.id) == 10; },
               std::chrono::seconds(10)));
  std::uint8_t i = 0;
  for (const auto& e : s.log.events) {
    if (e.type == vc::EventType::kReceived) CHECK(e.bytes == pattern(1'000, i++));  // in order
  }
  CHECK(s.host.stats(s.connection.id)->waiting_limit_datagrams >= 1);
}

// poll() ends a drain after HostOptions::max_events_per_drain events: a server flooding the
// client cannot keep `while (host.poll(event))` going; what is left comes in the next drains.
TEST_CASE("stock enet: a flood is drained at most max_events_per_drain events at a time, nothing lost") {
  vc::HostOptions options;
  options.max_events_per_drain = 300;
  Session s(options);
  CHECK(vc::HostOptions{}.max_events_per_drain == 2048);
  constexpr std::uint32_t kPackets = 2000;
  for (std::uint32_t n = 0; n < kPackets; ++n) {
    std::vector<std::uint8_t> bytes(4);
    std::memcpy(bytes.data(), &n, 4);
    s.server.send(s.connection.peer, 0, ENET_PACKET_FLAG_RELIABLE, bytes);
  }
  enet_host_flush(s.server.host());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all of it in the socket
  std::vector<std::size_t> drains;
  std::uint32_t next = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (next < kPackets && drains.size() < 1000 && std::chrono::steady_clock::now() < deadline) {
    s.server.service();
    std::size_t events = 0;
    vc::Event event;
    for (int guard = 0; guard < 100'000 && s.host.poll(event); ++guard) {
      ++events;
      if (event.type != vc::EventType::kReceived) continue;
      std::uint32_t n = 0;
      REQUIRE(event.bytes.size() == 4);
      std::memcpy(&n, event.bytes.data(), 4);
      CHECK(n == next);
      ++next;
    }
    drains.push_back(events);
  }
  CHECK(next == kPackets);
  REQUIRE_FALSE(drains.empty());
  CHECK(drains.front() == 300);  // the socket held them all: the first drain was cut
  for (const std::size_t d : drains) CHECK(d <= 300);
  CHECK(s.host.counters().drains_cut >= kPackets / 300);
}
