// volley-enet-echo-server: the baseline for the scale measurements. A stock libenet 1.3.17 host
// with volley-server --mode echo's semantics (each packet goes back to its sender on the same
// channel with the same flags) and the same flags, listening line and stats JSON, so
// tools/bench/bench.sh can run both servers under identical load and compare CPU and memory.
// The loop is the usual libenet one: enet_host_service with a short timeout, events drained.
#include <enet/enet.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <arpa/inet.h>

#include "enet_echo_common.hpp"

namespace volley::tools {
namespace {

constexpr const char* kTool = "volley-enet-echo-server";

struct Options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t max_peers = 4095;  // ENET_PROTOCOL_MAXIMUM_PEER_ID
  std::size_t channels = 255;    // accept whatever a client asks for, as volley-server does
  double seconds = 0;            // 0 = until a signal
  int service_ms = 10;           // enet_host_service timeout: how long one wait may block
  std::string stats_json;
};

Options parse(int argc, char** argv) {
  Options o;
  CLI::App app("stock libenet echo server with volley-server's echo contract (docs/scale.md)", kTool);
  app.add_option("--bind", o.bind);
  app.add_option("--port", o.port)->check(CLI::Range(0, 65535));
  app.add_option("--max-peers", o.max_peers)->check(CLI::Range(1, int{ENET_PROTOCOL_MAXIMUM_PEER_ID}));
  app.add_option("--channels", o.channels)->check(CLI::Range(1, int{ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT}));
  app.add_option("--seconds", o.seconds, "0 = until a signal")->check(CLI::Range(0.0, 1e7));
  app.add_option("--service-ms", o.service_ms)->check(CLI::Range(0, 1000));
  app.add_option("--stats-json", o.stats_json);
  support::parse_cli_or_exit(app, argc, argv);
  // libenet 1.3.17 is IPv4-only; refuse an address it would silently misread.
  in_addr probe{};
  if (inet_pton(AF_INET, o.bind.c_str(), &probe) != 1) {
    usage_error(kTool, "--bind wants a numeric IPv4 address (libenet 1.3.17 has no IPv6), got '" +
                           o.bind + "'");
  }
  return o;
}

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct Counts {
  std::uint64_t connects = 0, disconnects = 0, timeouts = 0;
  std::uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t send_failures = 0;
  std::size_t peers = 0, peers_peak = 0;
};

void handle(const ENetEvent& ev, Counts& c) {
  switch (ev.type) {
    case ENET_EVENT_TYPE_CONNECT:
      ++c.connects;
      c.peers_peak = std::max(c.peers_peak, ++c.peers);
      break;
    case ENET_EVENT_TYPE_DISCONNECT:
      // See kGoodbyeData: 1.3.17 has no separate timeout event; a timeout carries data 0.
      if (ev.data != 0) ++c.disconnects;
      else ++c.timeouts;
      if (c.peers > 0) --c.peers;
      break;
    case ENET_EVENT_TYPE_RECEIVE: {
      ++c.packets_in;
      c.bytes_in += ev.packet->dataLength;
      std::size_t length = ev.packet->dataLength;
      // Sending the received packet itself keeps its flags (reliable / unsequenced / unreliable
      // fragment) and bytes, and saves a copy: libenet frees it once it has been sent.
      if (enet_peer_send(ev.peer, ev.channelID, ev.packet) == 0) {
        ++c.packets_out;
        c.bytes_out += length;
      } else {
        ++c.send_failures;
        enet_packet_destroy(ev.packet);
      }
      break;
    }
    case ENET_EVENT_TYPE_NONE:
      break;
  }
}

int run(const Options& o) {
  if (enet_initialize() != 0) {
    std::fprintf(stderr, "%s: enet_initialize failed\n", kTool);
    return 1;
  }
  ENetAddress address{};
  enet_address_set_host_ip(&address, o.bind.c_str());
  address.port = o.port;
  ENetHost* host = enet_host_create(&address, o.max_peers, o.channels, 0, 0);
  if (host == nullptr) {
    std::fprintf(stderr, "%s: cannot bind %s:%u\n", kTool, o.bind.c_str(), unsigned{o.port});
    return 2;  // as volley-server: an address it cannot listen on is a bad flag
  }
  // Port 0: ask the socket which port the kernel picked.
  ENetAddress bound{};
  enet_socket_get_address(host->socket, &bound);
  std::printf("listening %s:%u\n", o.bind.c_str(), unsigned{bound.port});
  std::fflush(stdout);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  Counts c;
  enet_uint32 start = enet_time_get();
  enet_uint32 limit_ms = static_cast<enet_uint32>(o.seconds * 1000);
  ENetEvent ev;
  while (!g_stop.load()) {
    if (limit_ms != 0 && enet_time_get() - start >= limit_ms) break;
    int r = enet_host_service(host, &ev, static_cast<enet_uint32>(o.service_ms));
    // Drain every ready event before waiting again (enet_host_check_events does not block).
    while (r > 0) {
      handle(ev, c);
      r = enet_host_check_events(host, &ev);
    }
    if (r < 0) {
      // EINTR from the stop signal lands here too; only a real failure ends the loop.
      if (g_stop.load()) break;
      std::fprintf(stderr, "%s: enet_host_service failed\n", kTool);
      break;
    }
  }

  // Graceful stop: every peer gets a DISCONNECT (sent by the flush below).
  for (std::size_t i = 0; i < host->peerCount; ++i) {
    ENetPeer* p = &host->peers[i];
    if (p->state == ENET_PEER_STATE_CONNECTED) enet_peer_disconnect(p, 0);
  }
  enet_host_flush(host);

  CpuTimes cpu = process_cpu();
  JsonObject j;
  j.add("server", std::string_view("libenet-1.3.17"));
  j.add("connects", c.connects);
  j.add("disconnects", c.disconnects);
  j.add("timeouts", c.timeouts);
  j.add("packets_in", c.packets_in);
  j.add("packets_out", c.packets_out);
  j.add("bytes_in", c.bytes_in);
  j.add("bytes_out", c.bytes_out);
  j.add("datagrams_in", std::uint64_t{host->totalReceivedPackets});
  j.add("datagrams_out", std::uint64_t{host->totalSentPackets});
  j.add("send_failures", c.send_failures);
  j.add("peers_peak", std::uint64_t{c.peers_peak});
  j.add("cpu_user_s", cpu.user_s);
  j.add("cpu_sys_s", cpu.sys_s);
  j.add("backend", std::string_view("libenet"));
  bool written = j.write(o.stats_json, kTool);
  enet_host_destroy(host);
  enet_deinitialize();
  return written ? 0 : 1;
}

}  // namespace
}  // namespace volley::tools

int main(int argc, char** argv) {
  return volley::tools::run(volley::tools::parse(argc, argv));
}
