// volley-bench-udp-echo: the kernel floor of tools/bench/bench.sh, and the load that drives it.
//   serve: one UDP socket; recvmmsg a batch, sendmmsg the same datagrams back to their senders
//          unchanged (no protocol, no state): what any user-space echo pays at least. Datagrams
//          of kAckBytes or fewer are read and not echoed (blast --ack's acknowledgements).
//   blast: open-loop load for it: datagrams from --sockets source ports at --rate per peer
//          (doubling like volley-bots' --rate-double-*), send time stamped in the payload, echoes
//          timed; volley-bots' once-a-second progress line on stderr, so bench.sh parses both alike.
//          --ack answers every echo with a datagram of its own, as a stock libenet client answers
//          a reliable reply: the floor of a reliable echo's datagrams (two in, one out).
// volley-bots cannot drive the floor: an echoed ENet CONNECT is not a VERIFY_CONNECT, so no bot
// ever connects to a plain echo.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "enet_echo_common.hpp"
#include "volley/support/stepped_rate.hpp"

namespace {

constexpr const char* kTool = "volley-bench-udp-echo";
constexpr int kBatch = 64;
constexpr int kBufferBytes = 4 << 20;
constexpr std::size_t kMaxDatagram = 2048;
// libenet's acknowledgement-only datagram: a 4-byte header and one 8-byte ACKNOWLEDGE.
constexpr std::size_t kAckBytes = 12;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int open_socket(const sockaddr_in& bind_to) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  int bytes = kBufferBytes;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool parse_address(const std::string& text, sockaddr_in& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  out = {};
  out.sin_family = AF_INET;
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &out.sin_addr) != 1) return false;
  const long port = std::strtol(text.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) return false;
  out.sin_port = htons(static_cast<std::uint16_t>(port));
  return true;
}

// Receive/send batch buffers: kBatch datagrams, each with its own source address.
struct Batch {
  std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(kBatch * kMaxDatagram);
  std::vector<iovec> iov = std::vector<iovec>(kBatch);
  std::vector<sockaddr_in> from = std::vector<sockaddr_in>(kBatch);
  std::vector<mmsghdr> msgs = std::vector<mmsghdr>(kBatch);
  // Resets the first `count` headers: the ones the last recvmmsg (or an echo's compaction) wrote.
  // Re-arming all 64 after every call cost more user-space instructions than the rest of the
  // echo, and the floor is meant to show what the kernel interface costs.
  void arm(int count = kBatch) {
    for (int i = 0; i < count; ++i) {
      iov[i] = {bytes.data() + i * kMaxDatagram, kMaxDatagram};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
};

int serve(const std::string& bind_text, int port, double seconds, const std::string& stats_json) {
  sockaddr_in a{};
  if (!parse_address(bind_text + ":1", a)) volley::tools::usage_error(kTool, "--bind wants an IPv4 address");
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const int fd = open_socket(a);
  if (fd < 0) {
    std::fprintf(stderr, "%s: cannot bind %s:%d: %s\n", kTool, bind_text.c_str(), port, std::strerror(errno));
    return 1;
  }
  timeval tv{0, 100'000};  // wake to notice SIGINT and the end even when idle
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  std::printf("listening %s:%u\n", ip, ntohs(a.sin_port));
  std::fflush(stdout);
  Batch b;
  std::uint64_t in = 0, out = 0, batches = 0;
  const std::int64_t end = seconds > 0 ? now_ns() + static_cast<std::int64_t>(seconds * 1e9) : INT64_MAX;
  b.arm();
  while (!g_stop && now_ns() < end) {
    const int n = recvmmsg(fd, b.msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    in += static_cast<std::uint64_t>(n);
    ++batches;
    int echoes = 0;
    for (int i = 0; i < n; ++i) {
      if (b.msgs[i].msg_len <= kAckBytes) continue;
      b.iov[i].iov_len = b.msgs[i].msg_len;  // echo as received
      b.msgs[echoes++] = b.msgs[i];           // its header still points at iov[i] and from[i]
    }
    for (int sent = 0; sent < echoes;) {
      const int k = sendmmsg(fd, b.msgs.data() + sent, static_cast<unsigned>(echoes - sent), 0);
      if (k <= 0) break;  // a full send buffer drops the rest, as a real server would
      sent += k;
      out += static_cast<std::uint64_t>(k);
    }
    b.arm(n);
  }
  close(fd);
  volley::tools::JsonObject j;
  j.add("packets_in", in);
  j.add("packets_out", out);
  j.add("recv_batches", batches);
  const volley::tools::CpuTimes cpu = volley::tools::process_cpu();
  j.add("cpu_user_s", cpu.user_s);
  j.add("cpu_sys_s", cpu.sys_s);
  return j.write(stats_json, kTool) ? 0 : 1;
}

std::string pps(double v) {
  char b[32];
  if (v >= 1e6) std::snprintf(b, sizeof b, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(b, sizeof b, "%.1fk", v / 1e3);
  else std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

struct BlastOptions {
  std::string server;
  int peers = 64, sockets = 64, size = 76;
  bool ack = false;
  double rate = 10, seconds = 10, double_after = 0, double_every = 0;
  std::string report_json;
};

int blast(const BlastOptions& o) {
  sockaddr_in target{};
  if (!parse_address(o.server, target)) volley::tools::usage_error(kTool, "--server wants IPv4:PORT");
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = target.sin_addr;
  std::vector<int> fds;
  std::vector<pollfd> pfds;
  for (int i = 0; i < o.sockets; ++i) {
    const int fd = open_socket(local);
    if (fd < 0) {
      std::fprintf(stderr, "%s: cannot open socket %d: %s\n", kTool, i, std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
    pfds.push_back(pollfd{fd, POLLIN, 0});
  }
  std::vector<std::uint8_t> payload(static_cast<std::size_t>(o.size), 'v');
  std::vector<std::vector<std::uint64_t>> stamps(fds.size());
  std::vector<iovec> send_iov;
  std::vector<mmsghdr> send_msgs;
  std::uint8_t ack_bytes[kAckBytes] = {};
  std::vector<iovec> ack_iov(kBatch, iovec{ack_bytes, kAckBytes});
  std::vector<mmsghdr> ack_msgs(kBatch);
  for (int i = 0; i < kBatch; ++i) {
    ack_msgs[i].msg_hdr.msg_name = &target;
    ack_msgs[i].msg_hdr.msg_namelen = sizeof target;
    ack_msgs[i].msg_hdr.msg_iov = &ack_iov[i];
    ack_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  Batch rx;
  const std::int64_t start = now_ns();
  const std::int64_t end = start + static_cast<std::int64_t>(o.seconds * 1e9);
  double due = 0;
  std::uint64_t sent = 0, got = 0, sent_mark = 0, got_mark = 0, send_errors = 0, next_socket = 0, acks = 0;
  std::int64_t last = start, next_sample = start + 1'000'000'000;
  std::vector<double> rtt_second, rtt_all;
  auto rate_at = [&](std::int64_t t) {
    return volley::support::stepped_rate(o.rate, static_cast<double>(t - start) * 1e-9, o.double_after, o.double_every);
  };
  while (!g_stop) {
    const std::int64_t t = now_ns();
    if (t >= end) break;
    due += static_cast<double>(t - last) * 1e-9 * rate_at(t) * o.peers;
    last = t;
    // Datagrams owed, round-robin over the sockets; one sendmmsg per socket with its share.
    auto owed = static_cast<std::uint64_t>(due) - sent;
    if (owed > 0) {
      for (auto& s : stamps) s.clear();
      for (std::uint64_t k = 0; k < owed; ++k) stamps[next_socket++ % fds.size()].push_back(static_cast<std::uint64_t>(t));
      for (std::size_t s = 0; s < fds.size(); ++s) {
        if (stamps[s].empty()) continue;
        send_iov.assign(stamps[s].size(), iovec{payload.data(), payload.size()});
        send_msgs.assign(stamps[s].size(), mmsghdr{});
        std::memcpy(payload.data(), &stamps[s][0], sizeof(std::uint64_t));  // same stamp for the batch
        for (std::size_t i = 0; i < stamps[s].size(); ++i) {
          send_msgs[i].msg_hdr.msg_name = &target;
          send_msgs[i].msg_hdr.msg_namelen = sizeof target;
          send_msgs[i].msg_hdr.msg_iov = &send_iov[i];
          send_msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = sendmmsg(fds[s], send_msgs.data(), static_cast<unsigned>(send_msgs.size()), 0);
        const std::uint64_t done = n > 0 ? static_cast<std::uint64_t>(n) : 0;
        send_errors += stamps[s].size() - done;
      }
      sent += owed;  // offered, whether or not the kernel took it (errors counted)
    }
    const int ready = poll(pfds.data(), pfds.size(), 1);
    for (std::size_t s = 0; ready > 0 && s < pfds.size(); ++s) {
      if (!(pfds[s].revents & POLLIN)) continue;
      for (;;) {
        rx.arm();
        const int n = recvmmsg(fds[s], rx.msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        const std::int64_t at = now_ns();
        for (int i = 0; i < n; ++i) {
          std::uint64_t stamp = 0;
          if (rx.msgs[i].msg_len >= sizeof stamp) std::memcpy(&stamp, rx.bytes.data() + i * kMaxDatagram, sizeof stamp);
          const double us = static_cast<double>(at - static_cast<std::int64_t>(stamp)) / 1e3;
          rtt_second.push_back(us);
        }
        got += static_cast<std::uint64_t>(n);
        if (o.ack) {
          const int k = sendmmsg(fds[s], ack_msgs.data(), static_cast<unsigned>(n), 0);
          acks += k > 0 ? static_cast<std::uint64_t>(k) : 0;
        }
        if (n < kBatch) break;
      }
    }
    if (now_ns() >= next_sample) {
      const double dt = static_cast<double>(now_ns() - (next_sample - 1'000'000'000)) * 1e-9;
      const double p50 = percentile(rtt_second, 50), p99 = percentile(rtt_second, 99);
      std::fprintf(stderr, "t=%.0fs connected %d/%d in %s pps out %s pps rtt p50 %.2f p99 %.2f ms errors %llu\n",
                   static_cast<double>(next_sample - start) * 1e-9, o.peers, o.peers,
                   pps(static_cast<double>(got - got_mark) / dt).c_str(), pps(static_cast<double>(sent - sent_mark) / dt).c_str(),
                   p50 / 1e3, p99 / 1e3, static_cast<unsigned long long>(send_errors));
      // Every 16th sample kept for the whole-run percentiles (bounded memory).
      for (std::size_t i = 0; i < rtt_second.size(); i += 16) rtt_all.push_back(rtt_second[i]);
      rtt_second.clear();
      got_mark = got;
      sent_mark = sent;
      next_sample += 1'000'000'000;
    }
  }
  for (const int fd : fds) close(fd);
  volley::tools::JsonObject j;
  j.add("tool", std::string_view(kTool));
  j.add("bots", static_cast<std::uint64_t>(o.peers));
  j.add("connected", static_cast<std::uint64_t>(o.peers));
  j.add("packets_out", sent);
  j.add("packets_in", got);
  j.add("send_errors", send_errors);
  j.add("acks_sent", acks);
  j.add("rtt_p50_us", static_cast<std::uint64_t>(percentile(rtt_all, 50)));
  j.add("rtt_p99_us", static_cast<std::uint64_t>(percentile(rtt_all, 99)));
  const volley::tools::CpuTimes cpu = volley::tools::process_cpu();
  j.add("cpu_user_s", cpu.user_s);
  j.add("cpu_sys_s", cpu.sys_s);
  return j.write(o.report_json, kTool) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("volley-bench-udp-echo: the raw recvmmsg/sendmmsg echo (serve) and its load (blast)", kTool);
  app.require_subcommand(1);
  std::string bind_text = "127.0.0.1", stats_json;
  int port = 0;
  double serve_seconds = 0;
  CLI::App* serve_cmd = app.add_subcommand("serve", "echo every datagram back unchanged");
  serve_cmd->add_option("--bind", bind_text);
  serve_cmd->add_option("--port", port)->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--seconds", serve_seconds, "0 = until SIGINT")->check(CLI::Range(0.0, 1e9));
  serve_cmd->add_option("--stats-json", stats_json);
  BlastOptions b;
  CLI::App* blast_cmd = app.add_subcommand("blast", "offer datagrams to an echo and time the echoes");
  blast_cmd->add_option("--server", b.server, "IPv4:PORT")->required();
  blast_cmd->add_option("--peers", b.peers, "the offered rate is --rate x this")->check(CLI::Range(1, 1'000'000));
  blast_cmd->add_option("--sockets", b.sockets, "source ports")->check(CLI::Range(1, 1024));
  blast_cmd->add_option("--size", b.size, "datagram bytes (more than an ack's 12)")->check(CLI::Range(16, 1400));
  blast_cmd->add_flag("--ack", b.ack, "answer every echo with a 12-byte datagram, as libenet acknowledges a reliable reply");
  blast_cmd->add_option("--rate", b.rate, "datagrams per peer per second")->check(CLI::Range(0.0, 1e6));
  blast_cmd->add_option("--seconds", b.seconds)->check(CLI::Range(0.1, 1e6));
  blast_cmd->add_option("--rate-double-after", b.double_after)->check(CLI::Range(0.0, 1e6));
  blast_cmd->add_option("--rate-double-every", b.double_every)->check(CLI::Range(0.0, 1e6));
  blast_cmd->add_option("--report-json", b.report_json);
  volley::support::parse_cli_or_exit(app, argc, argv);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (*serve_cmd) return serve(bind_text, port, serve_seconds, stats_json);
  b.sockets = std::min(b.sockets, b.peers);
  return blast(b);
}
