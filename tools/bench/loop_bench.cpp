// volley-bench-loop: echoed datagrams per second and server CPU-µs per datagram for each engine
// backend and for a plain recvfrom/sendto loop (one datagram per system call, the reference),
// at the same offered load, with the load generator and the server pinned to different cores.
// The generator offers a fixed rate in bursts (many clients' datagrams landing together, as a
// game server sees them each tick) with sendmmsg, and drains echoes with recvmmsg.
// Server CPU = process CPU (getrusage, includes io_uring worker threads) minus generator thread
// CPU, over a measurement window after a warm-up.
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "volley/engine/loop.hpp"
#include "volley/support/cli.hpp"
#include "volley/support/process_cpu.hpp"

namespace {

using namespace volley::engine;

struct Options {
  double seconds = 2.0;
  double warmup_seconds = 0.5;
  double rate = 100'000;   // offered datagrams per second
  int burst = 32;          // datagrams per generator sendmmsg
  std::vector<std::size_t> sizes = {64, 1200};
  // Generator sockets, i.e. distinct client addresses. 1: every echo in a batch goes to one
  // peer, so the batching backends can merge them with UDP GSO. 32: one datagram per client
  // per burst, as when many game clients each send one input packet per tick; no merging.
  std::vector<int> clients = {1, 32};
  int generator_cpu = 0;
  int loop_cpu = 1;
  int repeat = 3;        // interleaved rounds; the table shows medians
  std::vector<std::string> servers;  // case names to run; empty runs all
};

enum class ServerKind { kReference, kEngine };

struct Case {
  std::string name;
  ServerKind kind;
  Backend backend = Backend::kAuto;
  bool gso = true;
  bool mmsg = false;           // the reference batches (recvmmsg/sendmmsg)
  bool single_thread = false;  // LoopConfig::single_thread (as volley-server runs io_uring)
};

struct Result {
  double echoed_per_s = 0;
  double lost_percent = 0;
  double cpu_us_per_datagram = 0;
  double syscalls_per_datagram = 0;
  double batch = 0;         // datagrams per receive batch
  double per_message = 0;   // datagrams per kernel send operation (GSO merges runs)
};

// Also names the thread so a profiler can tell the server from the generator.
bool pin_to(int cpu, const char* name) {
  pthread_setname_np(pthread_self(), name);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

double process_cpu_us() { return volley::support::process_cpu().total_s() * 1e6; }

double thread_cpu_us(pthread_t thread) {
  clockid_t clock;
  if (pthread_getcpuclockid(thread, &clock) != 0) return 0;
  timespec ts{};
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int udp_socket(sockaddr_in* bound, bool nonblocking, int buffer_bytes) {
  const int fd = socket(AF_INET, SOCK_DGRAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *bound = a;
  return fd;
}

constexpr int kBufferBytes = 4 << 20;

// The references: what a simple game server does, one recvfrom and one sendto per datagram;
// and the kernel floor for a batching server, one blocking recvmmsg (MSG_WAITFORONE, up to 64)
// and one sendmmsg of the same datagrams back to their senders per batch.
class ReferenceServer {
 public:
  ReferenceServer(int cpu, bool mmsg) {
    fd_ = udp_socket(&address_, false, kBufferBytes);
    timeval tv{0, 100'000};  // lets the thread notice stop even if the stop datagram is lost
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    thread_ = std::thread([this, cpu, mmsg] {
      pin_to(cpu, "bench-server");
      if (mmsg) {
        run_mmsg();
        return;
      }
      std::vector<char> buf(65536);
      while (!stop_.load(std::memory_order_relaxed)) {
        sockaddr_in from{};
        socklen_t from_len = sizeof(from);
        const ssize_t n =
            recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n <= 0) continue;
        sendto(fd_, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
               from_len);
        syscalls_.fetch_add(2, std::memory_order_relaxed);
        batches_.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  ~ReferenceServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  sockaddr_in address() const { return address_; }
  std::uint64_t syscalls() const { return syscalls_.load(); }
  std::uint64_t batches() const { return batches_.load(); }

 private:
  void run_mmsg() {
    constexpr int kBatch = 64;
    std::vector<char> bytes(kBatch * 2048);
    std::vector<iovec> iov(kBatch);
    std::vector<sockaddr_in> from(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    while (!stop_.load(std::memory_order_relaxed)) {
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {bytes.data() + i * 2048, 2048};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(fd_, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
      if (n <= 0) continue;
      for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
      sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), 0);
      syscalls_.fetch_add(2, std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  int fd_ = -1;
  sockaddr_in address_{};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> syscalls_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::thread thread_;
};

class EngineServer {
 public:
  EngineServer(Backend backend, bool gso, bool single_thread, int cpu) {
    std::atomic<bool> ready{false};
    // open(), run() and close() all happen on this thread: single_thread holds.
    thread_ = std::thread([this, backend, gso, single_thread, cpu, &ready] {
      pin_to(cpu, "bench-server");
      LoopConfig config;
      config.bind = Address::loopback_v4(0);
      config.backend = backend;
      config.recv_buffer_bytes = kBufferBytes;
      config.send_buffer_bytes = kBufferBytes;
      config.recv_buffers = 1024;
      config.udp_gso = gso;
      config.single_thread = single_thread;
      Loop::Opened opened = Loop::open(config);
      if (!opened) {
        error_ = opened.error;
        ready = true;
        return;
      }
      loop_ = std::move(opened.loop);
      loop_->set_handler([this](std::span<const DatagramView> batch) {
        out_.clear();
        for (const DatagramView& d : batch) out_.push_back(OutDatagram{d.bytes, d.from});
        loop_->send(out_);
      });
      ready = true;
      loop_->run();
      stats_ = loop_->stats();
      loop_->close();
    });
    while (!ready) std::this_thread::yield();
  }
  ~EngineServer() { finish(); }
  void finish() {
    if (thread_.joinable()) {
      if (loop_) loop_->stop();
      thread_.join();
    }
  }
  bool ok() const { return loop_ != nullptr; }
  const std::string& error() const { return error_; }
  Backend backend() const { return loop_->backend(); }
  sockaddr_in address() const {
    sockaddr_in a{};
    std::memcpy(&a, loop_->local_address().sockaddr(), sizeof(a));
    return a;
  }
  const Stats& final_stats() const { return stats_; }

 private:
  std::unique_ptr<Loop> loop_;
  std::string error_;
  std::vector<OutDatagram> out_;
  Stats stats_;
  std::thread thread_;
};

// Open-loop load: `burst` datagrams every burst/rate seconds, spread round-robin over the
// client sockets (sendmmsg per socket), echoes drained with recvmmsg in between.
class Generator {
 public:
  Generator(sockaddr_in target, const Options& options, std::size_t size, int clients, int cpu) {
    for (int i = 0; i < clients; ++i) {
      sockaddr_in self{};
      // Large per-client buffers: a descheduled generator must not drop echoes itself.
      fds_.push_back(udp_socket(&self, true, kBufferBytes));
    }
    thread_ = std::thread([this, target, &options, size, cpu] {
      pin_to(cpu, "bench-generator");
      run(target, options, size);
    });
  }
  ~Generator() {
    stop_ = true;
    thread_.join();
    for (const int fd : fds_) close(fd);
  }
  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t echoed() const { return echoed_.load(std::memory_order_relaxed); }
  pthread_t handle() { return thread_.native_handle(); }

 private:
  void run(sockaddr_in target, const Options& options, std::size_t size) {
    const int burst = options.burst;
    const int clients = static_cast<int>(fds_.size());
    std::vector<char> payload(size, 'v');
    std::vector<iovec> send_iov(burst, iovec{payload.data(), size});
    std::vector<mmsghdr> send_msgs(burst);
    for (int i = 0; i < burst; ++i) {
      send_msgs[i].msg_hdr = {};
      send_msgs[i].msg_hdr.msg_name = &target;
      send_msgs[i].msg_hdr.msg_namelen = sizeof(target);
      send_msgs[i].msg_hdr.msg_iov = &send_iov[i];
      send_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    constexpr int kRecv = 256;
    std::vector<char> recv_bytes(kRecv * 2048);
    std::vector<iovec> recv_iov(kRecv);
    std::vector<mmsghdr> recv_msgs(kRecv);
    for (int i = 0; i < kRecv; ++i) {
      recv_iov[i] = {recv_bytes.data() + i * 2048, 2048};
      recv_msgs[i].msg_hdr = {};
      recv_msgs[i].msg_hdr.msg_iov = &recv_iov[i];
      recv_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const auto interval = std::chrono::nanoseconds(static_cast<long long>(1e9 * burst / options.rate));
    auto next = std::chrono::steady_clock::now();
    int next_client = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const auto t = std::chrono::steady_clock::now();
      if (t >= next) {
        // Round-robin: datagram i of the burst comes from client (next_client + i) % clients.
        for (int c = 0; c < std::min(burst, clients); ++c) {
          const int share = burst / clients + (c < burst % clients ? 1 : 0);
          const int fd = fds_[(next_client + c) % clients];
          const int n = sendmmsg(fd, send_msgs.data(), static_cast<unsigned>(share), 0);
          if (n > 0) sent_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        }
        next_client = (next_client + burst) % clients;
        next += interval;
        if (t - next > std::chrono::milliseconds(100)) next = t;  // never "catch up" in a flood
      }
      for (const int fd : fds_) {
        const int got = recvmmsg(fd, recv_msgs.data(), kRecv, MSG_DONTWAIT, nullptr);
        if (got > 0) echoed_.fetch_add(static_cast<std::uint64_t>(got), std::memory_order_relaxed);
      }
    }
  }

  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> echoed_{0};
  std::thread thread_;
};

struct Window {
  double wall_us, process_us, generator_us;
  std::uint64_t sent, echoed;
};

Window snapshot(Generator& g) {
  return Window{static_cast<double>(now()), process_cpu_us(), thread_cpu_us(g.handle()), g.sent(),
                g.echoed()};
}

template <class Server>
Result measure(Server& server, sockaddr_in target, const Options& options, std::size_t size,
               int clients, std::uint64_t (*syscalls)(Server&), std::uint64_t (*batches)(Server&)) {
  Generator generator(target, options, size, clients, options.generator_cpu);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_seconds));
  const Window a = snapshot(generator);
  const std::uint64_t sys_a = syscalls(server);
  const std::uint64_t batch_a = batches(server);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  const Window b = snapshot(generator);
  const std::uint64_t sys_b = syscalls(server);
  const std::uint64_t batch_b = batches(server);
  Result r;
  const double echoed = static_cast<double>(b.echoed - a.echoed);
  const double sent = static_cast<double>(b.sent - a.sent);
  r.echoed_per_s = echoed / ((b.wall_us - a.wall_us) / 1e6);
  r.lost_percent = sent > 0 ? std::max(0.0, 100.0 * (sent - echoed) / sent) : 0;
  const double server_cpu = (b.process_us - a.process_us) - (b.generator_us - a.generator_us);
  r.cpu_us_per_datagram = echoed > 0 ? server_cpu / echoed : 0;
  r.syscalls_per_datagram = echoed > 0 ? static_cast<double>(sys_b - sys_a) / echoed : 0;
  r.batch = batch_b > batch_a ? echoed / static_cast<double>(batch_b - batch_a) : 0;
  return r;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::optional<Result> run_case(const Case& c, std::size_t size, int clients, const Options& options) {
  if (c.kind == ServerKind::kReference) {
    ReferenceServer server(options.loop_cpu, c.mmsg);
    Result r = measure<ReferenceServer>(
        server, server.address(), options, size, clients,
        [](ReferenceServer& s) { return s.syscalls(); },
        [](ReferenceServer& s) { return s.batches(); });
    r.per_message = 1;
    return r;
  }
  EngineServer server(c.backend, c.gso, c.single_thread, options.loop_cpu);
  if (!server.ok() || server.backend() != c.backend) {
    std::printf("%-7d %-6zu %-16s failed: %s\n", clients, size, c.name.c_str(),
                server.error().c_str());
    return std::nullopt;
  }
  Result r = measure<EngineServer>(
      server, server.address(), options, size, clients,
      [](EngineServer&) { return std::uint64_t{0}; },
      [](EngineServer&) { return std::uint64_t{0}; });
  server.finish();
  const Stats& s = server.final_stats();
  // Whole-run ratios (warm-up included) from the loop's own counters.
  const double in = static_cast<double>(s[Counter::kDatagramsIn]);
  r.syscalls_per_datagram = in > 0 ? static_cast<double>(s[Counter::kSyscalls]) / in : 0;
  r.batch = s[Counter::kRecvBatches] > 0 ? in / static_cast<double>(s[Counter::kRecvBatches]) : 0;
  // kSubmissions also counts the few receive/wake (re-)arms; negligible at this volume.
  r.per_message = s[Counter::kSubmissions] > 0 ? static_cast<double>(s[Counter::kDatagramsOut]) /
                                                     static_cast<double>(s[Counter::kSubmissions])
                                               : 0;
  if (s[Counter::kRecvExhausted] + s[Counter::kTruncated] > 0) {
    std::printf("  (%s, %d clients, %zu bytes: %llu receive-buffer exhaustions, %llu truncated)\n",
                c.name.c_str(), clients, size,
                static_cast<unsigned long long>(s[Counter::kRecvExhausted]),
                static_cast<unsigned long long>(s[Counter::kTruncated]));
  }
  return r;
}

const char* const kUsage =
    "usage: volley-bench-loop [--seconds S] [--rate DGRAMS_PER_S] [--burst N] [--repeat N]\n"
    "                         [--sizes 64,1200] [--clients 1,32] [--cpus GEN,LOOP]\n"
    "                         [--servers recvfrom/sendto,recvmmsg/sendmmsg,io_uring,io_uring-st,epoll,\n"
    "                                    io_uring-nogso,epoll-nogso]\n"
    "io_uring-st: single_thread (SINGLE_ISSUER | DEFER_TASKRUN), as volley-server runs it\n";

// The flags on CLI11 (volley/support/cli.hpp); an empty error means options are ready.
std::string parse_options(int argc, char** argv, Options& options, bool& help) {
  std::vector<int> cpus;
  CLI::App app("volley-bench-loop");
  app.add_option("--seconds", options.seconds)->check(CLI::Range(0.001, 60.0));
  app.add_option("--rate", options.rate)->check(CLI::Range(1.0, 1e9));
  app.add_option("--burst", options.burst)->check(CLI::Range(1, 1024));
  app.add_option("--repeat", options.repeat)->check(CLI::Range(1, 20));
  app.add_option("--sizes", options.sizes)->delimiter(',')->check(CLI::Range(1, 2048));
  app.add_option("--clients", options.clients)->delimiter(',')->check(CLI::Range(1, 256));
  app.add_option("--cpus", cpus)->delimiter(',')->expected(2)->check(CLI::Range(0, 1023));
  app.add_option("--servers", options.servers)->delimiter(',');
  const std::vector<std::string> args(argv + 1, argv + argc);
  const volley::support::CliOutcome outcome = volley::support::parse_cli(app, args);
  help = outcome.help;
  if (!outcome.error.empty() || help) return outcome.error;
  if (cpus.size() == 2) {
    options.generator_cpu = cpus[0];
    options.loop_cpu = cpus[1];
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool help = false;
  if (const std::string error = parse_options(argc, argv, options, help); !error.empty()) {
    std::fprintf(stderr, "volley-bench-loop: %s\n", error.c_str());
    return 2;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::vector<Case> cases = {{"recvfrom/sendto", ServerKind::kReference},
                             {"recvmmsg/sendmmsg", ServerKind::kReference, Backend::kAuto, false, true}};
  for (const Backend b : available_backends()) {
    cases.push_back({std::string(backend_name(b)), ServerKind::kEngine, b});
  }
  if (backend_unavailable_reason(Backend::kIoUring).empty()) {
    cases.push_back({"io_uring-st", ServerKind::kEngine, Backend::kIoUring, true, false, true});
  }
  // The same backends with UDP GSO off: how much of the gain is merging sends to one peer.
  for (const Backend b : available_backends()) {
    cases.push_back({std::string(backend_name(b)) + "-nogso", ServerKind::kEngine, b, false});
  }
  // A name that is no case here would run nothing at all.
  for (const std::string& name : options.servers) {
    if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return c.name == name; })) {
      std::string known;
      for (const Case& c : cases) known += (known.empty() ? "" : ", ") + c.name;
      std::fprintf(stderr, "volley-bench-loop: --servers: '%s' is not a case on this machine (%s)\n", name.c_str(),
                   known.c_str());
      return 2;
    }
  }
  if (std::thread::hardware_concurrency() < 2) {
    std::fprintf(stderr, "volley-bench-loop: fewer than 2 CPUs, results will be meaningless\n");
  }
  if (const std::string why = backend_unavailable_reason(Backend::kIoUring); !why.empty()) {
    std::printf("io_uring not measured: %s\n", why.c_str());
  }
  std::printf("offered load %.0f datagrams/s in bursts of %d; %.1f s per case after %.1f s warm-up; "
              "median of %d interleaved rounds; generator on cpu %d, server on cpu %d\n"
              "cpu_us/dgram = server CPU (user+sys, all its threads) per echoed datagram; vs_ref = "
              "that / the recvfrom/sendto loop's, median and range over rounds\n\n",
              options.rate, options.burst, options.seconds, options.warmup_seconds, options.repeat,
              options.generator_cpu, options.loop_cpu);
  std::printf("%-7s %-6s %-16s %10s %6s %12s %8s %10s %9s %8s %8s\n", "clients", "bytes",
              "server", "echoed/s", "lost%", "cpu_us/dgram", "vs_ref", "range", "sys/dgram",
              "dgram/rx", "dgram/tx");
  for (const int clients : options.clients) {
    for (const std::size_t size : options.sizes) {
      std::vector<const Case*> selected;
      for (const Case& c : cases) {
        if (!options.servers.empty() &&
            std::find(options.servers.begin(), options.servers.end(), c.name) == options.servers.end()) {
          continue;
        }
        // With one datagram per client per burst GSO has nothing to merge: "off" rows would
        // repeat the "on" rows.
        if (!c.gso && clients >= options.burst && options.servers.empty()) continue;
        selected.push_back(&c);
      }
      // Rounds interleave the cases, so a noisy neighbour hurts them alike; medians are shown.
      std::vector<std::vector<Result>> results(selected.size());
      std::vector<std::vector<double>> ratios(selected.size());
      for (int round = 0; round < options.repeat; ++round) {
        double reference_cpu = 0;
        for (std::size_t i = 0; i < selected.size(); ++i) {
          const std::optional<Result> r = run_case(*selected[i], size, clients, options);
          if (!r) continue;
          if (selected[i]->kind == ServerKind::kReference && !selected[i]->mmsg) {
            reference_cpu = r->cpu_us_per_datagram;
          }
          results[i].push_back(*r);
          if (reference_cpu > 0) ratios[i].push_back(r->cpu_us_per_datagram / reference_cpu);
        }
      }
      for (std::size_t i = 0; i < selected.size(); ++i) {
        if (results[i].empty()) continue;
        auto median = [&](double Result::*field) {
          std::vector<double> v;
          for (const Result& r : results[i]) v.push_back(r.*field);
          return median_of(v);
        };
        const auto [low, high] = ratios[i].empty()
                                     ? std::pair<double, double>{0, 0}
                                     : std::pair<double, double>{
                                           *std::min_element(ratios[i].begin(), ratios[i].end()),
                                           *std::max_element(ratios[i].begin(), ratios[i].end())};
        std::printf("%-7d %-6zu %-16s %10.0f %6.2f %12.3f %7.2fx %5.2f-%4.2f %9.3f %8.1f %8.1f\n",
                    clients, size, selected[i]->name.c_str(), median(&Result::echoed_per_s),
                    median(&Result::lost_percent), median(&Result::cpu_us_per_datagram),
                    median_of(ratios[i]), low, high, median(&Result::syscalls_per_datagram),
                    median(&Result::batch), median(&Result::per_message));
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
