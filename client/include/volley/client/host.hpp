// The client host: one stock libenet host (ENetHost) and any number of outgoing connections to
// it. Single-threaded: the caller owns the Host and polls it for events; nothing runs behind its
// back. <enet/enet.h> stays inside the library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "volley/client/stats.hpp"
#include "volley/vocabulary/bytes.hpp"
#include "volley/vocabulary/delivery.hpp"
#include "volley/vocabulary/handle.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::client {

// A connection of a Host; stale handles (after its disconnected event) stop resolving.
using ConnectionId = Handle<struct ConnectionTag>;

struct HostOptions {
  std::size_t max_connections = 1;     // ENet peer slots of the host
  std::size_t channels = 2;            // channels asked for on connect (1..255)
  std::uint32_t incoming_bandwidth = 0;  // bytes/s, 0 = unlimited (ENet bandwidth limits)
  std::uint32_t outgoing_bandwidth = 0;
  bool checksum = false;     // ENet CRC32 on every datagram (the server's --checksum)
  bool range_coder = false;  // ENet's range coder (the server's --compress)
  TimePoint connect_timeout = 5 * kSecond;  // no VERIFY_CONNECT by then: disconnected, kTimeout
  // libenet's peer timeouts (enet_peer_timeout) for established connections, milliseconds;
  // 0 keeps libenet's defaults (32, 5000, 30000).
  std::uint32_t timeout_limit = 0, timeout_minimum_ms = 0, timeout_maximum_ms = 0;
  TimePoint stats_window = kSecond;  // the rate window of ConnectionStats
  // What a server can make this host hold, set on libenet's ENetHost (maximumPacketSize and
  // maximumWaitingData, whose defaults are 32 MiB each). The largest packet Volley's server
  // sends is its own Config::max_packet_size (4 MiB, what it accepts); snapshots are at most
  // CodecConfig::max_packet_bytes (64 KiB; by default 1,200 B a tick, sent as unreliable
  // fragments past the MTU), so 4 MiB is 64x the largest snapshot. libenet applies the packet
  // limit both ways (send() answers kTooLarge past it) and drops a received command over it
  // with the rest of its datagram, unacknowledged (a reliable one is resent until the server
  // times the connection out). Waiting data is received packets not yet taken by poll(), per
  // connection; libenet refuses new ones while it is at the limit, so it can reach the limit
  // plus one packet (12 MiB by default). Both 1 or more.
  std::size_t max_packet_size = 4u * 1024 * 1024;
  std::size_t max_waiting_data = 8u * 1024 * 1024;
  // poll() returns false after this many events in a row (a drain: polls until one returns
  // false), even with more ready; the rest come in the next drain. A flooding server cannot keep
  // `while (host.poll(event))` going. Measured on loopback (2-core VM, under load): 2,000 small
  // reliable packets took 4 to 20 ms to drain (libenet's receive and ACKs included), so 2,048
  // is about that, where a 60 Hz game sees tens of events a frame. 0 = no bound. Counted in
  // HostCounters::drains_cut.
  std::size_t max_events_per_drain = 2048;
};

// Host-wide counters (ConnectionStats has the per-connection ones).
struct HostCounters {
  std::uint64_t drains_cut = 0;  // drains poll() ended at max_events_per_drain (events may be left)
};

enum class ConnectError : std::uint8_t {
  kOk,
  kMalformedAddress,  // not "host:port" (see parse_endpoint)
  kUnresolvable,      // the name did not resolve
  kIpv6Unsupported,   // an IPv6 literal, or a name with only IPv6 addresses: stock libenet
                      // 1.3.x addresses are IPv4 only (no released version has IPv6)
  kNoFreeSlot,        // max_connections already in use
  kCount
};
std::string_view connect_error_name(ConnectError error) noexcept;  // "ipv6_unsupported"
std::string_view connect_error_text(ConnectError error) noexcept;  // a sentence for people

// What connect() makes of an address before it sends anything, without a socket or a Host:
// the IPv4 address and port libenet is given, written "a.b.c.d:port", or why there is none
// (kMalformedAddress, kUnresolvable, kIpv6Unsupported). A name is resolved here once (blocking
// while DNS answers); a crowd of connects to `numeric` then makes no lookup each.
struct ResolvedAddress {
  ConnectError error = ConnectError::kOk;
  std::string numeric;
  explicit operator bool() const noexcept { return error == ConnectError::kOk; }
};
ResolvedAddress resolve_address(std::string_view address);

struct ConnectResult {
  ConnectionId connection;
  ConnectError error = ConnectError::kOk;
  explicit operator bool() const noexcept { return error == ConnectError::kOk; }
};

enum class EventType : std::uint8_t { kConnected, kReceived, kDisconnected };

struct Event {
  EventType type = EventType::kConnected;
  ConnectionId connection;
  TimePoint time = 0;  // when poll() returned it (steady clock, microseconds)
  // kReceived: the packet, valid until the next poll() or the Host's destruction.
  std::uint8_t channel = 0;
  Delivery delivery = Delivery::kReliable;
  Bytes bytes;
  // kDisconnected: why, and the data word (the remote's, a RefusalCode for kRefused, ours for
  // kLocal). Every connect() that succeeded ends in exactly one kDisconnected event.
  DisconnectReason reason = DisconnectReason::kLocal;
  std::uint32_t data = 0;
};

class Host {
 public:
  // Throws std::runtime_error when libenet cannot create the host (no socket, bad options).
  explicit Host(const HostOptions& options = {});
  ~Host();  // drops every connection at once (enet_peer_reset), no events
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Starts connecting; the connected (or disconnected) event follows from poll().
  ConnectResult connect(std::string_view address, std::uint32_t data = 0);

  // Queues a packet (sent on the next poll() or flush()). kUnsequenced above the MTU travels as
  // reliable fragments (libenet's rule); ask for kUnreliableFragment to fragment unreliably.
  SendResult send(ConnectionId connection, std::uint8_t channel, Bytes bytes, Delivery delivery);

  // The three ways to leave: a DISCONNECT handshake, discarding what is still queued (libenet's
  // enet_peer_disconnect); the same after the outgoing queue has drained (disconnect_later: for
  // last words); or at once with one unacknowledged DISCONNECT datagram. Each ends in a
  // kDisconnected kLocal event (disconnect_now's is queued immediately). No effect on an unknown
  // or already disconnecting connection.
  void disconnect(ConnectionId connection, std::uint32_t data = 0);
  void disconnect_later(ConnectionId connection, std::uint32_t data = 0);
  void disconnect_now(ConnectionId connection, std::uint32_t data = 0);

  // Services the host (sends queued packets, receives datagrams) and returns the next event.
  // Waits up to wait_ms for one when none is ready. False when there is none, and once after
  // HostOptions::max_events_per_drain events in a row (without waiting).
  bool poll(Event& event, std::uint32_t wait_ms = 0);
  void flush();  // sends what is queued now, without waiting for poll()

  bool connected(ConnectionId connection) const noexcept;
  std::optional<ConnectionStats> stats(ConnectionId connection);
  HostCounters counters() const noexcept;
  std::size_t connection_count() const noexcept;  // connecting, connected or disconnecting
  std::uint16_t local_port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::client
