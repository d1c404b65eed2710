// prometheus_text: one "# HELP" and "# TYPE" per family, then its samples. Counters end in
// _total, units are seconds and bytes; reasons are labels, not name suffixes. The process
// figures use the standard process_* names every Prometheus client library exports, so stock
// dashboards and alerts find them.
#include "prometheus.hpp"

#include <cinttypes>
#include <cstdio>
#include <string_view>

#include "volley/server/version.hpp"

namespace volley::server::app {
namespace {

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%" PRIu64, value);
    line(name, labels, buf);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    // 15 significant digits: a Unix start time keeps its milliseconds, and no binary noise shows.
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.15g", value);
    line(name, labels, buf);
  }
  // A family with one unlabelled sample.
  void single(std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  void by_label(std::string_view name, std::string_view help, std::string_view label,
                const NamedCounts& counts) {
    family(name, "counter", help);
    for (const auto& [key, value] : counts) sample(name, label_pair(label, key), value);
  }
  void histogram(std::string_view name, std::string_view help, const Histogram& h) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < h.bounds.size() && i < h.counts.size(); ++i) {
      char le[40];
      std::snprintf(le, sizeof(le), "%.9g", h.bounds[i]);
      sample(bucket, label_pair("le", le), h.counts[i]);
    }
    sample(bucket, label_pair("le", "+Inf"), h.count());
    sample(std::string(name) + "_sum", {}, h.sum);
    sample(std::string(name) + "_count", {}, h.count());
  }
  // An info gauge: one sample, always 1, whose label carries the fact.
  void info(std::string_view name, std::string_view help, std::string_view label, std::string_view value) {
    family(name, "gauge", help);
    sample(name, label_pair(label, value), std::uint64_t{1});
  }
  std::string take() { return std::move(out_); }

 private:
  // label="value" with the format's escapes for backslash, quote and newline.
  static std::string label_pair(std::string_view label, std::string_view value) {
    std::string s(label);
    s += "=\"";
    for (const char c : value) {
      if (c == '\\' || c == '"') s += '\\';
      if (c == '\n') {
        s += "\\n";
        continue;
      }
      s += c;
    }
    s += '"';
    return s;
  }
  void line(std::string_view name, std::string_view labels, const char* value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string out_;
};

const std::uint64_t* find(const NamedCounts& counts, std::string_view key) {
  for (const auto& [k, v] : counts) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::uint64_t detail(const ServerStats& s, std::string_view key) {
  const std::uint64_t* v = find(s.details, key);
  return v == nullptr ? 0 : *v;
}

}  // namespace

std::string prometheus_text(const ServerStats& s, const ProcessFigures& process) {
  Writer w;
  w.info("volley_build_info", "The running server's version (always 1).", "version", volley::server::version_number());
  w.single("volley_peers_connected", "gauge", "Peers connected now.", s.peers_now);
  w.single("volley_peers_connected_peak", "gauge", "Most peers connected at once since start.", s.peers_peak);
  w.single("volley_handshake_half_open", "gauge", "Half-open handshake entries now (CONNECTs awaiting proof).",
           detail(s, "handshake_half_open"));
  w.single("volley_departed_ids", "gauge", "Recently released (address, peer id) pairs remembered now.",
           detail(s, "departed_ids"));
  w.single("volley_per_ip_addresses", "gauge", "Client IPs with live peers counted for the per-IP cap (0 with the cap off: not tracked).",
           detail(s, "per_ip_addresses"));
  w.single("volley_peer_slots", "gauge", "Peer slots allocated (a pool: reused, never freed).",
           detail(s, "slots_allocated"));
  w.single("volley_accepting", "gauge", "1 while new peers are accepted; 0 while draining or stopping.",
           s.accepting ? 1 : 0);
  w.single("volley_draining", "gauge", "1 once a drain has begun.", s.draining ? 1 : 0);
  w.single("volley_connects_total", "counter", "Peers that completed the handshake.", s.connects);
  w.single("volley_disconnects_total", "counter", "Peers that disconnected themselves.", s.disconnects);
  w.single("volley_local_disconnects_total", "counter", "Disconnects the server initiated that completed.",
           detail(s, "local_disconnects"));
  w.single("volley_timeouts_total", "counter", "Peers that stopped acknowledging.", s.timeouts);
  w.single("volley_datagrams_received_total", "counter", "UDP datagrams received.", s.datagrams_in);
  w.single("volley_datagrams_sent_total", "counter", "UDP datagrams sent.", s.datagrams_out);
  w.single("volley_packets_received_total", "counter", "Packets delivered from peers.", s.packets_in);
  w.single("volley_packets_sent_total", "counter", "Packets queued to peers.", s.packets_out);
  w.single("volley_payload_received_bytes_total", "counter", "Payload bytes delivered from peers.", s.bytes_in);
  w.single("volley_payload_sent_bytes_total", "counter", "Payload bytes queued to peers.", s.bytes_out);
  w.single("volley_bad_datagrams_total", "counter", "Datagrams dropped as malformed, misrouted or unverifiable.",
           s.bad_datagrams);
  w.by_label("volley_drops_total", "Datagrams and commands dropped, by reason.", "reason", s.drops);
  w.by_label("volley_refusals_total", "CONNECTs refused, by reason.", "reason", s.refusals);
  w.single("volley_retransmits_total", "counter", "Reliable commands sent again.", detail(s, "retransmits"));
  w.histogram("volley_peer_rtt_seconds", "Smoothed round-trip time of the connected peers now.",
              s.peer_rtt_seconds);
  w.single("volley_send_queue_commands", "gauge", "Commands queued and not yet sent, across connected peers.",
           s.send_queued);
  w.single("volley_send_unacked_commands", "gauge", "Reliable commands awaiting an ACK, across connected peers.",
           s.send_unacked);
  w.single("volley_loop_receive_batches_total", "counter", "Loop wake-ups that delivered datagrams.",
           detail(s, "loop_recv_batches"));
  w.single("volley_loop_wakeups_total", "counter", "Cross-thread wake-ups of the loop (posted tasks, stop).",
           detail(s, "loop_wakeups"));
  w.single("volley_loop_syscalls_total", "counter", "System calls made by the loop thread.",
           detail(s, "loop_syscalls"));
  w.single("volley_loop_waits_total", "counter", "Loop waits that were allowed to block.", detail(s, "loop_waits"));
  w.single("volley_loop_naps_total", "counter", "Coalescing naps taken (--coalesce-us).", detail(s, "loop_naps"));
  w.single("volley_loop_naps_empty_total", "counter", "Coalescing naps that found nothing, or too little to pay.",
           detail(s, "loop_naps_empty"));
  w.histogram("volley_loop_datagrams_per_batch", "Datagrams delivered per receive wake-up.",
              s.datagrams_per_batch);
  // The loop's failures: any of these rising is worth an alert.
  w.single("volley_loop_send_errors_total", "counter", "Datagrams the kernel refused to send.",
           detail(s, "loop_send_errors"));
  w.single("volley_loop_send_dropped_total", "counter", "Datagrams dropped unsent (a closed socket, a full queue).",
           detail(s, "loop_send_dropped"));
  w.single("volley_loop_receive_errors_total", "counter", "Receive calls that failed.", detail(s, "loop_recv_errors"));
  w.single("volley_loop_receive_exhausted_total", "counter", "Times the kernel had no receive buffer to fill (io_uring).",
           detail(s, "loop_recv_exhausted"));
  w.single("volley_handshake_evicted_total", "counter", "Half-open handshakes evicted to make room (a CONNECT flood).",
           detail(s, "handshake_evicted"));
  w.single("volley_pings_sent_total", "counter", "Keepalive PINGs the server sent.", detail(s, "pings_out"));
  w.single("volley_ticks_total", "counter", "Game ticks run.", detail(s, "ticks"));
  w.single("volley_ticks_late_total", "counter", "Ticks skipped because the loop fell behind.",
           detail(s, "ticks_late"));
  if (s.tick_seconds.count() > 0) {
    w.histogram("volley_tick_duration_seconds", "Wall time of each tick, snapshot encode and send included.",
                s.tick_seconds);
  }
  if (find(s.details, "snapshot_frames") != nullptr) {
    w.family("volley_snapshots_sent_total", "counter", "Snapshots sent to clients, by kind.");
    w.sample("volley_snapshots_sent_total", "kind=\"full\"", detail(s, "snapshots_full"));
    w.sample("volley_snapshots_sent_total", "kind=\"delta\"", detail(s, "snapshots_delta"));
    w.single("volley_snapshot_sent_bytes_total", "counter", "Snapshot bytes sent to clients.",
             detail(s, "snapshot_bytes"));
    w.histogram("volley_snapshot_size_bytes", "Bytes of each snapshot sent to a client.", s.snapshot_bytes);
    w.single("volley_snapshot_events_pending", "gauge", "Events not yet acknowledged by every client.",
             detail(s, "events_pending"));
    w.single("volley_snapshot_events_undeliverable_total", "counter", "Events dropped unacknowledged after their maximum age.",
             detail(s, "events_undeliverable"));
  }
  w.family("process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
  w.sample("process_cpu_seconds_total", {}, process.cpu.total_s());
  w.single("process_resident_memory_bytes", "gauge", "Resident memory of the process.", process.rss_bytes);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
  w.sample("process_start_time_seconds", {}, process.start_time_s);
  return w.take();
}

}  // namespace volley::server::app
