// Shared pieces of the volley-server interop tests: start `volley-server --mode echo` as a child
// process (support/server_process.hpp) and stop it with its stats JSON; stock libenet 1.3.17
// client hosts with event collection; payload patterns that identify themselves, so an echo can be
// checked byte for byte and matched to what was sent. All waits are bounded by real-time limits
// far above what loopback needs (sanitizer builds are several times slower).
#pragma once

#include <enet/enet.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "support/server_process.hpp"
#include "support/udp_socket.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::interop {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// enet_initialize/deinitialize around a test (they only count on Unix; nesting is fine).
struct EnetLibrary {
  EnetLibrary();
  ~EnetLibrary();
};

// volley-server --mode echo --bind BIND --port 0 --stats-json <temp> EXTRA...
class EchoServer {
 public:
  explicit EchoServer(std::vector<std::string> extra = {}, std::string bind = "127.0.0.1");
  ~EchoServer();
  std::uint16_t port() const { return process_->port(); }
  test::ServerProcess& process() { return *process_; }
  bool running() { return process_->running(); }
  // SIGINT (the prompt stop) and the bounded wait; REQUIREs exit code 0 and a parsable stats object with every
  // contract key, and returns it.
  test::FlatJson stop_and_stats();

 private:
  std::string stats_path_;
  std::unique_ptr<test::ServerProcess> process_;
};

struct Received {
  ENetPeer* peer = nullptr;
  std::uint8_t channel = 0;
  std::uint32_t flags = 0;  // libenet marks the command kind: RELIABLE / UNSEQUENCED / UNRELIABLE_FRAGMENT / 0
  std::vector<std::uint8_t> bytes;
};

struct ClientOptions {
  std::size_t peers = 1;
  std::size_t channels = 2;
  std::uint32_t incoming_bandwidth = 0;
  std::uint32_t outgoing_bandwidth = 0;
  bool checksum = false;      // host->checksum = enet_crc32
  bool range_coder = false;   // enet_host_compress_with_range_coder
  std::uint32_t mtu = 0;      // 0 = libenet default (1400)
};

// One stock libenet host (client side) and everything its service calls produced.
class EnetClient {
 public:
  explicit EnetClient(const ClientOptions& options = {});
  ~EnetClient();
  EnetClient(const EnetClient&) = delete;
  EnetClient& operator=(const EnetClient&) = delete;

  ENetHost* host() const { return host_; }
  ENetPeer* connect(std::uint16_t port, std::uint32_t data = 0, std::size_t channels = 0);
  // One enet_host_service pass (waits up to timeout_ms for the first event), draining all events.
  void service(std::uint32_t timeout_ms = 0);
  // Services until pred() or the limit; returns pred().
  bool service_until(const std::function<bool()>& pred, std::chrono::milliseconds limit);
  // connect + wait for the CONNECT event; REQUIREs success within the limit.
  ENetPeer* connect_and_wait(std::uint16_t port, std::chrono::milliseconds limit = 20s,
                             std::uint32_t data = 0, std::size_t channels = 0);
  bool connected(ENetPeer* peer) const;
  bool disconnected(ENetPeer* peer) const;
  void send(ENetPeer* peer, std::uint8_t channel, const std::vector<std::uint8_t>& bytes, std::uint32_t flags);
  // True when every reliable command this peer sent has been acknowledged (none queued or in flight).
  static bool all_acked(ENetPeer* peer);

  std::deque<Received> received;
  std::vector<ENetPeer*> connects;
  std::vector<std::pair<ENetPeer*, std::uint32_t>> disconnects;  // peer, data
  int service_errors = 0;

 private:
  ENetHost* host_ = nullptr;
};

// Services several hosts round-robin until pred() or the limit.
bool service_all_until(const std::vector<EnetClient*>& clients, const std::function<bool()>& pred,
                       std::chrono::milliseconds limit);

// A payload of `size` bytes that starts with (tag, seq) when it has room for them, then a pattern
// derived from both: an echo can be matched to its original and checked byte for byte.
std::vector<std::uint8_t> make_payload(std::size_t size, std::uint32_t tag, std::uint32_t seq);
// The same identification, then long runs of a few byte values (range-coder friendly).
std::vector<std::uint8_t> make_compressible_payload(std::size_t size, std::uint32_t tag, std::uint32_t seq);
// (tag, seq) read back from a payload of ≥ 8 bytes.
std::pair<std::uint32_t, std::uint32_t> payload_id(const std::vector<std::uint8_t>& bytes);

// The delivery-kind bits libenet sets on a received packet.
constexpr std::uint32_t kKindMask =
    ENET_PACKET_FLAG_RELIABLE | ENET_PACKET_FLAG_UNSEQUENCED | ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT;

// Remembers what was sent, keyed by (tag, seq), and checks every echo against it: same bytes, same
// channel, the expected delivery kind, no duplicates, and reliable echoes in order per channel.
class EchoTracker {
 public:
  void sent(std::uint32_t tag, std::uint32_t seq, std::uint8_t channel, std::uint32_t expect_flags,
            const std::vector<std::uint8_t>& bytes);
  // Takes every packet out of client.received and CHECKs it.
  void absorb(EnetClient& client);
  bool got(std::uint32_t tag, std::uint32_t seq) const;
  std::size_t echoed() const { return echoed_; }
  std::size_t sent_count() const { return sent_.size(); }
  std::uint64_t echoed_bytes() const { return echoed_bytes_; }

 private:
  struct Sent {
    std::uint8_t channel;
    std::uint32_t expect_flags;
    std::vector<std::uint8_t> bytes;
    int echoes = 0;
  };
  std::map<std::pair<std::uint32_t, std::uint32_t>, Sent> sent_;
  // Reliable order holds per connection and channel: (peer, tag, channel) -> last seq.
  std::map<std::tuple<ENetPeer*, std::uint32_t, std::uint8_t>, std::uint32_t> last_reliable_seq_;
  std::size_t echoed_ = 0;
  std::uint64_t echoed_bytes_ = 0;
};

// Totals of what exercise_every_kind sent, for checking the server's stats afterwards.
struct ExerciseTotals {
  std::uint64_t packets_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t packets_echoed = 0;
};

// On channels [0, channels): a burst of reliable packets (small and fragmented, in order), then
// each unreliable kind (unreliable, unsequenced, unreliable fragment, plus unreliable and
// unsequenced packets too large for one datagram, which libenet sends as reliable fragments)
// until an echo of each comes back. Unreliable probes are resent, with a new sequence number,
// up to `attempts` rounds: loopback can still lose them to either side's throttle.
// `compressible` fills payloads with runs that the range coder actually shrinks.
ExerciseTotals exercise_every_kind(EnetClient& client, ENetPeer* peer, std::size_t channels, std::uint32_t tag,
                                   bool compressible = false, int reliable_per_channel = 4, int attempts = 30);

// Graceful client disconnect; REQUIREs the DISCONNECT event within the limit.
void disconnect_and_wait(EnetClient& client, ENetPeer* peer, std::chrono::milliseconds limit = 20s);

// The largest datagram each host received (recorded by an intercept callback).
void record_datagram_sizes(ENetHost* host);
std::size_t largest_datagram(ENetHost* host);

// The steady clock in microseconds: the time base of ProtocolClient.
volley::protocol::TimePoint now_us();

// Our client-role protocol Peer on a UDP socket bound to `host` ("::1" or "127.0.0.1"), talking
// to `server_port` on the same loopback: the IPv6 client (stock ENet is IPv4-only).
class ProtocolClient {
 public:
  ProtocolClient(const std::string& host, std::uint16_t server_port, const volley::protocol::PeerConfig& config = {});

  volley::protocol::Peer& peer() { return peer_; }
  std::vector<volley::protocol::PeerEvent> events;
  std::size_t datagrams_from_server = 0;
  std::size_t datagrams_from_elsewhere = 0;

  // Flush what the peer wants to send, wait up to wait_ms for one datagram, run timers, collect events.
  void step(int wait_ms);
  bool has(volley::protocol::PeerEvent::Type type) const;

 private:
  void flush();
  volley::test::UdpSocket socket_;
  volley::protocol::Peer peer_;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
};

// A loopback UDP relay between clients and a server that drops the datagrams `drop` picks:
// handshake loss on demand. One client at a time (replies go to the last client address).
class LossyRelay {
 public:
  enum class Direction : std::uint8_t { kToServer, kToClient };
  using Drop = std::function<bool(Direction, const std::vector<std::uint8_t>&)>;
  LossyRelay(const std::string& host, std::uint16_t server_port, Drop drop);
  std::uint16_t port() const { return client_side_.port(); }
  // Forwards (or drops) everything waiting on either side; returns how many datagrams it saw.
  std::size_t pump();
  std::size_t dropped = 0;

 private:
  volley::test::UdpSocket client_side_;
  volley::test::UdpSocket server_side_;
  sockaddr_storage server_{};
  socklen_t server_len_ = 0;
  std::optional<volley::test::UdpSocket::Datagram> last_client_;
  Drop drop_;
};

// The server executable under test (CMake passes its path).
std::string server_exe();

}  // namespace volley::interop
