// The sans-IO server Host: a batch of datagrams in, each routed by (source address, 12-bit peer
// id) to its slot's Peer (which checks session, CRC and the rest), events out through HostEvents,
// and every datagram produced while handling the batch (acknowledgements included) emitted to
// the sink once at the end. Only peers touched by the batch, a timer, or an API call are
// serviced; per-peer deadlines live in a TimerPort via Deadlines. No clock, no socket: time is
// a parameter, so tests drive thousands of peers on a virtual clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "deadlines.hpp"
#include "peer_slots.hpp"
#include "send_batch.hpp"
#include "stats.hpp"
#include "volley/engine/udp.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::server {

struct HostConfig {
  protocol::PeerConfig peer = protocol::PeerConfig::server_defaults();
  std::size_t max_peers = 4096;
  std::size_t per_ip_cap = 0;  // 0 = no cap
  bool fast_refusal = true;    // answer a refused CONNECT at once (enet-protocol.md 3.5)
};

// Data word of a fast refusal, as the refused client sees it in its disconnect event.
inline constexpr std::uint32_t kRefusedFull = 1;
inline constexpr std::uint32_t kRefusedPerIp = 2;
inline constexpr std::uint32_t kRefusedShutdown = 3;

struct HostHandle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // 0 never names a peer
  bool operator==(const HostHandle&) const = default;
};

class HostEvents {
 public:
  virtual ~HostEvents() = default;
  virtual void on_connect(HostHandle peer, std::uint32_t data) = 0;
  virtual void on_receive(HostHandle peer, const protocol::PeerEvent& event) = 0;
  virtual void on_disconnect(HostHandle peer, protocol::DisconnectReason reason,
                             std::uint32_t data) = 0;
};

enum class DisconnectMode : std::uint8_t { kNormal, kLater, kNow };

class Host {
 public:
  Host(const HostConfig& config, TimerPort& timers, DatagramSink sink, HostEvents* events);

  // One receive batch: route everything, then service the touched peers and emit once.
  void on_datagrams(protocol::TimePoint now, std::span<const engine::DatagramView> batch);
  // The TimerPort's timer for `slot` fired (the port forgets it first).
  void on_timer(protocol::TimePoint now, std::uint32_t slot);
  // Services peers touched by API calls outside a batch and emits their datagrams.
  void flush(protocol::TimePoint now);

  protocol::SendError send(HostHandle peer, std::uint8_t channel, protocol::Bytes payload,
                           protocol::PacketFlags flags);
  // To every connected peer; returns how many accepted it.
  std::size_t broadcast(std::uint8_t channel, protocol::Bytes payload, protocol::PacketFlags flags);
  bool disconnect(HostHandle peer, std::uint32_t data, DisconnectMode mode);
  // Shutdown: every live peer (walks the table once, by design).
  void disconnect_all(std::uint32_t data);
  // While false, new CONNECTs are refused (shutdown).
  void set_accepting(bool accepting) noexcept { accepting_ = accepting; }

  const protocol::Peer* peer(HostHandle handle) const;
  const engine::Address* address(HostHandle handle) const;
  const HostStats& stats() const noexcept { return stats_; }
  const DeadlineOps& deadline_ops() const noexcept { return deadlines_.ops(); }
  std::size_t live_peers() const noexcept { return slots_.live(); }
  std::size_t connected_peers() const noexcept { return slots_.connected().size(); }
  std::size_t max_peers() const noexcept { return slots_.capacity(); }

 private:
  Slot* resolve(HostHandle handle);
  void route(protocol::TimePoint now, const engine::DatagramView& datagram);
  void route_connect(protocol::TimePoint now, const engine::Address& from, protocol::Bytes bytes);
  void refuse(const protocol::ConnectRequest& request, const engine::Address& to, std::uint32_t reason);
  void touch(std::uint32_t slot);
  void service_touched(protocol::TimePoint now);
  void service(protocol::TimePoint now, std::uint32_t slot);
  void drain_events(std::uint32_t slot);
  void emit();
  // Adds the peer's counter changes to stats_.peers. Every Peer call that can move a counter
  // touches the peer, and service() syncs after its poll, so routing, timers and successful
  // sends do not sync themselves: once per service pass, not three times per echoed packet.
  void sync(Slot& slot) { sync_counters(slot.peer->counters(), slot.seen, stats_.peers); }

  HostConfig config_;
  PeerSlots slots_;
  Deadlines deadlines_;
  DatagramSink sink_;
  HostEvents* events_;
  SendBatch batch_;
  HostStats stats_;
  std::vector<std::uint32_t> touched_;
  bool accepting_ = true;
};

}  // namespace volley::server
