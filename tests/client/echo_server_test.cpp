// The client library against volley-server --mode echo run as a child process (the DESIGN.md
// contract), over 127.0.0.1: connect, every delivery kind echoed on its channel with the same
// kind and bytes, statistics non-zero, disconnect with data (the server counts it), a full
// server's refusal with its RefusalCode, and the server's shutdown seen as a remote disconnect.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "loopback.hpp"
#include "support/server_with_stats.hpp"
#include "volley/client/host.hpp"

namespace vc = volley::client;
using vc::test::ClientLog;
using vc::test::pattern;
using vc::test::pump;
using volley::Delivery;
using volley::DisconnectReason;

namespace {

// volley-server --mode echo on 127.0.0.1 with 4 channels, plus any extra flags.
class EchoServer : public volley::test::ServerWithStats {
 public:
  explicit EchoServer(std::vector<std::string> extra = {})
      : ServerWithStats(VOLLEY_SERVER_EXE, with(std::move(extra)), "volley-client-echo") {}

 private:
  static std::vector<std::string> with(std::vector<std::string> extra) {
    std::vector<std::string> args{"--mode", "echo", "--bind", "127.0.0.1", "--port", "0", "--channels", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

vc::ConnectionId connect_ok(vc::Host& host, ClientLog& log, const std::string& address) {
  const vc::ConnectResult result = host.connect(address);
  REQUIRE(result);
  REQUIRE(pump(host, log, nullptr, [&] {
    return log.find(vc::EventType::kConnected, result.connection) != nullptr;
  }, std::chrono::seconds(10)));
  return result.connection;
}

}  // namespace

TEST_CASE("echo server: every delivery kind echoed, stats, disconnect with data") {
  EchoServer server;
  vc::HostOptions options;
  options.channels = 4;
  vc::Host host(options);
  ClientLog log;
  const vc::ConnectionId id = connect_ok(host, log, server.address());

  struct Kind {
    Delivery delivery;
    std::uint8_t channel;
    std::size_t size;
  };
  for (const Kind kind : {Kind{Delivery::kReliable, 0, 500}, Kind{Delivery::kUnreliable, 1, 300},
                          Kind{Delivery::kUnsequenced, 2, 200},
                          Kind{Delivery::kUnreliableFragment, 3, 4000}}) {
    CAPTURE(volley::delivery_name(kind.delivery));
    const auto bytes = pattern(kind.size, static_cast<std::uint8_t>(kind.channel + 40));
    const std::size_t before = log.events.size();
    REQUIRE(host.send(id, kind.channel, bytes, kind.delivery) == volley::SendResult::kOk);
    REQUIRE(pump(host, log, nullptr, [&] { return log.events.size() > before; }));
    const auto& echo = log.events.back();
    CHECK(echo.type == vc::EventType::kReceived);
    CHECK(echo.channel == kind.channel);
    CHECK(echo.delivery == kind.delivery);
    CHECK(echo.bytes == bytes);
  }
  const auto stats = host.stats(id);
  REQUIRE(stats);
  CHECK(stats->rtt_ms > 0);
  CHECK(stats->packets_in == 4);
  CHECK(stats->packets_out == 4);
  CHECK(stats->bytes_in == 5000);
  CHECK(stats->bytes_in_per_s > 0);
  CHECK(stats->bytes_out_per_s > 0);
  CHECK(stats->packets_out_per_s > 0);

  host.disconnect(id, 1234);
  REQUIRE(pump(host, log, nullptr, [&] {
    return log.find(vc::EventType::kDisconnected, id) != nullptr;
  }));
  CHECK(log.find(vc::EventType::kDisconnected, id)->reason == DisconnectReason::kLocal);
  CHECK(log.find(vc::EventType::kDisconnected, id)->data == 1234);
  const auto json = server.stop_and_stats();
  CHECK(json.number("connects") == 1);
  CHECK(json.number("disconnects") == 1);
  CHECK(json.number("packets_in") == 4);
  CHECK(json.number("bytes_in") == 5000);
}

TEST_CASE("echo server: a full server refuses with kFull - its shutdown is a remote disconnect") {
  EchoServer server({"--max-peers", "1"});
  vc::Host first;
  ClientLog first_log;
  const vc::ConnectionId in = connect_ok(first, first_log, server.address());

  vc::Host second;
  ClientLog second_log;
  const vc::ConnectResult refused = second.connect(server.address(), 9);
  REQUIRE(refused);
  REQUIRE(pump(second, second_log, nullptr, [&] {
    first_log.drain(first);
    return second_log.find(vc::EventType::kDisconnected, refused.connection) != nullptr;
  }, std::chrono::seconds(10)));
  const auto* gone = second_log.find(vc::EventType::kDisconnected, refused.connection);
  CHECK(gone->reason == DisconnectReason::kRefused);
  CHECK(gone->data == static_cast<std::uint32_t>(volley::RefusalCode::kFull));

  REQUIRE(::kill(server.process().pid(), SIGINT) == 0);
  REQUIRE(pump(first, first_log, nullptr, [&] {
    return first_log.find(vc::EventType::kDisconnected, in) != nullptr;
  }, std::chrono::seconds(10)));
  CHECK(first_log.find(vc::EventType::kDisconnected, in)->reason == DisconnectReason::kRemote);
  server.stop_and_stats();
}

TEST_CASE("echo server: one Host drives 500 connections, each echoes its own message") {
  EchoServer server({"--per-ip-cap", "0"});  // all 500 from 127.0.0.1: lift the cap of 32
  constexpr std::size_t kConnections = 500;
  vc::HostOptions options;
  options.max_connections = kConnections;
  vc::Host host(options);
  ClientLog log;
  std::vector<vc::ConnectionId> ids;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const vc::ConnectResult result = host.connect(server.address(), static_cast<std::uint32_t>(i));
    REQUIRE(result);
    ids.push_back(result.connection);
  }
  CHECK(host.connect(server.address()).error == vc::ConnectError::kNoFreeSlot);
  // Each connection sends its own pattern once connected; the echo must come back on it.
  auto index_of = [&](vc::ConnectionId id) {
    return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
  };
  std::size_t seen = 0, connected = 0, echoed = 0, wrong = 0;
  REQUIRE(pump(host, log, nullptr, [&] {
    for (; seen < log.events.size(); ++seen) {
      const auto& e = log.events[seen];
      const std::size_t index = index_of(e.connection);
      if (index >= ids.size()) {
        ++wrong;
      } else if (e.type == vc::EventType::kConnected) {
        ++connected;
        if (host.send(e.connection, 0, pattern(64, static_cast<std::uint8_t>(index)),
                      Delivery::kReliable) != volley::SendResult::kOk) {
          ++wrong;
        }
      } else if (e.type == vc::EventType::kReceived &&
                 e.bytes == pattern(64, static_cast<std::uint8_t>(index))) {
        ++echoed;
      } else {
        ++wrong;
      }
    }
    return echoed == kConnections || wrong > 0;
  }, std::chrono::seconds(20)));
  CHECK(wrong == 0);
  CHECK(connected == kConnections);
  CHECK(echoed == kConnections);
  for (const vc::ConnectionId id : ids) host.disconnect(id);
  log.events.clear();
  REQUIRE(pump(host, log, nullptr, [&] { return log.events.size() == kConnections; },
               std::chrono::seconds(20)));
  CHECK(host.connection_count() == 0);
  for (const auto& e : log.events) {
    CHECK(e.type == vc::EventType::kDisconnected);
    CHECK(e.reason == DisconnectReason::kLocal);
  }
  const auto json = server.stop_and_stats();
  CHECK(json.number("connects") == kConnections);
  CHECK(json.number("disconnects") == kConnections);
}
