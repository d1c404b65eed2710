// Per-connection statistics: libenet's own RTT, loss and throttle estimates, and the
// application packets and bytes this library moved, with rates over a sliding window.
#pragma once

#include <cstddef>
#include <cstdint>

namespace volley::client {

struct ConnectionStats {
  std::uint32_t rtt_ms = 0;           // libenet's smoothed round-trip time
  std::uint32_t rtt_variance_ms = 0;  // libenet's mean deviation of the RTT
  double packet_loss = 0;             // 0..1, libenet's smoothed reliable-loss estimate
  double throttle = 0;                // 0..1, libenet's unreliable packet throttle
  std::uint64_t packets_in = 0;       // application packets received / sent (totals)
  std::uint64_t packets_out = 0;
  std::uint64_t bytes_in = 0;         // application payload bytes (totals)
  std::uint64_t bytes_out = 0;
  double packets_in_per_s = 0;        // rates over the last window (HostOptions::stats_window)
  double packets_out_per_s = 0;
  double bytes_in_per_s = 0;
  double bytes_out_per_s = 0;
  // Channels of the connection: the client's count, or the server's if it has fewer (once
  // connected). A snapshot session needs snapshot::kSessionChannels.
  std::size_t channels = 0;
  // Received data libenet refused under HostOptions' limits (it drops it silently; counted here
  // from the datagrams as they arrive). Commands carrying a packet over max_packet_size (each
  // fragment counts; libenet drops the rest of the datagram with it, as this count does), and
  // datagrams with packet data that came while the connection's undelivered packets were at
  // max_waiting_data (libenet takes no new packet then; a refused reliable one is resent).
  std::uint64_t dropped_oversize = 0;
  std::uint64_t waiting_limit_datagrams = 0;
};

}  // namespace volley::client
