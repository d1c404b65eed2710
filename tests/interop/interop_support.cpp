// Implementation of the interop test helpers (interop_support.hpp).
#include "interop/interop_support.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <span>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <cstring>
#include <thread>

namespace volley::interop {

EnetLibrary::EnetLibrary() { REQUIRE(enet_initialize() == 0); }
EnetLibrary::~EnetLibrary() { enet_deinitialize(); }

std::string server_exe() { return VOLLEY_SERVER_EXE; }

EchoServer::EchoServer(std::vector<std::string> extra, std::string bind)
    : stats_path_(test::unique_temp_path("volley-interop-stats")) {
  std::vector<std::string> args{"--mode", "echo", "--bind", bind, "--port", "0", "--stats-json", stats_path_};
  // volley-server's own default is epoll on Linux; VOLLEY_INTEROP_SERVER_BACKEND=io_uring runs
  // the suite against the io_uring backend.
  if (const char* backend = std::getenv("VOLLEY_INTEROP_SERVER_BACKEND"); backend != nullptr && *backend) {
    args.insert(args.end(), {"--backend", backend});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<test::ServerProcess>(server_exe(), args);
  MESSAGE("volley-server pid ", process_->pid(), ": ", process_->listening_line());
}

EchoServer::~EchoServer() {
  process_.reset();  // stops the child if a failed test left it running
  std::remove(stats_path_.c_str());
}

test::FlatJson EchoServer::stop_and_stats() {
  const auto started = Clock::now();
  const int code = process_->stop(30s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  INFO("stop took ", took, " ms");
  REQUIRE_MESSAGE(code == 0, "volley-server exit code ", code, " (-1 = had to SIGKILL it)");
  const auto text = test::read_file_text(stats_path_);
  REQUIRE_MESSAGE(text.has_value(), "no stats file at ", stats_path_);
  const auto json = test::FlatJson::parse(*text);
  REQUIRE_MESSAGE(json.has_value(), "stats file is not one flat JSON object: ", *text);
  for (const char* key : {"connects", "disconnects", "timeouts", "packets_in", "packets_out", "bytes_in",
                          "bytes_out", "datagrams_in", "datagrams_out", "bad_datagrams", "peers_peak",
                          "cpu_user_s", "cpu_sys_s", "backend"}) {
    CHECK_MESSAGE(json->has(key), "stats JSON lacks '", key, "': ", *text);
  }
  std::string brief;
  for (const char* key : {"connects", "disconnects", "timeouts", "packets_in", "packets_out", "bytes_in",
                          "bytes_out", "datagrams_in", "datagrams_out", "bad_datagrams", "peers_peak", "backend"}) {
    if (json->has(key)) brief += std::string(key) + "=" + json->text(key) + " ";
  }
  MESSAGE("stats: ", brief);
  // VOLLEY_INTEROP_VERBOSE=1 prints the whole object (the server's own drop counters included).
  if (const char* v = std::getenv("VOLLEY_INTEROP_VERBOSE"); v != nullptr && *v == '1') MESSAGE(*text);
  return *json;
}

EnetClient::EnetClient(const ClientOptions& options) {
  host_ = enet_host_create(nullptr, options.peers, options.channels, options.incoming_bandwidth,
                           options.outgoing_bandwidth);
  REQUIRE(host_ != nullptr);
  if (options.checksum) host_->checksum = enet_crc32;
  if (options.range_coder) REQUIRE(enet_host_compress_with_range_coder(host_) == 0);
  if (options.mtu != 0) {
    // libenet copies host->mtu into a peer only when the peer is reset (enet-protocol.md 3.1), so
    // reset the still-unused peers after changing it.
    host_->mtu = options.mtu;
    for (std::size_t i = 0; i < host_->peerCount; ++i) enet_peer_reset(&host_->peers[i]);
  }
}

EnetClient::~EnetClient() {
  for (auto& r : received) r.bytes.clear();
  if (host_ != nullptr) enet_host_destroy(host_);
}

ENetPeer* EnetClient::connect(std::uint16_t port, std::uint32_t data, std::size_t channels) {
  ENetAddress address{};
  enet_address_set_host_ip(&address, "127.0.0.1");
  address.port = port;
  ENetPeer* peer = enet_host_connect(host_, &address, channels != 0 ? channels : host_->channelLimit, data);
  // A reused peer slot must not inherit the events of its previous connection.
  std::erase(connects, peer);
  std::erase_if(disconnects, [&](const auto& d) { return d.first == peer; });
  return peer;
}

void EnetClient::service(std::uint32_t timeout_ms) {
  ENetEvent event;
  int rc = enet_host_service(host_, &event, timeout_ms);
  while (rc != 0) {
    if (rc < 0) {
      ++service_errors;
      return;
    }
    switch (event.type) {
      case ENET_EVENT_TYPE_CONNECT:
        connects.push_back(event.peer);
        break;
      case ENET_EVENT_TYPE_DISCONNECT:
        disconnects.emplace_back(event.peer, event.data);
        break;
      case ENET_EVENT_TYPE_RECEIVE: {
        Received r;
        r.peer = event.peer;
        r.channel = event.channelID;
        r.flags = event.packet->flags & kKindMask;
        r.bytes.assign(event.packet->data, event.packet->data + event.packet->dataLength);
        received.push_back(std::move(r));
        enet_packet_destroy(event.packet);
        break;
      }
      case ENET_EVENT_TYPE_NONE:
        break;
    }
    rc = enet_host_check_events(host_, &event);
  }
}

bool EnetClient::service_until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    service(1);
  }
  return true;
}

bool EnetClient::connected(ENetPeer* peer) const {
  for (auto* p : connects) {
    if (p == peer) return peer->state == ENET_PEER_STATE_CONNECTED;
  }
  return false;
}

bool EnetClient::disconnected(ENetPeer* peer) const {
  for (const auto& d : disconnects) {
    if (d.first == peer) return true;
  }
  return false;
}

ENetPeer* EnetClient::connect_and_wait(std::uint16_t port, std::chrono::milliseconds limit, std::uint32_t data,
                                       std::size_t channels) {
  ENetPeer* peer = connect(port, data, channels);
  REQUIRE(peer != nullptr);
  const bool ok = service_until([&] { return connected(peer) || disconnected(peer); }, limit);
  REQUIRE_MESSAGE(ok, "no CONNECT within ", limit.count(), " ms");
  if (!connected(peer)) {
    std::uint32_t reason = 0;
    for (const auto& d : disconnects) {
      if (d.first == peer) reason = d.second;
    }
    FAIL("the server refused or dropped the connection (DISCONNECT data ", reason, ")");
  }
  return peer;
}

void EnetClient::send(ENetPeer* peer, std::uint8_t channel, const std::vector<std::uint8_t>& bytes,
                      std::uint32_t flags) {
  ENetPacket* packet = enet_packet_create(bytes.empty() ? nullptr : bytes.data(), bytes.size(), flags);
  REQUIRE(packet != nullptr);
  REQUIRE(enet_peer_send(peer, channel, packet) == 0);
}

bool EnetClient::all_acked(ENetPeer* peer) {
  return enet_list_empty(&peer->sentReliableCommands) && enet_list_empty(&peer->outgoingCommands);
}

bool service_all_until(const std::vector<EnetClient*>& clients, const std::function<bool()>& pred,
                       std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    for (auto* c : clients) c->service(0);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

std::vector<std::uint8_t> make_payload(std::size_t size, std::uint32_t tag, std::uint32_t seq) {
  std::vector<std::uint8_t> v(size);
  std::uint32_t x = tag * 2654435761u ^ (seq + 0x9e3779b9u);
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<std::uint8_t>(x >> 24);
  }
  if (size >= 8) {
    std::memcpy(v.data(), &tag, 4);
    std::memcpy(v.data() + 4, &seq, 4);
  }
  return v;
}

std::pair<std::uint32_t, std::uint32_t> payload_id(const std::vector<std::uint8_t>& bytes) {
  std::uint32_t tag = 0;
  std::uint32_t seq = 0;
  if (bytes.size() >= 8) {
    std::memcpy(&tag, bytes.data(), 4);
    std::memcpy(&seq, bytes.data() + 4, 4);
  }
  return {tag, seq};
}

}  // namespace volley::interop

namespace volley::interop {

std::vector<std::uint8_t> make_compressible_payload(std::size_t size, std::uint32_t tag, std::uint32_t seq) {
  std::vector<std::uint8_t> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>('a' + (i / 61 + seq) % 3);
  if (size >= 8) {
    std::memcpy(v.data(), &tag, 4);
    std::memcpy(v.data() + 4, &seq, 4);
  }
  return v;
}

void EchoTracker::sent(std::uint32_t tag, std::uint32_t seq, std::uint8_t channel, std::uint32_t expect_flags,
                       const std::vector<std::uint8_t>& bytes) {
  sent_[{tag, seq}] = Sent{channel, expect_flags, bytes, 0};
}

void EchoTracker::absorb(EnetClient& client) {
  while (!client.received.empty()) {
    Received r = std::move(client.received.front());
    client.received.pop_front();
    const auto id = payload_id(r.bytes);
    const auto it = sent_.find(id);
    INFO("echo tag ", id.first, " seq ", id.second, " on channel ", int(r.channel), " flags ", r.flags,
         " size ", r.bytes.size());
    REQUIRE_MESSAGE(it != sent_.end(), "an echo that matches nothing sent");
    Sent& s = it->second;
    CHECK(r.channel == s.channel);
    CHECK(r.flags == s.expect_flags);
    CHECK_MESSAGE(r.bytes == s.bytes, "echo differs from what was sent");
    ++s.echoes;
    CHECK_MESSAGE(s.echoes == 1, "duplicate echo");
    if (s.expect_flags == ENET_PACKET_FLAG_RELIABLE) {
      // Reliable packets of one (peer, tag, channel) are sent with increasing seq: echoes must follow.
      auto [pos, fresh] = last_reliable_seq_.try_emplace({r.peer, id.first, r.channel}, id.second);
      if (!fresh) {
        CHECK_MESSAGE(id.second > pos->second, "reliable echo out of order after seq ", pos->second);
        pos->second = id.second;
      }
    }
    ++echoed_;
    echoed_bytes_ += r.bytes.size();
  }
}

bool EchoTracker::got(std::uint32_t tag, std::uint32_t seq) const {
  const auto it = sent_.find({tag, seq});
  return it != sent_.end() && it->second.echoes > 0;
}

ExerciseTotals exercise_every_kind(EnetClient& client, ENetPeer* peer, std::size_t channels, std::uint32_t tag,
                                   bool compressible, int reliable_per_channel, int attempts) {
  EchoTracker tracker;
  ExerciseTotals totals;
  const std::size_t mtu = peer->mtu;
  const std::size_t small = 64;
  const std::size_t large = 3 * mtu + 17;  // several fragments at this peer's MTU
  auto payload = [&](std::size_t size, std::uint32_t seq) {
    return compressible ? make_compressible_payload(size, tag, seq) : make_payload(size, tag, seq);
  };
  std::uint32_t seq = 0;
  auto send = [&](std::uint8_t ch, std::size_t size, std::uint32_t flags, std::uint32_t expect) {
    const std::uint32_t s = ++seq;
    const auto bytes = payload(size, s);
    tracker.sent(tag, s, ch, expect, bytes);
    client.send(peer, ch, bytes, flags);
    ++totals.packets_sent;
    totals.bytes_sent += size;
    return s;
  };

  // Reliable, small and fragmented, interleaved on each channel: in order per channel.
  std::vector<std::uint32_t> reliable;
  for (int i = 0; i < reliable_per_channel; ++i) {
    for (std::size_t ch = 0; ch < channels; ++ch) {
      const std::size_t size = (i % 2 == 0) ? small + i : large + i;
      reliable.push_back(send(static_cast<std::uint8_t>(ch), size, ENET_PACKET_FLAG_RELIABLE, ENET_PACKET_FLAG_RELIABLE));
    }
  }
  const bool all_reliable = client.service_until(
      [&] {
        tracker.absorb(client);
        for (auto s : reliable) {
          if (!tracker.got(tag, s)) return false;
        }
        return true;
      },
      30s);
  CHECK_MESSAGE(all_reliable, "reliable echoes missing after 30 s: ", tracker.echoed(), " of ", reliable.size());

  // The unreliable kinds, each on every channel, resent until echoed once.
  struct Probe {
    std::uint8_t channel;
    std::size_t size;
    std::uint32_t flags;
    std::uint32_t expect;
    const char* name;
    std::uint32_t last_seq = 0;
    bool done = false;
  };
  std::vector<Probe> probes;
  for (std::size_t ch = 0; ch < channels; ++ch) {
    const auto c = static_cast<std::uint8_t>(ch);
    probes.push_back({c, small, 0, 0, "unreliable"});
    probes.push_back({c, small, ENET_PACKET_FLAG_UNSEQUENCED, ENET_PACKET_FLAG_UNSEQUENCED, "unsequenced"});
    probes.push_back({c, large, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT,
                      "unreliable fragment"});
    // Too large for one datagram without UNRELIABLE_FRAGMENT: libenet sends these as reliable
    // fragments (88), so they come back reliable (enet-protocol.md 12).
    probes.push_back({c, large, 0, ENET_PACKET_FLAG_RELIABLE, "large unreliable (sent as 88)"});
    probes.push_back({c, large, ENET_PACKET_FLAG_UNSEQUENCED, ENET_PACKET_FLAG_RELIABLE,
                      "large unsequenced (sent as 88)"});
  }
  for (int round = 0; round < attempts; ++round) {
    bool pending = false;
    for (auto& p : probes) {
      if (p.done) continue;
      if (p.last_seq != 0 && tracker.got(tag, p.last_seq)) {
        p.done = true;
        continue;
      }
      pending = true;
      p.last_seq = send(p.channel, p.size, p.flags, p.expect);
    }
    if (!pending) break;
    client.service_until(
        [&] {
          tracker.absorb(client);
          for (auto& p : probes) {
            if (!p.done && !tracker.got(tag, p.last_seq)) return false;
          }
          return true;
        },
        round < 3 ? 1000ms : 300ms);
  }
  for (auto& p : probes) {
    if (!p.done && p.last_seq != 0 && tracker.got(tag, p.last_seq)) p.done = true;
    CHECK_MESSAGE(p.done, p.name, " on channel ", int(p.channel), " never echoed in ", attempts, " attempts");
  }
  // Let stragglers of earlier rounds arrive so the tracker checks them too.
  client.service_until([] { return false; }, 100ms);
  tracker.absorb(client);
  totals.packets_echoed = tracker.echoed();
  return totals;
}

void disconnect_and_wait(EnetClient& client, ENetPeer* peer, std::chrono::milliseconds limit) {
  enet_peer_disconnect(peer, 0);
  const bool ok = client.service_until([&] { return client.disconnected(peer); }, limit);
  REQUIRE_MESSAGE(ok, "no DISCONNECT event within ", limit.count(), " ms of enet_peer_disconnect");
}

namespace {
std::mutex g_sizes_mutex;
std::map<ENetHost*, std::size_t> g_largest;

int ENET_CALLBACK record_size(ENetHost* host, ENetEvent*) {
  const std::lock_guard lock(g_sizes_mutex);
  auto& m = g_largest[host];
  m = std::max(m, host->receivedDataLength);
  return 0;  // not intercepted: libenet processes the datagram as usual
}
}  // namespace

void record_datagram_sizes(ENetHost* host) {
  {
    const std::lock_guard lock(g_sizes_mutex);
    g_largest[host] = 0;
  }
  host->intercept = record_size;
}

std::size_t largest_datagram(ENetHost* host) {
  const std::lock_guard lock(g_sizes_mutex);
  return g_largest[host];
}

namespace vp = volley::protocol;

vp::TimePoint now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

namespace {

socklen_t loopback_address(const std::string& host, std::uint16_t port, sockaddr_storage& out) {
  out = {};
  if (host == "::1") {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    a6->sin6_addr = in6addr_loopback;
    return sizeof(sockaddr_in6);
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out);
  a4->sin_family = AF_INET;
  a4->sin_port = htons(port);
  a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(sockaddr_in);
}

}  // namespace

ProtocolClient::ProtocolClient(const std::string& host, std::uint16_t server_port, const vp::PeerConfig& config)
    : socket_(host), peer_(vp::PeerRole::kClient, 0, config) {
  server_len_ = loopback_address(host, server_port, server_);
}

void ProtocolClient::flush() {
  std::array<std::uint8_t, vp::kMaxMtu> out{};
  while (const std::size_t n = peer_.poll_datagram(now_us(), out)) {
    socket_.send_to(std::span(out).first(n), server_, server_len_);
  }
}

void ProtocolClient::step(int wait_ms) {
  flush();
  int wait = wait_ms;
  if (const auto deadline = peer_.next_deadline()) {
    const auto left_ms = (*deadline - now_us()) / 1000;
    wait = static_cast<int>(std::clamp<std::int64_t>(left_ms, 0, wait_ms));
  }
  if (auto d = socket_.receive(wait)) {
    if (d->from_len == server_len_ && std::memcmp(&d->from, &server_, server_len_) == 0) {
      ++datagrams_from_server;
      peer_.on_datagram(now_us(), d->bytes);
    } else {
      ++datagrams_from_elsewhere;
    }
  }
  if (const auto deadline = peer_.next_deadline(); deadline && *deadline <= now_us()) peer_.on_deadline(now_us());
  while (auto e = peer_.poll_event()) events.push_back(std::move(*e));
  flush();
}

bool ProtocolClient::has(vp::PeerEvent::Type type) const {
  return std::any_of(events.begin(), events.end(), [&](const auto& e) { return e.type == type; });
}

LossyRelay::LossyRelay(const std::string& host, std::uint16_t server_port, Drop drop)
    : client_side_(host), server_side_(host), drop_(std::move(drop)) {
  server_len_ = loopback_address(host, server_port, server_);
}

std::size_t LossyRelay::pump() {
  std::size_t seen = 0;
  for (bool busy = true; busy;) {
    busy = false;
    if (auto d = client_side_.receive(0)) {
      busy = true;
      ++seen;
      last_client_ = *d;
      if (drop_(Direction::kToServer, d->bytes)) ++dropped;
      else server_side_.send_to(d->bytes, server_, server_len_);
    }
    if (auto d = server_side_.receive(0)) {
      busy = true;
      ++seen;
      if (!last_client_ || drop_(Direction::kToClient, d->bytes)) ++dropped;
      else client_side_.send_to(d->bytes, last_client_->from, last_client_->from_len);
    }
  }
  return seen;
}

}  // namespace volley::interop
