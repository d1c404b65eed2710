// The public stats structs assembled from the layers' own counters: the Host's totals and drop
// reasons, its deadline bookkeeping, and the loop's datagram counters (DESIGN.md stats JSON).
#pragma once

#include "deadlines.hpp"
#include "host.hpp"
#include "snapshot_sender.hpp"
#include "stats.hpp"
#include "volley/engine/loop.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/server/server.hpp"

namespace volley::server {

PeerStats make_peer_stats(const protocol::Peer& peer, const engine::Address& address);
// The tick and snapshot figures; `sender` is null when snapshots are off.
struct TickStats {
  std::uint64_t ticks = 0, ticks_late = 0, snapshot_send_failed = 0;
  const SenderCounters* sender = nullptr;
};

// The gauges over the connected peers now: RTT histogram and send queue depth (one walk).
void add_connected_peers(ServerStats& stats, const Host& host);

ServerStats make_server_stats(const HostStats& host, const DeadlineOps& deadlines,
                              const engine::Stats& loop, const TickStats& ticks);

}  // namespace volley::server
