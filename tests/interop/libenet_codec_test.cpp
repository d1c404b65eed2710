// Golden interop for the wire codec: a stock libenet 1.3.17 client (linked into this test)
// connects to a raw UDP socket the test owns on 127.0.0.1. The test decodes what the client
// sends with Volley's decoder and answers with datagrams built by Volley's encoder, so both
// directions are checked against the real library, not against our reading of it:
//  - the CONNECT decodes to exactly what the client was configured with;
//  - libenet accepts our VERIFY_CONNECT (it raises CONNECT) and our ACKs (it raises DISCONNECT
//    only once our ACK of its DISCONNECT arrives);
//  - every delivery kind the client sends decodes with the right fields and bytes;
//  - the same with host->checksum = enet_crc32 (our CRC verifies theirs, theirs accepts ours) and
//    with the range coder (we decode their compressed datagrams, they decode ours).
#include <doctest/doctest.h>
#include <enet/enet.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>

#include "support/udp_socket.hpp"
#include "volley/protocol/datagram.hpp"

using namespace volley::protocol;

namespace {

enum class Mode { kPlain, kChecksum, kRangeCoder };

struct EnetLibrary {
  EnetLibrary() { REQUIRE(enet_initialize() == 0); }
  ~EnetLibrary() { enet_deinitialize(); }
};

struct Received {
  Header header;
  std::vector<Command> commands;
  std::vector<std::vector<std::uint8_t>> payload_copies;  // keeps payload spans valid
};

// Plays the server side by hand with Volley's codec.
class HandServer {
 public:
  explicit HandServer(Mode mode) : mode_(mode) {}

  std::uint16_t port() const { return socket_.port(); }
  bool checksum() const { return mode_ == Mode::kChecksum; }
  bool compression() const { return mode_ == Mode::kRangeCoder; }

  // Receives one datagram while servicing the client, decodes it fully.
  std::optional<Received> receive(ENetHost* client, std::vector<ENetEvent>& events, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      ENetEvent event;
      while (enet_host_service(client, &event, 0) > 0) events.push_back(event);
      auto d = socket_.receive(5);
      if (!d) continue;
      client_addr_ = d->from;
      client_addr_len_ = d->from_len;
      return decode(d->bytes);
    }
    return std::nullopt;
  }

  std::optional<Received> decode(const std::vector<std::uint8_t>& bytes) {
    std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
    const auto opened = open_datagram(bytes, OpenOptions{checksum(), compression()}, connect_id_, scratch);
    REQUIRE_MESSAGE(opened.ok(), "open_datagram: ", decode_error_name(opened.error));
    last_compressed_ = opened.value->view.header.compressed;
    Received r;
    r.header = opened.value->view.header;
    // Copy the command bytes: the scratch buffer dies with this frame.
    r.payload_copies.emplace_back(opened.value->commands.begin(), opened.value->commands.end());
    CommandReader reader(r.payload_copies.back(), r.header.peer_id == kMaxPeerId);
    Command c;
    while (reader.next(c)) r.commands.push_back(c);
    REQUIRE_MESSAGE(!reader.error(), "command stream: ", decode_error_name(*reader.error()));
    return r;
  }

  void set_connect_id(ChecksumSeed id) { connect_id_ = id; }
  bool last_compressed() const { return last_compressed_; }

  // Encodes and sends one datagram to the client; returns whether compression was applied.
  bool send(std::uint16_t client_peer_id, const std::vector<Command>& commands, bool with_sent_time) {
    std::array<std::uint8_t, kMaxMtu> out{};
    Header h;
    h.peer_id = client_peer_id;
    h.session = 0;
    if (with_sent_time) h.sent_time = clock_ms();
    std::size_t n = encode_header(h, checksum(), out);
    REQUIRE(n > 0);
    const std::size_t header_size = n - (checksum() ? kChecksumSize : 0);
    for (const auto& c : commands) {
      const std::size_t m = encode_command(c, std::span(out).subspan(n));
      REQUIRE(m > 0);
      n += m;
    }
    FinishOptions finish;
    finish.checksum = checksum();
    finish.seed = connect_id_;
    finish.compress = compression();
    n = finish_datagram(std::span(out).first(n), header_size, finish);
    socket_.send_to(std::span(out).first(n), client_addr_, client_addr_len_);
    return (out[0] & (kHeaderFlagCompressed >> 8)) != 0;
  }

  std::uint16_t last_sent_time() const { return last_sent_time_; }

 private:
  std::uint16_t clock_ms() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    last_sent_time_ = static_cast<std::uint16_t>(ms.count());
    return last_sent_time_;
  }

  Mode mode_;
  volley::test::UdpSocket socket_;
  sockaddr_storage client_addr_{};
  socklen_t client_addr_len_ = 0;
  ChecksumSeed connect_id_{};
  std::uint16_t last_sent_time_ = 0;
  bool last_compressed_ = false;
};

Command ack_for(const Command& c, std::uint16_t sent_time) {
  Command a;
  a.header.type = CommandType::kAcknowledge;
  a.header.channel = c.header.channel;
  a.header.reliable_sequence = c.header.reliable_sequence;
  a.body = Acknowledge{c.header.reliable_sequence, sent_time};
  return a;
}

std::vector<Command> acks_for(const Received& r) {
  std::vector<Command> acks;
  for (const auto& c : r.commands) {
    if (c.header.acknowledge) acks.push_back(ack_for(c, r.header.sent_time.value_or(0)));
  }
  return acks;
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + salt + (i >> 8));
  return v;
}

struct Reassembly {
  std::vector<std::uint8_t> bytes;
  std::map<std::uint32_t, bool> seen;
  std::uint32_t count = 0;
  bool complete() const { return count > 0 && seen.size() == count; }
};

void run_session(Mode mode) {
  EnetLibrary enet;
  HandServer server(mode);

  ENetHost* client = enet_host_create(nullptr, 1, 2, 0, 0);
  REQUIRE(client != nullptr);
  if (mode == Mode::kChecksum) client->checksum = enet_crc32;
  if (mode == Mode::kRangeCoder) REQUIRE(enet_host_compress_with_range_coder(client) == 0);
  ENetAddress address{};
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = server.port();
  ENetPeer* peer = enet_host_connect(client, &address, 2, 42);
  REQUIRE(peer != nullptr);
  std::vector<ENetEvent> events;

  // a. The CONNECT, field by field, against the client's own configuration.
  auto connect_dg = server.receive(client, events, 2000);
  REQUIRE(connect_dg);
  if (mode == Mode::kRangeCoder) CHECK(server.last_compressed());  // libenet compresses its CONNECT
  CHECK(connect_dg->header.peer_id == kMaxPeerId);
  CHECK(connect_dg->header.sent_time.has_value());
  REQUIRE(connect_dg->commands.size() == 1);
  const Command& cc = connect_dg->commands[0];
  CHECK(cc.header.type == CommandType::kConnect);
  CHECK(cc.header.acknowledge);
  CHECK(cc.header.channel == kPeerLevelChannel);
  CHECK(cc.header.reliable_sequence == 1);
  const Connect connect = std::get<Connect>(cc.body);
  CHECK(connect.params.outgoing_peer_id == peer->incomingPeerID);
  CHECK(connect.params.incoming_session_id == 0xFF);
  CHECK(connect.params.outgoing_session_id == 0xFF);
  CHECK(connect.params.mtu == client->mtu);
  CHECK(connect.params.mtu == kDefaultMtu);
  CHECK(connect.params.window_size == kMaxWindowSize);
  CHECK(connect.params.channel_count == 2);
  CHECK(connect.params.incoming_bandwidth == 0);
  CHECK(connect.params.outgoing_bandwidth == 0);
  CHECK(connect.params.packet_throttle_interval == peer->packetThrottleInterval);
  CHECK(connect.params.packet_throttle_acceleration == peer->packetThrottleAcceleration);
  CHECK(connect.params.packet_throttle_deceleration == peer->packetThrottleDeceleration);
  ChecksumSeed raw_id{};
  std::memcpy(raw_id.data(), &peer->connectID, 4);
  CHECK(connect.params.connect_id == raw_id);
  CHECK(connect.data == 42);
  server.set_connect_id(connect.params.connect_id);

  // b. Our VERIFY_CONNECT; the client must raise CONNECT.
  constexpr std::uint16_t kServerSlot = 7;
  Command verify;
  verify.header = {CommandType::kVerifyConnect, true, false, kPeerLevelChannel, 1};
  VerifyConnect v{connect.params};
  v.params.outgoing_peer_id = kServerSlot;
  v.params.incoming_session_id = 0;
  v.params.outgoing_session_id = 0;
  verify.body = v;
  const bool verify_compressed = server.send(connect.params.outgoing_peer_id, {verify}, true);
  if (mode == Mode::kRangeCoder) CHECK(verify_compressed);  // proves libenet decoded our coder
  const std::uint16_t verify_sent_time = server.last_sent_time();

  bool connected = false;
  for (int i = 0; i < 200 && !connected; ++i) {
    auto r = server.receive(client, events, 10);
    if (r) {
      // The client acks our VERIFY_CONNECT and echoes our sent time exactly.
      for (const auto& c : r->commands) {
        if (c.header.type == CommandType::kAcknowledge && c.header.channel == kPeerLevelChannel &&
            std::get<Acknowledge>(c.body).received_reliable_sequence == 1) {
          CHECK(std::get<Acknowledge>(c.body).received_sent_time == verify_sent_time);
        }
      }
      const auto acks = acks_for(*r);
      if (!acks.empty()) server.send(connect.params.outgoing_peer_id, acks, false);
    }
    for (const auto& e : events) connected |= e.type == ENET_EVENT_TYPE_CONNECT;
  }
  REQUIRE(connected);
  CHECK(peer->outgoingPeerID == kServerSlot);
  CHECK(peer->state == ENET_PEER_STATE_CONNECTED);

  // Every delivery kind from the client decodes with the right fields and bytes.
  const std::string hello = "hello, volley";
  const auto big_reliable = pattern(3000, 1);
  const auto big_unreliable = pattern(3000, 2);
  enet_peer_send(peer, 0, enet_packet_create(hello.data(), hello.size(), ENET_PACKET_FLAG_RELIABLE));
  enet_peer_send(peer, 1, enet_packet_create("abc", 3, 0));
  enet_peer_send(peer, 1, enet_packet_create("xy", 2, ENET_PACKET_FLAG_UNSEQUENCED));
  enet_peer_send(peer, 0, enet_packet_create(big_reliable.data(), big_reliable.size(), ENET_PACKET_FLAG_RELIABLE));
  enet_peer_send(peer, 1, enet_packet_create(big_unreliable.data(), big_unreliable.size(),
                                             ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT));
  enet_host_flush(client);

  bool got_reliable = false, got_unreliable = false, got_unsequenced = false;
  Reassembly reliable_frag, unreliable_frag;
  reliable_frag.bytes.resize(3000);
  unreliable_frag.bytes.resize(3000);
  const auto collect_fragment = [](Reassembly& r, const SendFragment& f) {
    r.count = f.fragment_count;
    CHECK(f.total_length == 3000);
    REQUIRE(f.fragment_offset + f.payload.size() <= r.bytes.size());
    std::memcpy(r.bytes.data() + f.fragment_offset, f.payload.data(), f.payload.size());
    r.seen[f.fragment_number] = true;
  };
  for (int i = 0; i < 300; ++i) {
    if (got_reliable && got_unreliable && got_unsequenced && reliable_frag.complete() &&
        unreliable_frag.complete()) {
      break;
    }
    auto r = server.receive(client, events, 10);
    if (!r) continue;
    CHECK(r->header.peer_id == kServerSlot);
    for (const auto& c : r->commands) {
      switch (c.header.type) {
        case CommandType::kSendReliable: {
          const auto& p = std::get<SendReliable>(c.body).payload;
          CHECK(c.header.channel == 0);
          CHECK(std::string(p.begin(), p.end()) == hello);
          got_reliable = true;
          break;
        }
        case CommandType::kSendUnreliable: {
          const auto& u = std::get<SendUnreliable>(c.body);
          CHECK(c.header.channel == 1);
          CHECK(u.unreliable_sequence == 1);
          CHECK(std::string(u.payload.begin(), u.payload.end()) == "abc");
          got_unreliable = true;
          break;
        }
        case CommandType::kSendUnsequenced: {
          const auto& u = std::get<SendUnsequenced>(c.body);
          CHECK(c.header.channel == 1);
          CHECK(u.unsequenced_group == 1);
          CHECK(std::string(u.payload.begin(), u.payload.end()) == "xy");
          got_unsequenced = true;
          break;
        }
        case CommandType::kSendFragment:
          CHECK(c.header.channel == 0);
          CHECK(c.header.acknowledge);
          collect_fragment(reliable_frag, std::get<SendFragment>(c.body));
          break;
        case CommandType::kSendUnreliableFragment:
          CHECK(c.header.channel == 1);
          CHECK_FALSE(c.header.acknowledge);
          collect_fragment(unreliable_frag, std::get<SendFragment>(c.body));
          break;
        default:
          break;
      }
    }
    const auto acks = acks_for(*r);
    if (!acks.empty()) server.send(connect.params.outgoing_peer_id, acks, false);
  }
  CHECK(got_reliable);
  CHECK(got_unreliable);
  CHECK(got_unsequenced);
  REQUIRE(reliable_frag.complete());
  REQUIRE(unreliable_frag.complete());
  CHECK(reliable_frag.bytes == big_reliable);
  CHECK(unreliable_frag.bytes == big_unreliable);

  // The DISCONNECT decodes with its data word; the client raises DISCONNECT only after our ACK.
  enet_peer_disconnect(peer, 7);
  bool disconnected = false, saw_disconnect = false;
  for (int i = 0; i < 300 && !disconnected; ++i) {
    auto r = server.receive(client, events, 10);
    if (r) {
      for (const auto& c : r->commands) {
        if (c.header.type == CommandType::kDisconnect) {
          CHECK(std::get<Disconnect>(c.body).data == 7);
          CHECK(c.header.acknowledge);
          saw_disconnect = true;
        }
      }
      // Acks for the DISCONNECT go first, as a 1.3.17 peer in DISCONNECTING requires.
      auto acks = acks_for(*r);
      if (!acks.empty()) server.send(connect.params.outgoing_peer_id, acks, false);
    }
    for (const auto& e : events) disconnected |= e.type == ENET_EVENT_TYPE_DISCONNECT;
  }
  CHECK(saw_disconnect);
  CHECK(disconnected);
  enet_host_destroy(client);
}

}  // namespace

TEST_CASE("golden: stock libenet client against Volley's codec, plain") { run_session(Mode::kPlain); }

TEST_CASE("golden: stock libenet client against Volley's codec, CRC32 checksum") {
  run_session(Mode::kChecksum);
}

TEST_CASE("golden: stock libenet client against Volley's codec, range coder") {
  run_session(Mode::kRangeCoder);
}
