// volley::server::Server: an ENet 1.3 compatible server on one UDP socket and one completion
// loop. Stock libenet clients connect to it unmodified. Create it from a Config (errors come
// back as a string, never as an exception), set callbacks, then run() on the thread that will
// own it: every callback runs on that thread, and every member except post(), stop() and
// begin_drain() must be called there (from a callback, a posted task, or before run()); destroy
// the Server only after run() has returned and every post(), stop() and begin_drain() of other
// threads has returned (a call racing with the destructor uses freed memory). Callbacks and
// posted tasks must not throw: an exception leaves run() at once, the packet being delivered is
// delivered again by the next run(), and tasks queued behind a throwing one run first in the
// next run() (none is lost, the thrown one is not run again). Peers are named by PeerHandle,
// which stays safe after the peer is gone: a stale handle (its slot reused by a new peer
// included) is simply not found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"
#include "volley/snapshot/session.hpp"
#include "volley/vocabulary/bytes.hpp"
#include "volley/vocabulary/delivery.hpp"
#include "volley/vocabulary/handle.hpp"

namespace volley::server {

// Shared words (volley/vocabulary). A server's peers end with kRemote (the peer sent
// DISCONNECT), kTimeout (it stopped acknowledging) or kLocal (our disconnect() /
// disconnect_later() completed, or shutdown); kRefused and kVerifyMismatch only end connections
// we initiate. send() answers kOk, kNoSuchPeer (stale handle), kNotConnected (the peer is
// disconnecting), kBadChannel, kTooLarge, kTooManyFragments, kQueueFull (Config::max_queued_data
// bytes already wait for the peer's acknowledgement: counted as drop_send_queue_full) or
// kBadDelivery (a Delivery value other than the four; broadcast() then sends to nobody).
using volley::Bytes;
using volley::Delivery;
using volley::delivery_name;
using volley::DisconnectReason;
using volley::disconnect_reason_name;
using volley::PeerHandle;  // generation 0 never names a peer
using volley::RefusalCode;
using volley::refusal_code_name;
using volley::SendResult;
using volley::send_result_name;

struct Packet {
  PeerHandle peer;
  std::uint8_t channel = 0;
  Delivery delivery = Delivery::kReliable;
  Bytes bytes;  // valid during the callback only; aligned to alignof(std::max_align_t)
};

struct PeerStats {
  std::string address;  // "ip:port" / "[ip6]:port"
  std::uint32_t rtt_ms = 0;
  std::uint32_t rtt_variance_ms = 0;
  double packet_loss = 0;        // 0..1
  std::uint32_t packet_throttle = 0;  // 0..32
  std::uint32_t mtu = 0;
  std::size_t channels = 0;
  std::uint64_t packets_in = 0, packets_out = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;          // payload bytes
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  // Snapshots sent to this peer (Config::snapshots enabled), and the frame it acknowledged.
  std::uint64_t snapshot_bytes = 0, snapshots_full = 0, snapshots_delta = 0;
  std::optional<std::uint32_t> acked_frame;
};

// A distribution in Prometheus's shape: counts[i] is how many observations were <= bounds[i]
// (cumulative); counts has one more entry than bounds, the total (+Inf).
struct Histogram {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count() const noexcept { return counts.empty() ? 0 : counts.back(); }
};

using NamedCounts = std::vector<std::pair<std::string, std::uint64_t>>;

// Totals since create(), with the meanings of the volley-server stats JSON (DESIGN.md). The
// structured members after `details` are for exporters (volley-server's /metrics, docs/server.md).
struct ServerStats {
  std::uint64_t connects = 0, disconnects = 0, timeouts = 0;
  std::uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t datagrams_in = 0, datagrams_out = 0, bad_datagrams = 0;
  std::uint64_t peers_now = 0, peers_peak = 0;
  NamedCounts details;  // drop reasons and loop counters
  NamedCounts drops;     // datagrams and commands dropped, by reason (details without "drop_")
  NamedCounts refusals;  // CONNECTs refused, by refusal_code_name()
  std::uint64_t send_queued = 0;  // commands queued, not yet sent, across connected peers (now)
  std::uint64_t send_unacked = 0; // reliable commands awaiting an ACK, across connected peers
  Histogram peer_rtt_seconds;     // connected peers' smoothed RTT (now)
  Histogram datagrams_per_batch;  // receive batches (one per loop wake-up with datagrams)
  Histogram tick_seconds;         // each tick: on_tick, snapshot encode and send
  Histogram snapshot_bytes;       // each snapshot sent to a client
  bool accepting = true;  // new peers are accepted (false while draining or stopping)
  bool draining = false;  // begin_drain() was called
};

// The game session's snapshots (docs/server.md): every connected peer is a client of the
// snapshot sender once a schema with at least one type is given and tick_hz > 0.
struct SnapshotConfig {
  snapshot::Schema schema;           // the game's entity types; none = no snapshots
  // Per client per tick. Packets up to the peer's single-datagram payload go unsequenced; a
  // larger budget lets snapshots go as unreliable fragments.
  std::size_t budget_bytes = 1200;
  std::uint32_t event_max_age_ticks = 90;  // then counted as undeliverable and dropped
  std::size_t history = 32;                // frames kept as baselines
  int zstd_level = 1;  // the codec's default (volley/snapshot/codec.hpp)
  // Graceful degradation: when the ticks take more than half the tick period (snapshots
  // included), each client gets a snapshot every 2, 3, ... up to this many ticks (clients take
  // turns), and back to every tick when the load falls. 1 = always every tick.
  std::uint32_t max_stride = 4;
  // Inputs a client may send per second, with bursts of input_burst (or one tick's share of the
  // rate, if more: at tick_hz 1 the rate itself); more are dropped unread and counted
  // (drop_input_rate). Game clients send one per frame (30-60/s). 0 = no limit.
  std::uint32_t max_inputs_per_second = 120;
  std::uint32_t input_burst = 60;
};

struct Config {
  std::string bind = "::";  // numeric address; "::" is dual-stack (IPv4 and IPv6)
  std::uint16_t port = 0;   // 0 = any free port (see local_port())
  std::size_t max_peers = 4096;
  // Connected peers per client IP (all ports; loopback included); 0 = no cap. A NAT or a proxy
  // in front of the server needs more (README "Limits").
  std::size_t per_ip_cap = 32;
  std::uint32_t channel_limit = 255;
  std::uint32_t incoming_bandwidth = 0;  // bytes/s, 0 = unlimited
  std::uint32_t outgoing_bandwidth = 0;
  std::uint32_t mtu = 1400;  // cap on the negotiated MTU, 576..4096
  std::uint32_t ping_interval_ms = 500;
  // Keepalive PINGs only to a peer silent for 2 x ping_interval_ms (protocol::KeepalivePolicy::
  // kWhenSilent): a stock client pings us every ~interval, so pinging it back only doubles the
  // idle traffic. false = libenet's rule (a PING whenever no ACK came for the interval).
  bool ping_only_when_silent = true;
  std::uint32_t timeout_limit = 32;
  std::uint32_t timeout_minimum_ms = 5000;
  std::uint32_t timeout_maximum_ms = 30000;
  std::uint32_t rto_cap_ms = 0;  // resend interval cap, 0 = none as in libenet (PeerConfig)
  bool checksum = false;  // ENet CRC32 on every datagram (must match the clients)
  bool compress = false;  // ENet range coder (must match the clients)
  bool fast_refusal = true;  // answer refused CONNECTs with a DISCONNECT at once
  // --- limits on what a remote controls (README "Limits"); each violation is dropped and counted
  std::uint32_t max_packet_size = 4u * 1024 * 1024;  // received packet (fragments' totalLength)
  std::uint32_t max_fragments = 8192;                 // fragments of one received packet
  std::size_t max_waiting_data = 8u * 1024 * 1024;    // undelivered received bytes, per peer
  std::size_t max_waiting_total = 256u * 1024 * 1024; // the same, all peers together
  std::size_t max_held_commands = 4096;               // received out of order, per peer
  std::size_t max_queued_data = 8u * 1024 * 1024;     // unacked outgoing bytes per peer (kQueueFull)
  // Handshake replies before a client proves its address, in total and per client IP (not
  // loopback); per_second 0 = unlimited.
  std::uint32_t handshake_rate = 200000, handshake_burst = 20000;
  std::uint32_t handshake_rate_per_ip = 32, handshake_burst_per_ip = 64;
  // Socket buffers requested; 0 = OS default (~208 KiB on Linux, which a 16k-peer connect burst
  // overflows). Linux doubles the request; FORCE is tried first so root is not capped at rmem_max.
  int recv_buffer_bytes = 8 * 1024 * 1024;
  int send_buffer_bytes = 8 * 1024 * 1024;
  std::string backend = "auto";  // auto | io_uring | epoll | iocp
  // engine::LoopConfig::coalesce_us. 0 (off) by default: coalescing saved server CPU only with
  // single_thread (measured: 19 vs 24 CPU-us/echo at 512 peers with it, 35 without it).
  std::uint32_t coalesce_us = 0;
  // engine::LoopConfig::single_thread: created, run, destroyed on one thread; run() on another
  // thread than create()'s logs one line and returns at once (the ring would refuse its waits).
  bool single_thread = false;
  std::uint32_t shutdown_grace_ms = 1000;  // stop(): how long peers get to ack the DISCONNECT
  // The game's fixed tick on the loop's timer wheel; 0 = no tick, and then no snapshots either
  // (a schema alone sends nothing; raise_event returns 0).
  std::uint32_t tick_hz = 0;
  SnapshotConfig snapshots;
};

// Which entities a peer sees; a pure function of (id, type) within a tick. Empty = all. It runs
// while the snapshot sender walks its clients, so it must not call the Server (no send,
// disconnect, set_view_filter or raise_event from inside it: undefined).
using ViewFilter = std::function<bool(std::uint32_t id, std::uint16_t type)>;

struct Callbacks {
  std::function<void(PeerHandle, std::uint32_t data)> on_connect;
  std::function<void(const Packet&)> on_receive;
  std::function<void(PeerHandle, DisconnectReason, std::uint32_t data)> on_disconnect;
  // Each tick (Config::tick_hz): update the world and fill `world` (cleared, numbered `frame`;
  // ids strictly increasing) with its quantized entities; raise events with raise_event().
  std::function<void(std::uint32_t frame, snapshot::Frame& world)> on_tick;
  // With snapshots enabled, messages on snapshot::kInputChannel come here instead of on_receive,
  // decoded and with their acknowledgement already applied (malformed ones are dropped and
  // counted as inputs_malformed). `input.bytes` is valid during the callback only.
  std::function<void(PeerHandle, const snapshot::Input& input)> on_input;
};

class Server {
 public:
  struct Created;
  static Created create(const Config& config);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before run(), or on the loop thread while it runs (from a callback or a posted task: the new
  // ones take over at once, and the callback running finishes normally).
  void set_callbacks(Callbacks callbacks);
  // Serves until stop() has finished: peers were sent a disconnect and acknowledged it, or the
  // grace time ran out. Once it has, run() returns at once and posted tasks never run. run()
  // while run() is active (from a callback or a posted task, or on another thread) returns at once.
  void run();
  // Any thread; graceful: every peer gets disconnect_later(), so what was sent to it before
  // (a "server closing" notice) is delivered first, then the DISCONNECT handshake, all within
  // Config::shutdown_grace_ms; a peer already disconnecting keeps its course and data word.
  void stop();
  // Any thread. Stops accepting (new CONNECTs are refused with RefusalCode::kShuttingDown) and
  // keeps serving the connected peers; when the last has left, or after `limit_ms`, stop().
  void begin_drain(std::uint32_t limit_ms);
  void post(std::function<void()> task);  // any thread; runs on the loop thread; empty: ignored

  SendResult send(PeerHandle peer, std::uint8_t channel, Bytes bytes, Delivery delivery);
  std::size_t broadcast(std::uint8_t channel, Bytes bytes, Delivery delivery);
  // As libenet's enet_peer_disconnect: what is still queued for the peer is discarded, then a
  // DISCONNECT goes out reliably. disconnect_later sends everything queued first.
  bool disconnect(PeerHandle peer, std::uint32_t data = 0);
  bool disconnect_later(PeerHandle peer, std::uint32_t data = 0);
  // At once; no event follows, and packets not yet delivered to on_receive are dropped. After a
  // disconnect() or disconnect_later() of the same peer it sends nothing (libenet's rule for a
  // peer already disconnecting): the client then learns only by its own timeout.
  bool disconnect_now(PeerHandle peer, std::uint32_t data = 0);

  // Snapshots: an event for every connected client, carried until each acknowledges it (0 when
  // refused: payload over snapshot::kMaxEventPayload, too many pending (the codec's max_events,
  // 256: raised, not yet acknowledged by every client nor expired), or snapshots disabled).
  std::uint64_t raise_event(std::uint16_t kind, Bytes payload);
  void set_view_filter(PeerHandle peer, ViewFilter filter);
  std::uint32_t frame_number() const noexcept;  // the latest tick's frame (0 before the first)

  std::optional<PeerStats> peer_stats(PeerHandle peer) const;
  std::size_t peer_count() const noexcept;  // connected now
  ServerStats stats() const;
  std::string local_address() const;  // as bound, with the real port
  std::uint16_t local_port() const;
  std::string_view backend() const noexcept;
  const std::string& backend_note() const noexcept;
  // Socket buffer sizes as the kernel reports them (Linux: twice the usable payload bytes).
  int recv_buffer_granted() const noexcept;
  int send_buffer_granted() const noexcept;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Server::Created {
  std::unique_ptr<Server> server;
  std::string error;  // one line, set when server is null
  explicit operator bool() const noexcept { return server != nullptr; }
};

}  // namespace volley::server
