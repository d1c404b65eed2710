// The volley-server executable against its DESIGN.md contract: exit 2 with one line on bad
// flags, demo mode ticking with the snapshot figures in its JSON, the "listening ADDR:PORT" line, graceful stop on SIGINT and on
// --seconds, and the stats JSON keys.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loopback_client.hpp"
#include "volley/server/version.hpp"

namespace {

// A spawned volley-server, owned: a test that stops early (a failed REQUIRE) must not leave it
// running, so the destructor kills it by its pid if it has not been reaped, and closes the pipes.
struct Child {
  pid_t pid = -1;
  int out = -1;  // stdout pipe
  int err = -1;  // stderr pipe

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& other) noexcept
      : pid(std::exchange(other.pid, -1)), out(std::exchange(other.out, -1)), err(std::exchange(other.err, -1)) {}
  ~Child() {
    // waitpid answers 0 only for our own child that is still running (not once it was reaped).
    if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out >= 0) close(out);
    if (err >= 0) close(err);
  }
};

Child spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  REQUIRE(pipe(out) == 0);
  REQUIRE(pipe(err) == 0);
  Child c;
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // nor when the test process itself dies
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv;
    std::string exe = VOLLEY_SERVER_EXE;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads until EOF or `stop_at` appears or the time runs out.
std::string read_some(int fd, int timeout_ms, const std::string& stop_at = {}) {
  std::string text;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    char buf[512];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (!stop_at.empty() && text.find(stop_at) != std::string::npos) break;
  }
  return text;
}

int wait_exit(pid_t pid, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// The port of the child's "listening ADDR:PORT" line.
std::uint16_t listening_port(const Child& c) {
  const std::string line = read_some(c.out, 5000, "\n");
  REQUIRE(line.rfind("listening ", 0) == 0);
  return static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
}

void connect_and_wait(volley::server::test::LoopbackClient& client) {
  client.connect(1, 0);
  REQUIRE(client.run_until([&] { return client.peer().state() == volley::protocol::PeerState::kConnected; }, 3000));
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result run_to_end(const std::vector<std::string>& args, int timeout_ms = 10000) {
  Child c = spawn(args);
  std::string err = read_some(c.err, timeout_ms);
  std::string out = read_some(c.out, 100);
  const int code = wait_exit(c.pid, timeout_ms);
  return {code, out, err};
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string temp_path(const char* name) {
  return "/tmp/volley_server_app_test_" + std::to_string(getpid()) + "_" + name;
}

const char* const kKeys[] = {"connects", "disconnects", "timeouts", "packets_in", "packets_out",
                             "bytes_in", "bytes_out", "datagrams_in", "datagrams_out",
                             "bad_datagrams", "peers_peak", "cpu_user_s", "cpu_sys_s", "backend"};

TEST_CASE("bad flags: exit 2 with one line on stderr") {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--mode", "chat"},
      {"--mode", "echo", "--port", "70000"},
      {"--mode", "echo", "--port", "12x"},
      {"--mode", "echo", "--max-peers", "0"},
      {"--mode", "echo", "--channels", "256"},
      {"--mode", "echo", "--backend", "kqueue"},
      {"--mode", "echo", "--log-level", "loud"},
      {"--mode", "echo", "--seconds", "-1"},
      {"--mode", "echo", "--seconds", "0"},
      {"--mode", "echo", "--bind", "example.com"},
      {"--mode", "echo", "--frobnicate"},
      {"--mode", "echo", "--port"},
      {"--mode", "echo", "--checksum=yes"},
      {"--mode", "demo", "--tick-hz", "0.5"},
      {"--mode", "demo", "--tick-hz", "1.5"},  // the tick is whole hertz: not silently 2
      {"--mode", "demo", "--view-cell", "nan"},
      {"--mode", "echo", "--status-interval", "nan"},
      {"--mode", "echo", "--status-interval", "1e-300"},  // a flood, not a status line
      {"--mode", "echo", "--agones-health-interval", "nan"},
      {"--mode", "demo", "--entities", "-3"},
      {"--mode", "demo", "--seed", "x"},
      {"--mode", "demo", "--seed", "-1"},  // wrapped to 2^64 - 1
      // Found before the run, not after it.
      {"--mode", "echo", "--stats-json", "/nonexistent-volley-dir/stats.json"},
      {"--mode", "echo", "--stats-json", "/tmp"},
      // Limits (README "Limits"): out of range, not a number, or inconsistent with each other.
      {"--mode", "echo", "--per-ip-cap", "-1"},
      {"--mode", "echo", "--max-packet-size", "0"},
      {"--mode", "echo", "--max-fragments", "many"},
      {"--mode", "echo", "--max-waiting-data", "1000"},  // below the 4 MiB packet size
      {"--mode", "echo", "--max-waiting-total", "1048576"},  // below the 8 MiB per peer
      {"--mode", "echo", "--max-held-commands", "0"},
      {"--mode", "echo", "--max-queued-data", "1024"},
      {"--mode", "echo", "--handshake-rate", "-5"},
      {"--mode", "echo", "--handshake-burst", "0"},
      {"--mode", "echo", "--handshake-rate-per-ip", "1e3x"},
      {"--mode", "echo", "--handshake-burst-per-ip", "0"},
      {"--mode", "demo", "--max-inputs-per-s", "-1"},
      {"--mode", "demo", "--input-burst", "0"},
      // Peer timeouts (README "Limits"): libenet's limit must be positive, min <= max.
      {"--mode", "echo", "--peer-timeout-limit", "0"},
      {"--mode", "echo", "--peer-timeout-min", "9000", "--peer-timeout-max", "8000"},
      {"--mode", "echo", "--peer-rto-cap", "-1"},
      {"--mode", "echo", "--keepalive", "always"},
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    INFO("args: ", joined);
    const Result r = run_to_end(args);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(!r.err.empty());
    CHECK(r.err.find('\n') == r.err.size() - 1);
  }
}

TEST_CASE("a value that is not a number is named so, not as out of range") {
  const struct {
    std::vector<std::string> args;
    std::string line;
  } cases[] = {
      {{"--mode", "echo", "--port", "abc"}, "volley-server: error: --port: expected an integer, got 'abc'\n"},
      {{"--mode", "echo", "--port", "12x"}, "volley-server: error: --port: expected an integer, got '12x'\n"},
      {{"--mode", "echo", "--max-fragments", "many"},
       "volley-server: error: --max-fragments: expected an integer, got 'many'\n"},
      {{"--mode", "demo", "--tick-hz", "fast"}, "volley-server: error: --tick-hz: expected a number, got 'fast'\n"},
      // Above Config::tick_hz's maximum: the flag's range says so, not Server::create's "tick_hz must be 0..1000".
      {{"--mode", "demo", "--tick-hz", "5000"},
       "volley-server: error: --tick-hz: Value 5000 not in range 0.001000 to 1000.000000\n"},
      {{"--mode", "demo", "--seed", "x"}, "volley-server: error: --seed: expected an integer, got 'x'\n"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    const Result r = run_to_end(c.args);
    CHECK(r.code == 2);
    CHECK(r.err == c.line);
  }
  // A number out of range still says so.
  const Result r = run_to_end({"--mode", "echo", "--port", "70000"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--port: Value 70000 not in range 0 to 65535") != std::string::npos);
  // So does one past 64 bits for a flag with no range of its own: CLI11 took it as 2^64 - 1 and
  // the server ran (with --seconds here, so that would exit 0 rather than hang the test).
  const Result seed = run_to_end({"--mode", "demo", "--seed", "99999999999999999999999", "--bind", "127.0.0.1",
                                  "--port", "0", "--seconds", "0.2"});
  CHECK(seed.code == 2);
  CHECK(seed.out.empty());
  CHECK(seed.err == "volley-server: error: --seed: Value 99999999999999999999999 not in range 0 to 18446744073709551615\n");
}

TEST_CASE("limit flags: good values start the server, every limit's drop reason is in the stats JSON") {
  const std::string json = temp_path("limits.json");
  std::remove(json.c_str());
  const Result r = run_to_end({"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--tick-hz", "20",
                               "--entities", "4", "--seconds", "0.5", "--stats-json", json,
                               "--per-ip-cap", "0", "--max-packet-size", "33554432", "--max-fragments", "1048576",
                               "--max-waiting-data", "67108864", "--max-waiting-total", "1073741824",
                               "--max-held-commands", "65536", "--max-queued-data", "67108864",
                               "--handshake-rate", "0", "--handshake-burst", "1",
                               "--handshake-rate-per-ip", "0", "--handshake-burst-per-ip", "1",
                               "--max-inputs-per-s", "0", "--input-burst", "1", "--peer-timeout-limit", "64",
                               "--peer-timeout-min", "8000", "--peer-timeout-max", "60000", "--peer-rto-cap", "1000",
                               "--keepalive", "libenet"});
  CHECK(r.code == 0);
  const std::string text = slurp(json);
  for (const char* key : {"drop_fragment_count_limit", "drop_fragment_length_limit", "drop_waiting_data_limit",
                          "drop_waiting_total_limit", "drop_held_commands_limit", "drop_send_queue_full",
                          "drop_host_bad_channel_count", "drop_host_refused_per_ip",
                          "drop_host_handshake_rate_global", "drop_host_handshake_rate_address",
                          "drop_input_rate"}) {
    INFO("key ", key);
    CHECK(text.find("\"" + std::string(key) + "\": 0") != std::string::npos);
  }
  std::remove(json.c_str());
}

TEST_CASE("--mode demo: ticks at --tick-hz, stats JSON with the snapshot and game figures, exit 0") {
  const std::string json = temp_path("demo.json");
  std::remove(json.c_str());
  const Result r = run_to_end({"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--tick-hz", "20",
                               "--entities", "16", "--seconds", "1", "--stats-json", json});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("listening 127.0.0.1:", 0) == 0);
  CHECK(r.err.find("demo mode (16 entities, 20 Hz)") != std::string::npos);
  const std::string text = slurp(json);
  for (const char* key : {"snapshot_frames", "snapshots_full", "snapshots_delta", "events_pending",
                          "snapshot_bytes_per_client_s", "demo_players_joined", "demo_chat_received"}) {
    INFO("key ", key);
    CHECK(text.find("\"" + std::string(key) + "\":") != std::string::npos);
  }
  // About 20 ticks in one second (the loop's timer wheel allows some slack either way).
  const auto at = text.find("\"ticks\": ");
  REQUIRE(at != std::string::npos);
  const int ticks = std::stoi(text.substr(at + 9));
  CHECK(ticks >= 15);
  CHECK(ticks <= 25);
  std::remove(json.c_str());
  // The slowest tick rate the flag takes.
  const Result slow = run_to_end({"--mode", "demo", "--bind", "127.0.0.1", "--port", "0", "--tick-hz", "1",
                                  "--seconds", "0.2"});
  CHECK(slow.code == 0);
  CHECK(slow.err.find("demo mode (") != std::string::npos);
}

TEST_CASE("--version: the version line on stdout, exit 0, without --mode") {
  const Result r = run_to_end({"--version"});
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out == std::string(volley::server::version()) + "\n");
  CHECK(r.out.find(std::string(volley::server::version_number())) != std::string::npos);
}

TEST_CASE("--seconds: listening line, echo, stats JSON with every contract key, exit 0") {
  const std::string json = temp_path("seconds.json");
  std::remove(json.c_str());
  Child c = spawn({"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--seconds", "1.5",
                   "--stats-json", json, "--log-level", "error"});
  const std::string line = read_some(c.out, 5000, "\n");
  REQUIRE(line.rfind("listening 127.0.0.1:", 0) == 0);
  const auto port = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  REQUIRE(port != 0);

  volley::server::test::LoopbackClient client("127.0.0.1", port);
  client.connect(2, 0);
  REQUIRE(client.run_until([&] { return client.peer().state() == volley::protocol::PeerState::kConnected; }, 3000));
  client.peer().send(1, std::vector<std::uint8_t>{1, 2, 3}, volley::protocol::PacketFlags::kReliable);
  REQUIRE(client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kReceive) == 1; }, 3000));
  client.peer().disconnect(0);
  client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kDisconnect) == 1; }, 3000);

  CHECK(wait_exit(c.pid, 10000) == 0);
  const std::string text = slurp(json);
  for (const char* key : kKeys) {
    INFO("key ", key);
    CHECK(text.find("\"" + std::string(key) + "\":") != std::string::npos);
  }
  CHECK(text.find("\"connects\": 1,") != std::string::npos);
  CHECK(text.find("\"disconnects\": 1,") != std::string::npos);
  CHECK(text.find("\"packets_in\": 1,") != std::string::npos);
  CHECK(text.find("\"bytes_out\": 3,") != std::string::npos);
  CHECK(text.find("\"peers_peak\": 1,") != std::string::npos);
  CHECK(text.find("\"coalesce_us\": 300,") != std::string::npos);  // volley-server's default cap
  CHECK(text.find("\"version\": \"" + std::string(volley::server::version_number()) + "\"") != std::string::npos);
  std::remove(json.c_str());
}

TEST_CASE("--status-interval: the first line already counts what came since the start") {
  Child c = spawn({"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--seconds", "3", "--status-interval", "1.5"});
  const std::string line = read_some(c.out, 5000, "\n");
  REQUIRE(line.rfind("listening 127.0.0.1:", 0) == 0);
  const auto port = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
  volley::server::test::LoopbackClient client("127.0.0.1", port);
  client.connect(2, 0);
  REQUIRE(client.run_until([&] { return client.peer().state() == volley::protocol::PeerState::kConnected; }, 1000));
  client.peer().send(1, std::vector<std::uint8_t>{1, 2, 3}, volley::protocol::PacketFlags::kReliable);
  REQUIRE(client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kReceive) == 1; }, 1000));
  const std::string err = read_some(c.err, 5000, "bad=");
  const std::size_t at = err.find("status peers=1 pps_in=");
  INFO(err);
  REQUIRE(at != std::string::npos);
  // One packet in 1.5 s: 0.67 a second, printed as 1 (it read 0: the first line had no base).
  CHECK(err.compare(at, 24, "status peers=1 pps_in=1 ") == 0);
  client.peer().disconnect(0);
  client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kDisconnect) == 1; }, 3000);
  CHECK(wait_exit(c.pid, 10000) == 0);
}

TEST_CASE("SIGINT stops gracefully: connected peer told, JSON written, exit 0") {
  const std::string json = temp_path("sigterm.json");
  std::remove(json.c_str());
  Child c = spawn({"--mode", "echo", "--port", "0", "--stats-json", json, "--log-level", "error",
                   "--coalesce-us", "150"});
  volley::server::test::LoopbackClient client("127.0.0.1", listening_port(c));
  connect_and_wait(client);
  client.run_until([] { return false; }, 100);
  kill(c.pid, SIGINT);
  CHECK(client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kDisconnect) == 1; }, 3000));
  for (int i = 0; i < 10; ++i) client.step(5);
  CHECK(wait_exit(c.pid, 10000) == 0);
  const std::string text = slurp(json);
  CHECK(text.find("\"connects\": 1,") != std::string::npos);
  CHECK(text.find("\"disconnects\": 0,") != std::string::npos);  // dropped at shutdown: neither
  CHECK(text.find("\"timeouts\": 0,") != std::string::npos);
  CHECK(text.find("\"coalesce_us\": 150,") != std::string::npos);  // the run's own setting
  std::remove(json.c_str());
}

TEST_CASE("a UDP port in use is exit 2 with one line, with the default bind too (no quiet IPv4-only server)") {
  // Something holds [::1]:P: the dual-stack default [::]:P cannot bind, while 0.0.0.0:P could.
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t length = sizeof(a);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0);
  const std::string port = std::to_string(ntohs(a.sin6_port));
  const Result r = run_to_end({"--mode", "echo", "--port", port, "--seconds", "0.5"});
  ::close(fd);
  INFO("stdout: ", r.out, " stderr: ", r.err);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("in use") != std::string::npos);
  CHECK(r.err.find('\n') == r.err.size() - 1);
}

TEST_CASE("SIGHUP is ignored with a line, and a SIGTERM repeated within a second keeps the drain going") {
  Child c = spawn({"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--drain-seconds", "20",
                   "--status-interval", "0"});
  volley::server::test::LoopbackClient client("127.0.0.1", listening_port(c));
  connect_and_wait(client);
  kill(c.pid, SIGHUP);
  std::string err = read_some(c.err, 2000, "SIGHUP");
  CHECK(err.find("SIGHUP: ignored") != std::string::npos);
  client.run_until([] { return false; }, 300);
  CHECK(waitpid(c.pid, nullptr, WNOHANG) == 0);  // still serving
  CHECK(client.peer().state() == volley::protocol::PeerState::kConnected);
  // As GNU timeout does (the process and its group): twice, close together (100 ms apart here,
  // so the kernel cannot merge them into one pending signal). One drain, not a stop.
  kill(c.pid, SIGTERM);
  client.run_until([] { return false; }, 100);
  kill(c.pid, SIGTERM);
  client.run_until([] { return false; }, 600);
  CHECK(waitpid(c.pid, nullptr, WNOHANG) == 0);  // draining: the connected peer is still served
  CHECK(client.count(volley::protocol::PeerEvent::Type::kDisconnect) == 0);
  // A second SIGTERM later is an operator insisting: it stops.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(c.pid, SIGTERM);
  CHECK(client.run_until([&] { return client.count(volley::protocol::PeerEvent::Type::kDisconnect) == 1; }, 5000));
  for (int i = 0; i < 10; ++i) client.step(5);
  CHECK(wait_exit(c.pid, 10000) == 0);
  err += read_some(c.err, 500);
  CHECK(err.find("SIGTERM again: stopping") != std::string::npos);
  CHECK(err.find("local_disconnects=1") != std::string::npos);
}

}  // namespace
