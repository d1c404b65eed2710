// Golden behaviour against stock libenet 1.3.17, in this process, over real UDP sockets on
// 127.0.0.1: our client-role Peer against an enet_host_create server, and our server-role Peer
// against an enet_host_connect client. Every delivery kind (reliable, unreliable, unsequenced,
// reliable fragments, unreliable fragments, empty packets) goes out and is echoed back with the
// same kind; the connect and disconnect data words must survive. Each case runs in plain, CRC
// (host->checksum = enet_crc32), range-coder and CRC + range-coder modes. The socket shim below
// is test code only: plain non-blocking POSIX UDP, bounded by a wall-clock limit per case.
#include <arpa/inet.h>
#include <enet/enet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "volley/protocol/peer.hpp"

using namespace volley::protocol;

namespace {

TimePoint wall_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct EnetLibrary {
  EnetLibrary() { enet_initialize(); }
  ~EnetLibrary() { enet_deinitialize(); }
};
const EnetLibrary& enet_library() {
  static EnetLibrary library;
  return library;
}

class UdpSocket {
 public:
  UdpSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~UdpSocket() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  void send_to(std::uint16_t port, Bytes bytes) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // Next datagram and its source port, if any.
  std::optional<std::pair<std::size_t, std::uint16_t>> receive(MutableBytes buf) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return std::nullopt;
    return std::pair{static_cast<std::size_t>(n), ntohs(from.sin_port)};
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

struct Mode {
  const char* name;
  bool checksum;
  bool compress;
};
constexpr Mode kModes[] = {{"plain", false, false},
                           {"crc32", true, false},
                           {"range coder", false, true},
                           {"crc32 + range coder", true, true}};

void configure(ENetHost* host, const Mode& mode) {
  if (mode.checksum) host->checksum = enet_crc32;
  if (mode.compress) REQUIRE(enet_host_compress_with_range_coder(host) == 0);
}

PeerConfig config_for(const Mode& mode) {
  PeerConfig c = PeerConfig::server_defaults();
  c.checksum = mode.checksum;
  c.compress = mode.compress;
  return c;
}

std::vector<std::uint8_t> payload(std::size_t size, std::uint8_t salt) {
  std::vector<std::uint8_t> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + salt + (i >> 8));
  return v;
}

struct Send {
  PacketFlags flags;
  std::size_t size;
  Delivery echoed_as;  // the kind our Peer sees the echo arrive as
};

// The libenet range coder crashes on an empty packet it sends itself (enet-protocol.md 13), so
// empty packets are exchanged only without compression.
std::vector<Send> sends_for(const Mode& mode) {
  std::vector<Send> s{{PacketFlags::kReliable, 100, Delivery::kReliable},
                      {PacketFlags::kUnreliable, 100, Delivery::kUnreliable},
                      {PacketFlags::kUnsequenced, 100, Delivery::kUnsequenced},
                      {PacketFlags::kReliable, 10000, Delivery::kReliable},
                      {PacketFlags::kUnreliableFragment, 10000, Delivery::kUnreliableFragment},
                      {PacketFlags::kUnreliable, 3000, Delivery::kReliable}};
  if (!mode.compress) s.push_back({PacketFlags::kReliable, 0, Delivery::kReliable});
  return s;
}

PacketFlags flags_for(Delivery d) {
  switch (d) {
    case Delivery::kReliable: return PacketFlags::kReliable;
    case Delivery::kUnsequenced: return PacketFlags::kUnsequenced;
    case Delivery::kUnreliableFragment: return PacketFlags::kUnreliableFragment;
    default: return PacketFlags::kUnreliable;
  }
}

// Pumps our Peer over the socket: inbound datagrams, timers, all output, then events.
// A server learns the remote port from the CONNECT, as a Host records a slot's address.
void pump(Peer& peer, UdpSocket& socket, std::optional<std::uint16_t>& remote_port,
          const std::function<void(const PeerEvent&)>& on_event, const PeerConfig& config,
          const std::function<bool()>& drop = nullptr) {
  std::array<std::uint8_t, 65536> buf{};
  const TimePoint now = wall_now();
  while (auto got = socket.receive(buf)) {
    const Bytes datagram(buf.data(), got->first);
    if (peer.role() == PeerRole::kServer && peer.state() == PeerState::kDisconnected) {
      if (!peek_connect(datagram, config)) continue;
      remote_port = got->second;
    }
    if (got->second != remote_port) continue;  // the address check a Host performs
    if (drop && drop()) continue;
    peer.on_datagram(now, datagram);
  }
  peer.on_deadline(now);
  while (remote_port) {
    const std::size_t n = peer.poll_datagram(now, MutableBytes(buf.data(), kMaxMtu));
    if (n == 0) break;
    if (drop && drop()) continue;
    socket.send_to(*remote_port, Bytes(buf.data(), n));
  }
  while (auto event = peer.poll_event()) on_event(*event);
}

std::string drop_summary(const Counters& counters) {
  std::string out;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto name = counter_name(static_cast<Counter>(i));
    const std::uint64_t value = counters[static_cast<Counter>(i)];
    if (name.starts_with("drop_") && value > 0) out += std::string(name) + "=" + std::to_string(value) + " ";
  }
  return out;
}

// Drops other than retransmitted duplicates (which loopback timing can legitimately cause).
std::uint64_t unexpected_drops(const Counters& c) {
  return c.drops() - c[Counter::kDropDuplicate] - c[Counter::kDropOutsideWindow] - c[Counter::kDropStaleUnreliable];
}

bool wait_for(const std::function<void()>& step, const std::function<bool()>& done, int seconds = 10) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < limit) {
    step();
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return false;
}

}  // namespace

TEST_CASE("golden: our client-role Peer against a stock libenet server, every delivery kind") {
  enet_library();
  for (const Mode& mode : kModes) {
    const std::string mode_name = mode.name;
    CAPTURE(mode_name);
    ENetAddress address{};
    enet_address_set_host_ip(&address, "127.0.0.1");
    address.port = 0;
    ENetHost* server = enet_host_create(&address, 4, 3, 0, 0);
    REQUIRE(server != nullptr);
    configure(server, mode);
    const std::uint16_t server_port = server->address.port;

    std::optional<std::uint32_t> server_connect_data, server_disconnect_data;
    auto service_enet = [&] {
      ENetEvent event;
      while (enet_host_service(server, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_CONNECT) server_connect_data = event.data;
        if (event.type == ENET_EVENT_TYPE_DISCONNECT) server_disconnect_data = event.data;
        if (event.type == ENET_EVENT_TYPE_RECEIVE) {
          const std::uint32_t flags = event.packet->flags &
              (ENET_PACKET_FLAG_RELIABLE | ENET_PACKET_FLAG_UNSEQUENCED | ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT);
          ENetPacket* echo = enet_packet_create(event.packet->data, event.packet->dataLength, flags);
          enet_peer_send(event.peer, event.channelID, echo);
          enet_packet_destroy(event.packet);
        }
      }
    };

    const PeerConfig config = config_for(mode);
    UdpSocket socket;
    Peer client(PeerRole::kClient, 0, config);
    std::vector<PeerEvent> events;
    std::optional<std::uint16_t> remote_port = server_port;
    auto step = [&] {
      service_enet();
      pump(client, socket, remote_port, [&](const PeerEvent& e) { events.push_back(e); }, config);
    };
    REQUIRE(client.connect(wall_now(), 3, 0xC0FFEE, {0x12, 0x34, 0x56, 0x78}));
    REQUIRE(wait_for(step, [&] { return client.state() == PeerState::kConnected && server_connect_data; }));
    CHECK(*server_connect_data == 0xC0FFEE);

    const auto sends = sends_for(mode);
    for (std::size_t i = 0; i < sends.size(); ++i)
      REQUIRE(client.send(static_cast<std::uint8_t>(i % 3), payload(sends[i].size, static_cast<std::uint8_t>(i)),
                          sends[i].flags) == SendResult::kOk);
    auto receives = [&] {
      return std::count_if(events.begin(), events.end(),
                           [](const PeerEvent& e) { return e.type == PeerEvent::Type::kReceive; });
    };
    REQUIRE(wait_for(step, [&] { return receives() == static_cast<long>(sends.size()); }));
    for (std::size_t i = 0; i < sends.size(); ++i) {
      CAPTURE(i);
      const auto expected = payload(sends[i].size, static_cast<std::uint8_t>(i));
      const auto it = std::find_if(events.begin(), events.end(), [&](const PeerEvent& e) {
        return e.type == PeerEvent::Type::kReceive && e.payload == expected && e.channel == i % 3;
      });
      REQUIRE(it != events.end());
      CHECK(it->delivery == sends[i].echoed_as);
    }
    // Echoes still in flight after our DISCONNECT are refused as wrong-state, so count before.
    CHECK_MESSAGE(unexpected_drops(client.counters()) == 0, drop_summary(client.counters()));
    client.disconnect(77);
    REQUIRE(wait_for(step, [&] {
      return server_disconnect_data && client.state() == PeerState::kDisconnected;
    }));
    CHECK(*server_disconnect_data == 77);
    CHECK(events.back().type == PeerEvent::Type::kDisconnect);
    CHECK(events.back().reason == DisconnectReason::kLocal);
    enet_host_destroy(server);
  }
}

TEST_CASE("golden: a stock libenet client against our server-role Peer, every delivery kind") {
  enet_library();
  for (const Mode& mode : kModes) {
    const std::string mode_name = mode.name;
    CAPTURE(mode_name);
    const PeerConfig config = config_for(mode);
    UdpSocket socket;
    Peer server(PeerRole::kServer, 0, config);

    ENetHost* client = enet_host_create(nullptr, 1, 3, 0, 0);
    REQUIRE(client != nullptr);
    configure(client, mode);
    ENetAddress address{};
    enet_address_set_host_ip(&address, "127.0.0.1");
    address.port = socket.port();
    ENetPeer* peer = enet_host_connect(client, &address, 3, 4321);
    REQUIRE(peer != nullptr);

    bool client_connected = false;
    std::optional<std::uint32_t> client_disconnect_data;
    struct Echo { std::uint8_t channel; std::uint32_t flags; std::vector<std::uint8_t> data; };
    std::vector<Echo> echoes;
    auto service_enet = [&] {
      ENetEvent event;
      while (enet_host_service(client, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_CONNECT) client_connected = true;
        if (event.type == ENET_EVENT_TYPE_DISCONNECT) client_disconnect_data = event.data;
        if (event.type == ENET_EVENT_TYPE_RECEIVE) {
          echoes.push_back({event.channelID, event.packet->flags,
                            {event.packet->data, event.packet->data + event.packet->dataLength}});
          enet_packet_destroy(event.packet);
        }
      }
    };
    std::vector<PeerEvent> events;
    std::optional<std::uint16_t> client_port;
    auto step = [&] {
      service_enet();
      pump(server, socket, client_port, [&](const PeerEvent& e) {
        events.push_back(e);
        if (e.type == PeerEvent::Type::kReceive)
          server.send(e.channel, e.payload, flags_for(e.delivery));
      }, config);
    };
    REQUIRE(wait_for(step, [&] { return client_connected && server.state() == PeerState::kConnected; }));
    REQUIRE(!events.empty());
    CHECK(events.front().type == PeerEvent::Type::kConnect);
    CHECK(events.front().data == 4321);

    struct EnetSend { std::uint32_t flags; std::size_t size; std::uint32_t echoed_flags; };
    std::vector<EnetSend> sends{{ENET_PACKET_FLAG_RELIABLE, 100, ENET_PACKET_FLAG_RELIABLE},
                                {0, 100, 0},
                                {ENET_PACKET_FLAG_UNSEQUENCED, 100, ENET_PACKET_FLAG_UNSEQUENCED},
                                {ENET_PACKET_FLAG_RELIABLE, 10000, ENET_PACKET_FLAG_RELIABLE},
                                {ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, 10000, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT},
                                {0, 3000, ENET_PACKET_FLAG_RELIABLE}};
    if (!mode.compress) sends.push_back({ENET_PACKET_FLAG_RELIABLE, 0, ENET_PACKET_FLAG_RELIABLE});
    for (std::size_t i = 0; i < sends.size(); ++i) {
      const auto data = payload(sends[i].size, static_cast<std::uint8_t>(i + 50));
      ENetPacket* packet = enet_packet_create(data.data(), data.size(), sends[i].flags);
      REQUIRE(enet_peer_send(peer, static_cast<std::uint8_t>(i % 3), packet) == 0);
    }
    REQUIRE(wait_for(step, [&] { return echoes.size() == sends.size(); }));
    for (std::size_t i = 0; i < sends.size(); ++i) {
      CAPTURE(i);
      const auto expected = payload(sends[i].size, static_cast<std::uint8_t>(i + 50));
      const auto it = std::find_if(echoes.begin(), echoes.end(), [&](const Echo& e) {
        return e.data == expected && e.channel == i % 3;
      });
      REQUIRE(it != echoes.end());
      const std::uint32_t kinds = ENET_PACKET_FLAG_RELIABLE | ENET_PACKET_FLAG_UNSEQUENCED | ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT;
      CHECK((it->flags & kinds) == sends[i].echoed_flags);
    }
    // Let the client's BANDWIDTH_LIMIT (sent about 1 s after connecting) arrive and be acked.
    const auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(1300);
    wait_for(step, [&] { return std::chrono::steady_clock::now() > settle; });
    CHECK(server.state() == PeerState::kConnected);
    enet_peer_disconnect(peer, 7);
    REQUIRE(wait_for(step, [&] { return client_disconnect_data.has_value() && server.state() == PeerState::kDisconnected; }));
    CHECK(events.back().type == PeerEvent::Type::kDisconnect);
    CHECK(events.back().data == 7);
    CHECK(events.back().reason == DisconnectReason::kRemote);
    CHECK_MESSAGE(unexpected_drops(server.counters()) == 0, drop_summary(server.counters()));
    enet_host_destroy(client);
  }
}

TEST_CASE("golden: our server disconnects a stock libenet client with a data word - disconnect_now too") {
  enet_library();
  for (bool now : {false, true}) {
    CAPTURE(now);
    const PeerConfig config = PeerConfig::server_defaults();
    UdpSocket socket;
    Peer server(PeerRole::kServer, 0, config);
    ENetHost* client = enet_host_create(nullptr, 1, 1, 0, 0);
    REQUIRE(client != nullptr);
    ENetAddress address{};
    enet_address_set_host_ip(&address, "127.0.0.1");
    address.port = socket.port();
    ENetPeer* peer = enet_host_connect(client, &address, 1, 0);
    REQUIRE(peer != nullptr);
    std::optional<std::uint16_t> client_port;
    bool connected = false;
    std::optional<std::uint32_t> disconnect_data;
    std::vector<PeerEvent> events;
    auto step = [&] {
      ENetEvent event;
      while (enet_host_service(client, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_CONNECT) connected = true;
        if (event.type == ENET_EVENT_TYPE_DISCONNECT) disconnect_data = event.data;
        if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
      }
      pump(server, socket, client_port, [&](const PeerEvent& e) { events.push_back(e); }, config);
    };
    REQUIRE(wait_for(step, [&] { return connected && server.state() == PeerState::kConnected; }));
    if (now) server.disconnect_now(99);
    else server.disconnect(9);
    REQUIRE(wait_for(step, [&] { return disconnect_data.has_value() && server.state() == PeerState::kDisconnected; }));
    CHECK(*disconnect_data == (now ? 99u : 9u));
    enet_host_destroy(client);
  }
}

TEST_CASE("golden: fast refusal (3.5) ends a stock libenet client's CONNECT with the reason") {
  enet_library();
  for (const Mode& mode : kModes) {
    const std::string mode_name = mode.name;
    CAPTURE(mode_name);
    const PeerConfig config = config_for(mode);
    UdpSocket socket;
    ENetHost* client = enet_host_create(nullptr, 1, 1, 0, 0);
    REQUIRE(client != nullptr);
    configure(client, mode);
    ENetAddress address{};
    enet_address_set_host_ip(&address, "127.0.0.1");
    address.port = socket.port();
    REQUIRE(enet_host_connect(client, &address, 1, 0) != nullptr);
    std::optional<std::uint32_t> refused;
    bool answered = false;
    auto step = [&] {
      ENetEvent event;
      while (enet_host_service(client, &event, 0) > 0)
        if (event.type == ENET_EVENT_TYPE_DISCONNECT) refused = event.data;
      std::array<std::uint8_t, 65536> buf{};
      while (auto got = socket.receive(buf)) {
        const auto request = peek_connect(Bytes(buf.data(), got->first), config);
        if (!request || answered) continue;
        std::array<std::uint8_t, kMaxMtu> out{};
        const std::size_t n = encode_refusal(*request, 0xFULL, config, out);
        REQUIRE(n > 0);
        socket.send_to(got->second, Bytes(out.data(), n));
        answered = true;
      }
    };
    REQUIRE(wait_for(step, [&] { return refused.has_value(); }, 5));
    CHECK(*refused == 0xF);
    enet_host_destroy(client);
  }
}

TEST_CASE("golden: reliable data survives 10% loss each way between our Peer and libenet, both roles") {
  enet_library();
  for (const bool we_are_client : {true, false}) {
    CAPTURE(we_are_client);
    std::mt19937_64 rng(we_are_client ? 17 : 23);
    std::function<bool()> drop = [&] { return rng() % 10 == 0; };
    const PeerConfig config = PeerConfig::server_defaults();
    UdpSocket socket;
    ENetAddress address{};
    enet_address_set_host_ip(&address, "127.0.0.1");
    address.port = we_are_client ? 0 : socket.port();
    ENetHost* host = we_are_client ? enet_host_create(&address, 1, 2, 0, 0) : enet_host_create(nullptr, 1, 2, 0, 0);
    REQUIRE(host != nullptr);
    std::optional<std::uint16_t> remote_port;
    if (we_are_client) remote_port = host->address.port;
    Peer ours(we_are_client ? PeerRole::kClient : PeerRole::kServer, 0, config);
    ENetPeer* theirs = nullptr;
    if (we_are_client) ours.connect(wall_now(), 2, 0, {5, 6, 7, 8});
    else theirs = enet_host_connect(host, &address, 2, 0);
    std::vector<std::vector<std::uint8_t>> enet_received, ours_received;
    bool enet_connected = false;
    auto step = [&] {
      ENetEvent event;
      while (enet_host_service(host, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_CONNECT) { enet_connected = true; theirs = event.peer; }
        if (event.type == ENET_EVENT_TYPE_RECEIVE) {
          enet_received.emplace_back(event.packet->data, event.packet->data + event.packet->dataLength);
          enet_packet_destroy(event.packet);
        }
      }
      pump(ours, socket, remote_port, [&](const PeerEvent& e) {
        if (e.type == PeerEvent::Type::kReceive) ours_received.push_back(e.payload);
      }, config, drop);
    };
    REQUIRE(wait_for(step, [&] { return enet_connected && ours.state() == PeerState::kConnected; }, 20));
    constexpr int kPackets = 150;
    for (int i = 0; i < kPackets; ++i) {
      const auto data = payload(i % 15 == 0 ? 5000 : 50 + i, static_cast<std::uint8_t>(i));
      REQUIRE(ours.send(static_cast<std::uint8_t>(i % 2), data, PacketFlags::kReliable) == SendResult::kOk);
      REQUIRE(enet_peer_send(theirs, static_cast<std::uint8_t>(i % 2),
                             enet_packet_create(data.data(), data.size(), ENET_PACKET_FLAG_RELIABLE)) == 0);
    }
    REQUIRE(wait_for(step, [&] {
      return enet_received.size() == kPackets && ours_received.size() == kPackets;
    }, 30));
    // In order per channel on both sides.
    for (auto* got : {&enet_received, &ours_received}) {
      std::vector<int> order[2];
      for (const auto& data : *got)
        for (int i = 0; i < kPackets; ++i)
          if (data == payload(i % 15 == 0 ? 5000 : 50 + i, static_cast<std::uint8_t>(i))) order[i % 2].push_back(i);
      for (int ch = 0; ch < 2; ++ch) {
        CHECK(order[ch].size() == kPackets / 2);
        CHECK(std::is_sorted(order[ch].begin(), order[ch].end()));
      }
    }
    enet_host_destroy(host);
  }
}
