// --agones against a stand-in for the Agones SDK sidecar: a civetweb server in this process that
// records every request. volley-server must say Ready once it listens, Health periodically, and
// Shutdown last, after its stats are written; nothing after Shutdown.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "interop/interop_support.hpp"
#include "support/server_process.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class FakeSidecar {
 public:
  explicit FakeSidecar(int port = 0) {
    mg_init_library(0);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "2", nullptr};
    context_ = mg_start(nullptr, nullptr, options);
    REQUIRE(context_ != nullptr);
    mg_set_request_handler(context_, "/", on_request, this);
    mg_server_port bound{};
    REQUIRE(mg_get_server_ports(context_, 1, &bound) == 1);
    port_ = bound.port;
  }
  ~FakeSidecar() { mg_stop(context_); }

  int port() const { return port_; }
  std::vector<std::string> calls() {
    const std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t count(const std::string& call) {
    const auto all = calls();
    return static_cast<std::size_t>(std::count(all.begin(), all.end(), call));
  }

 private:
  // Records "METHOD /path body" and answers like the sidecar: 200 with "{}".
  static int on_request(mg_connection* conn, void* self) {
    auto& fake = *static_cast<FakeSidecar*>(self);
    const mg_request_info* info = mg_get_request_info(conn);
    std::string body(static_cast<std::size_t>(std::max<long long>(info->content_length, 0)), '\0');
    if (!body.empty()) mg_read(conn, body.data(), body.size());
    {
      const std::lock_guard lock(fake.mutex_);
      fake.calls_.push_back(std::string(info->request_method) + " " + info->local_uri + " " + body);
    }
    mg_send_http_ok(conn, "application/json", 2);
    mg_write(conn, "{}", 2);
    return 200;
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> calls_;
};

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// The lowest port the kernel hands out for bind(0) and outgoing connections.
int ephemeral_low() {
  int low = 32768;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &low) != 1) low = 32768;
    std::fclose(f);
  }
  return low;
}

bool tcp_port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return free;
}

// A port nothing listens on, for a sidecar started later on it. Below the ephemeral range: a
// port that a bind(0) probe found free could be taken, before the sidecar binds it, as the
// source port of any outgoing connection (other tests' curl scrapes and HTTP clients run
// alongside), and mg_start then failed (once in a clean-clone CI run). Where the ephemeral range
// leaves no room below it, a probe's port, with that race.
int unused_port() {
  const int base = 10000;
  const int low = std::min(ephemeral_low(), 32768);
  if (low > base + 1000) {
    const int start = static_cast<int>(::getpid()) % (low - base);  // parallel tests: apart
    for (int i = 0; i < 1000; ++i) {
      const int port = base + (start + i * 7919) % (low - base);
      if (tcp_port_free(port)) return port;
    }
  }
  FakeSidecar probe;
  return probe.port();
}

// volley-server --agones (echo, 127.0.0.1) with the sidecar at `port`, plus `extra` flags.
std::unique_ptr<volley::test::ServerProcess> server_for_sidecar(int port, std::vector<std::string> extra) {
  std::vector<std::string> args = {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--agones"};
  args.insert(args.end(), extra.begin(), extra.end());
  ::setenv("AGONES_SDK_HTTP_PORT", std::to_string(port).c_str(), 1);
  auto server = std::make_unique<volley::test::ServerProcess>(volley::interop::server_exe(), args);
  ::unsetenv("AGONES_SDK_HTTP_PORT");
  return server;
}

TEST_CASE("agones: Ready when listening, Health periodically, Shutdown last") {
  FakeSidecar sidecar;
  ::setenv("AGONES_SDK_HTTP_PORT", std::to_string(sidecar.port()).c_str(), 1);
  const std::string stats = volley::test::unique_temp_path("volley-agones-stats");
  {
    volley::test::ServerProcess server(volley::interop::server_exe(),
                                       {"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--agones",
                                        "--agones-health-interval", "0.1", "--stats-json", stats});
    REQUIRE(wait_for([&] { return sidecar.count("POST /health {}") >= 3; }, 10s));
    CHECK(sidecar.count("POST /shutdown {}") == 0);
    CHECK(server.stop(30s, SIGTERM) == 0);  // no peers: the drain ends at once
  }
  ::unsetenv("AGONES_SDK_HTTP_PORT");
  CHECK(volley::test::read_file_text(stats).has_value());  // written before Shutdown was sent
  std::remove(stats.c_str());

  const auto calls = sidecar.calls();
  std::string all;
  for (const auto& c : calls) all += c + "; ";
  INFO(all);
  REQUIRE(calls.size() >= 5);
  CHECK(calls.front() == "POST /ready {}");
  CHECK(calls.back() == "POST /shutdown {}");
  CHECK(sidecar.count("POST /ready {}") == 1);
  CHECK(sidecar.count("POST /shutdown {}") == 1);
  for (std::size_t i = 1; i + 1 < calls.size(); ++i) CHECK(calls[i] == "POST /health {}");
}

TEST_CASE("agones: Ready is retried until the sidecar answers, a bad AGONES_SDK_HTTP_PORT is exit 2") {
  for (const char* bad : {"http", "0", "65536"}) {
    CAPTURE(bad);
    ::setenv("AGONES_SDK_HTTP_PORT", bad, 1);
    volley::test::ServerProcess* none = nullptr;
    CHECK_THROWS_WITH_AS(none = new volley::test::ServerProcess(
                             volley::interop::server_exe(), {"--mode", "echo", "--port", "0", "--agones"}),
                         doctest::Contains("exit 2"), std::runtime_error);
    delete none;
  }
  // Nothing listens on the port at first: Ready fails, is retried each second, and lands once
  // the sidecar is up.
  const int port = unused_port();
  auto server = server_for_sidecar(port, {"--log-level", "error"});
  std::this_thread::sleep_for(1200ms);  // at least one failed attempt
  FakeSidecar sidecar(port);
  CHECK(wait_for([&] { return sidecar.count("POST /ready {}") == 1; }, 10s));
  CHECK(server->stop(30s, SIGINT) == 0);
  CHECK(sidecar.calls().back() == "POST /shutdown {}");
}

TEST_CASE("agones: a drain that begins before Ready got through withdraws Ready") {
  // The sidecar is not up yet when SIGTERM comes; once it is, Ready must not follow: Agones
  // would mark the GameServer Ready (allocatable) while it refuses every new player.
  volley::interop::EnetLibrary enet;
  const int port = unused_port();
  auto server = server_for_sidecar(port, {"--agones-health-interval", "0.1", "--drain-seconds", "20"});
  volley::interop::EnetClient client;
  ENetPeer* peer = client.connect_and_wait(server->port());
  REQUIRE(peer != nullptr);
  REQUIRE(::kill(server->pid(), SIGTERM) == 0);
  client.service_until([] { return false; }, 300ms);  // the drain has begun, Ready has failed
  FakeSidecar sidecar(port);
  client.service_until([] { return false; }, 2500ms);  // Ready was retried every second
  CHECK(server->running());  // still draining: the client is connected
  CHECK(sidecar.count("POST /ready {}") == 0);
  CHECK(sidecar.count("POST /health {}") == 0);
  volley::interop::disconnect_and_wait(client, peer);
  CHECK(server->wait_exit(10s) == std::optional<int>(0));
  const auto calls = sidecar.calls();
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == "POST /shutdown {}");
}

}  // namespace
