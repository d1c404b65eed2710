// volley-enet-swarm: stock libenet clients as a game server meets them: H client hosts (one
// thread and one socket each) with P peers apiece, connected at a paced rate, then idle or
// echoing packets of a fixed size at a fixed per-peer rate for a measured window.
// Phases (driven by the main thread, read by the host threads):
//   connect -> warm-up (sending starts) -> window (--idle seconds, measured) -> drain (wait for
//   outstanding echoes) -> disconnect (data = kGoodbyeData) -> done.
// With --server-pid it samples the server's CPU (/proc/<pid>/stat) at the window's edges and
// its memory at the end, so "server CPU per echoed packet" and "idle CPU" need no other clock.
// Exit 0 only if every peer connected, none was dropped, and no reliable echo was lost,
// duplicated or reordered.
#include <enet/enet.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "scale_common.hpp"

namespace volley::tools {
namespace {

constexpr const char* kTool = "volley-enet-swarm";

struct Options {
  std::string host;
  std::uint16_t port = 0;
  int hosts = 8;
  int peers_per_host = 500;
  double connect_rate = 2000;  // peers per second, all hosts together
  double idle = 10;            // the measured window, seconds
  double warmup = 1;           // seconds of sending before the window opens
  double rate = 0;             // echoes per second per peer; 0 = idle
  std::size_t size = 64;
  int channels = 2;
  enet_uint32 flags = ENET_PACKET_FLAG_RELIABLE;
  double seconds = 120;  // hard bound on the whole run
  long server_pid = 0;
  std::string report_json;
};

Options parse(int argc, char** argv) {
  Options o;
  std::string server, kind = "reliable";
  CLI::App app("load generator: stock libenet peers echoing against a server (docs/scale.md)", kTool);
  app.add_option("--server", server, "HOST:PORT")->required();
  app.add_option("--hosts", o.hosts)->check(CLI::Range(1, 256));
  app.add_option("--peers-per-host", o.peers_per_host)->check(CLI::Range(1, int{ENET_PROTOCOL_MAXIMUM_PEER_ID}));
  app.add_option("--connect-rate", o.connect_rate)->check(CLI::Range(1.0, 1e6));
  app.add_option("--idle", o.idle)->check(CLI::Range(0.0, 1e5));
  app.add_option("--warmup", o.warmup)->check(CLI::Range(0.0, 1e3));
  app.add_option("--rate", o.rate)->check(CLI::Range(0.0, 1000.0));
  app.add_option("--size", o.size)->check(CLI::Range(16, 1 << 20));
  app.add_option("--channels", o.channels)->check(CLI::Range(1, int{ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT}));
  app.add_option("--kind", kind)->check(CLI::IsMember({"reliable", "unreliable", "unsequenced"}));
  app.add_option("--seconds", o.seconds)->check(CLI::Range(1.0, 1e5));
  app.add_option("--server-pid", o.server_pid)->check(CLI::Range(1L, 1L << 30));
  app.add_option("--report-json", o.report_json);
  support::parse_cli_or_exit(app, argc, argv);
  if (!split_host_port(server, o.host, o.port)) usage_error(kTool, "--server wants HOST:PORT, got '" + server + "'");
  o.flags = kind == "reliable" ? ENET_PACKET_FLAG_RELIABLE : kind == "unsequenced" ? ENET_PACKET_FLAG_UNSEQUENCED : 0;
  return o;
}

enum class Phase : int { kConnect, kWarmup, kWindow, kDrain, kDisconnect, kDone };

using Clock = std::chrono::steady_clock;
std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

// What the host threads report; counters the main thread reads while they run are atomic.
struct Shared {
  std::atomic<Phase> phase{Phase::kConnect};
  std::atomic<std::uint64_t> connected{0}, connect_failed{0}, dropped{0};
  std::atomic<std::uint64_t> echoes_received{0}, outstanding{0};
  std::atomic<std::uint64_t> first_connect_us{0}, last_connect_us{0};
  std::mutex mutex;  // guards the merged results below
  std::vector<std::uint32_t> rtt_us;
  std::uint64_t sent = 0, lost = 0, out_of_order = 0, corrupt = 0, disconnected_clean = 0;
};

struct PeerSlot {
  ENetPeer* peer = nullptr;
  bool connected = false;
  bool gone = false;
  std::uint64_t next_send_us = 0;
  std::uint32_t next_seq = 0;      // sequence of the next packet sent
  std::uint32_t expected_seq = 0;  // reliable: the next echo must carry this
};

// Payload: peer index, sequence, send time (µs), then filler up to --size.
struct Header {
  std::uint32_t index;
  std::uint32_t seq;
  std::uint64_t sent_us;
};

class HostRunner {
 public:
  HostRunner(const Options& o, int host_index, Shared& shared)
      : o_(o), base_(host_index * o.peers_per_host), shared_(shared) {}

  void run() {
    ENetHost* host = enet_host_create(nullptr, static_cast<std::size_t>(o_.peers_per_host),
                                      static_cast<std::size_t>(o_.channels), 0, 0);
    if (host == nullptr) {
      std::fprintf(stderr, "%s: enet_host_create failed\n", kTool);
      shared_.connect_failed += static_cast<std::uint64_t>(o_.peers_per_host);
      return;
    }
    ENetAddress server{};
    enet_address_set_host(&server, o_.host.c_str());
    server.port = o_.port;
    slots_.resize(static_cast<std::size_t>(o_.peers_per_host));
    std::vector<std::uint8_t> payload(o_.size, 0x5a);
    const double per_host_rate = o_.connect_rate / o_.hosts;
    const std::uint64_t start = now_us();
    const std::uint64_t period_us = o_.rate > 0 ? static_cast<std::uint64_t>(1e6 / o_.rate) : 0;
    std::size_t started = 0;
    std::uint64_t disconnect_deadline = 0;
    bool sending_started = false;

    while (true) {
      Phase phase = shared_.phase.load();
      std::uint64_t t = now_us();
      // Paced connects: as many as the elapsed time allows at this host's share of the rate.
      while (phase == Phase::kConnect && started < slots_.size() &&
             static_cast<double>(t - start) * 1e-6 * per_host_rate >= static_cast<double>(started)) {
        ENetPeer* p = enet_host_connect(host, &server, static_cast<std::size_t>(o_.channels), 0);
        if (p == nullptr) {
          ++shared_.connect_failed;
          slots_[started].gone = true;
        } else {
          p->data = reinterpret_cast<void*>(started + 1);
          slots_[started].peer = p;
        }
        std::uint64_t zero = 0;
        shared_.first_connect_us.compare_exchange_strong(zero, t);
        ++started;
      }
      if ((phase == Phase::kWarmup || phase == Phase::kWindow) && period_us != 0) {
        if (!sending_started) {
          // Spread the peers' send instants evenly over one period.
          for (std::size_t i = 0; i < slots_.size(); ++i) {
            slots_[i].next_send_us = t + period_us * i / slots_.size();
          }
          sending_started = true;
        }
        for (std::size_t i = 0; i < slots_.size(); ++i) send_due(i, t, period_us, payload);
      }
      if (phase == Phase::kDisconnect && disconnect_deadline == 0) {
        for (PeerSlot& s : slots_) {
          if (s.connected && !s.gone) enet_peer_disconnect(s.peer, kGoodbyeData);
        }
        disconnect_deadline = t + 3'000'000;
      }
      if (phase == Phase::kDone || (disconnect_deadline != 0 && (t >= disconnect_deadline ||
                                                                  all_gone()))) {
        break;
      }
      // Echoing needs millisecond send granularity; idle peers only need pings and acks.
      enet_uint32 wait_ms = period_us != 0 && phase != Phase::kConnect ? 1 : 5;
      ENetEvent ev;
      int r = enet_host_service(host, &ev, wait_ms);
      while (r > 0) {
        handle(ev, phase);
        r = enet_host_check_events(host, &ev);
      }
    }
    finish(host);
  }

 private:
  bool all_gone() const {
    for (const PeerSlot& s : slots_) {
      if (!s.gone) return false;
    }
    return true;
  }

  void send_due(std::size_t i, std::uint64_t t, std::uint64_t period_us,
                std::vector<std::uint8_t>& payload) {
    PeerSlot& s = slots_[i];
    if (!s.connected || s.gone || t < s.next_send_us) return;
    // Catch up by whole periods instead of bursting if the thread was descheduled.
    while (s.next_send_us <= t) s.next_send_us += period_us;
    Header h{static_cast<std::uint32_t>(base_ + static_cast<int>(i)), s.next_seq++, t};
    std::memcpy(payload.data(), &h, sizeof h);
    ENetPacket* packet = enet_packet_create(payload.data(), payload.size(), o_.flags);
    if (enet_peer_send(s.peer, 0, packet) != 0) {
      enet_packet_destroy(packet);
      --s.next_seq;
      return;
    }
    ++sent_;
    ++shared_.outstanding;
  }

  void handle(const ENetEvent& ev, Phase phase) {
    std::size_t i = reinterpret_cast<std::size_t>(ev.peer->data);
    if (i == 0) {
      if (ev.packet) enet_packet_destroy(ev.packet);
      return;
    }
    PeerSlot& s = slots_[i - 1];
    switch (ev.type) {
      case ENET_EVENT_TYPE_CONNECT: {
        s.connected = true;
        ++shared_.connected;
        std::uint64_t t = now_us(), prev = shared_.last_connect_us.load();
        while (prev < t && !shared_.last_connect_us.compare_exchange_weak(prev, t)) {
        }
        break;
      }
      case ENET_EVENT_TYPE_DISCONNECT:
        if (s.gone) break;
        s.gone = true;
        if (!s.connected) ++shared_.connect_failed;
        else if (phase == Phase::kDisconnect) ++clean_;
        else ++shared_.dropped;
        ev.peer->data = nullptr;
        break;
      case ENET_EVENT_TYPE_RECEIVE:
        on_echo(s, i - 1, ev.packet);
        enet_packet_destroy(ev.packet);
        break;
      case ENET_EVENT_TYPE_NONE:
        break;
    }
  }

  void on_echo(PeerSlot& s, std::size_t i, const ENetPacket* packet) {
    Header h{};
    if (packet->dataLength != o_.size) {
      ++corrupt_;
      return;
    }
    std::memcpy(&h, packet->data, sizeof h);
    if (h.index != static_cast<std::uint32_t>(base_ + static_cast<int>(i)) || h.seq >= s.next_seq) {
      ++corrupt_;
      return;
    }
    if (o_.flags & ENET_PACKET_FLAG_RELIABLE) {
      if (h.seq != s.expected_seq) ++out_of_order_;
      s.expected_seq = h.seq + 1;
    }
    std::uint64_t t = now_us();
    rtt_.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(t - h.sent_us, UINT32_MAX)));
    ++shared_.echoes_received;
    --shared_.outstanding;
  }

  void finish(ENetHost* host) {
    std::uint64_t lost = 0;
    for (const PeerSlot& s : slots_) {
      if (o_.flags & ENET_PACKET_FLAG_RELIABLE) lost += s.next_seq - s.expected_seq;
    }
    enet_host_destroy(host);
    std::lock_guard lock(shared_.mutex);
    shared_.rtt_us.insert(shared_.rtt_us.end(), rtt_.begin(), rtt_.end());
    shared_.sent += sent_;
    shared_.lost += lost;
    shared_.out_of_order += out_of_order_;
    shared_.corrupt += corrupt_;
    shared_.disconnected_clean += clean_;
  }

  const Options& o_;
  int base_;
  Shared& shared_;
  std::vector<PeerSlot> slots_;
  std::vector<std::uint32_t> rtt_;
  std::uint64_t sent_ = 0, out_of_order_ = 0, corrupt_ = 0, clean_ = 0;
};

int run(const Options& o) {
  if (enet_initialize() != 0) {
    std::fprintf(stderr, "%s: enet_initialize failed\n", kTool);
    return 1;
  }
  Shared shared;
  const std::uint64_t total = static_cast<std::uint64_t>(o.hosts) * static_cast<std::uint64_t>(o.peers_per_host);
  const std::uint64_t start = now_us();
  const std::uint64_t hard_end = start + static_cast<std::uint64_t>(o.seconds * 1e6);
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<HostRunner>> runners;
  for (int h = 0; h < o.hosts; ++h) {
    runners.push_back(std::make_unique<HostRunner>(o, h, shared));
    threads.emplace_back([r = runners.back().get()] { r->run(); });
  }
  auto sleep_until = [&](auto done) {
    while (!done() && now_us() < hard_end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  // Connect: until every peer has connected or failed (or the hard bound).
  sleep_until([&] { return shared.connected + shared.connect_failed >= total; });
  const std::uint64_t connect_end = now_us();
  std::fprintf(stderr, "%s: connected %llu/%llu in %.2f s\n", kTool,
               static_cast<unsigned long long>(shared.connected.load()),
               static_cast<unsigned long long>(total), (connect_end - start) * 1e-6);
  shared.phase = Phase::kWarmup;
  const std::uint64_t warm_end = connect_end + static_cast<std::uint64_t>(o.warmup * 1e6);
  sleep_until([&] { return now_us() >= warm_end; });

  shared.phase = Phase::kWindow;
  const double cpu0 = o.server_pid ? proc_cpu_seconds(o.server_pid) : -1;
  const std::uint64_t echoes0 = shared.echoes_received, dropped0 = shared.dropped;
  const std::uint64_t w0 = now_us();
  const std::uint64_t window_end = w0 + static_cast<std::uint64_t>(o.idle * 1e6);
  sleep_until([&] { return now_us() >= window_end; });
  const std::uint64_t w1 = now_us();
  const double cpu1 = o.server_pid ? proc_cpu_seconds(o.server_pid) : -1;
  const std::uint64_t echoes1 = shared.echoes_received, dropped1 = shared.dropped;
  const std::uint64_t rss = o.server_pid ? proc_memory_kib(o.server_pid, "VmRSS:") : 0;
  const std::uint64_t hwm = o.server_pid ? proc_memory_kib(o.server_pid, "VmHWM:") : 0;

  shared.phase = Phase::kDrain;
  const std::uint64_t drain_end = std::min(hard_end, now_us() + 3'000'000);
  while (shared.outstanding != 0 && now_us() < drain_end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  shared.phase = Phase::kDisconnect;
  for (std::thread& t : threads) t.join();
  CpuTimes self = process_cpu();

  const double window_s = (w1 - w0) * 1e-6;
  const std::uint64_t window_echoes = echoes1 - echoes0;
  const double server_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
  const std::uint64_t first = shared.first_connect_us, last = shared.last_connect_us;
  std::vector<std::uint32_t> rtt = std::move(shared.rtt_us);
  const bool ok = shared.connected == total && shared.dropped == 0 && shared.lost == 0 &&
                  shared.out_of_order == 0 && shared.corrupt == 0;

  JsonObject j;
  j.add("tool", std::string_view(kTool));
  j.add("peers", total);
  j.add("connected", shared.connected.load());
  j.add("connect_failed", shared.connect_failed.load());
  j.add("connect_time_s", last > first ? (last - first) * 1e-6 : 0.0);
  j.add("dropped", shared.dropped.load());
  j.add("dropped_in_window", dropped1 - dropped0);
  j.add("disconnected_clean", shared.disconnected_clean);
  j.add("echoes_sent", shared.sent);
  j.add("echoes_received", shared.echoes_received.load());
  j.add("lost", shared.lost);
  j.add("out_of_order", shared.out_of_order);
  j.add("corrupt", shared.corrupt);
  j.add("rtt_p50_us", percentile(rtt, 50));
  j.add("rtt_p99_us", percentile(rtt, 99));
  j.add("rtt_max_us", percentile(rtt, 100));
  j.add("window_s", window_s);
  j.add("window_echoes", window_echoes);
  j.add("server_cpu_window_s", server_cpu);
  j.add("server_cpu_us_per_echo", server_cpu >= 0 && window_echoes ? server_cpu * 1e6 / window_echoes : 0.0);
  j.add("server_cpu_percent", server_cpu >= 0 && window_s > 0 ? 100 * server_cpu / window_s : 0.0);
  j.add("server_rss_kib", rss);
  j.add("server_hwm_kib", hwm);
  j.add("swarm_cpu_s", self.user_s + self.sys_s);
  j.add("ok", ok);
  std::fputs(j.text().c_str(), stdout);
  bool written = j.write(o.report_json, kTool);
  enet_deinitialize();
  if (!ok) std::fprintf(stderr, "%s: FAILED (see report: connected/dropped/lost/out_of_order)\n", kTool);
  return ok && written ? 0 : 1;
}

}  // namespace
}  // namespace volley::tools

int main(int argc, char** argv) {
  return volley::tools::run(volley::tools::parse(argc, argv));
}
