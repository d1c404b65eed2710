// volley-netsim as a process: bad flags (one line, exit 2); two thousand client addresses
// through it to an echo, each answered on its own socket, the upstream seeing each as a distinct
// client, and idle clients expired; stock libenet clients reaching volley-server --mode echo
// through 10% loss each way with every reliable message echoed intact, once and in order; the
// same seed reproducing the same counts. Loopback only; every wait is bounded.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "interop/interop_support.hpp"
#include "support/fd_budget.hpp"
#include "support/server_process.hpp"
#include "support/udp_socket.hpp"
#include "tools/cli_run.hpp"
#include "volley/engine/loop.hpp"

using namespace volley;
using namespace std::chrono_literals;

namespace {

const std::string kNetsim = VOLLEY_NETSIM_EXE;

// A running volley-netsim with its JSON report in a temporary file.
class Netsim {
 public:
  Netsim(std::uint16_t upstream_port, std::vector<std::string> extra)
      : report_(test::unique_temp_path("volley-netsim-report")) {
    std::vector<std::string> args{"--listen", "127.0.0.1:0", "--upstream",
                                  "127.0.0.1:" + std::to_string(upstream_port), "--report-json", report_};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<test::ServerProcess>(kNetsim, args);
  }
  ~Netsim() {
    process_.reset();
    std::remove(report_.c_str());
  }
  std::uint16_t port() const { return process_->port(); }
  // SIGTERM; it must exit 0, print its table and write the report.
  test::FlatJson stop_and_report() {
    REQUIRE(process_->stop() == 0);
    const std::string table = process_->output();
    MESSAGE(table);
    CHECK(table.find("forwarded") != std::string::npos);
    const auto text = test::read_file_text(report_);
    REQUIRE(text);
    const auto json = test::FlatJson::parse(*text);
    REQUIRE(json);
    return *json;
  }

 private:
  std::string report_;
  std::unique_ptr<test::ServerProcess> process_;
};

std::size_t socket_budget(std::size_t want) {
  const std::size_t fit = volley::test::fd_budget(want, 256);
  if (fit < want) MESSAGE("file descriptor limit: testing ", fit, " clients, not ", want);
  return fit;
}

std::unique_ptr<engine::Loop> open_loop() {
  engine::LoopConfig config;
  config.bind = engine::Address::loopback_v4(0);
  config.recv_buffer_bytes = 4 << 20;
  config.send_buffer_bytes = 4 << 20;
  auto opened = engine::Loop::open(std::move(config));
  INFO(opened.error);
  REQUIRE(opened);
  return std::move(opened.loop);
}

}  // namespace

TEST_CASE("netsim: bad flags are one line on stderr and exit code 2") {
  test::TempDir dir;
  const std::vector<std::string> bad = {
      "",
      "--listen 127.0.0.1:0",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1",
      "--listen nowhere --upstream 127.0.0.1:9",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --loss 1.5",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --up-loss x",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --down-latency -3",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --burst-loss 0.1",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --burst-loss 0.1,0",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --rate fast",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --queue 0",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --seed -1",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --backend kqueue",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --bogus 1",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --max-clients 0",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --seconds 0",    // ran until a signal
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --seconds nan",  // the same
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --report-json ''",
      "--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --report-json /nonexistent-volley-dir/n.json",
  };
  for (const std::string& flags : bad) {
    CAPTURE(flags);
    const test::Run r = test::run(dir, kNetsim + " " + flags);
    CHECK(r.exited);
    CHECK(r.code == 2);
    CHECK(r.lines.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("volley-netsim: ", 0) == 0);
  }
  // An address it cannot listen on is a bad --listen as well (volley-server's rule): a port
  // taken, or a backend this system does not have.
  const test::UdpSocket taken;
  for (const std::string& flags : {"--listen 127.0.0.1:" + std::to_string(taken.port()) + " --upstream 127.0.0.1:9",
                                   std::string("--listen 127.0.0.1:0 --upstream 127.0.0.1:9 --backend iocp")}) {
    CAPTURE(flags);
    const test::Run r = test::run(dir, kNetsim + " " + flags + " --seconds 5");
    CHECK(r.code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("volley-netsim: cannot listen on ", 0) == 0);
  }
  const test::Run help = test::run(dir, kNetsim + " --help");
  CHECK(help.code == 0);
  REQUIRE_FALSE(help.lines.empty());
  CHECK(help.lines[0].rfind("usage: volley-netsim", 0) == 0);
}

TEST_CASE("netsim: two thousand client addresses, each its own upstream client, expired when idle") {
  const std::size_t clients = socket_budget(2000);
  // The upstream: an echo on the engine loop that records which addresses it saw.
  auto echo = open_loop();
  std::set<std::uint16_t> upstream_ports_seen;
  std::vector<engine::OutDatagram> out;
  echo->set_handler([&](std::span<const engine::DatagramView> batch) {
    out.clear();
    for (const auto& d : batch) {
      upstream_ports_seen.insert(d.from.port());
      out.push_back(engine::OutDatagram{d.bytes, d.from});
    }
    echo->send(out);
  });
  const std::uint16_t echo_port = echo->local_address().port();
  std::thread echo_thread([&] { echo->run(); });

  // Every client address must still be held when the last round creates its own (clients_peak),
  // so the idle timeout is far longer than the rounds take (0.07 s here). The test failed once in
  // a loaded parallel run, output lost and not reproduced since; with a 1 s timeout and 3 s of
  // waiting, this and the expiry below each had less than a second of slack.
  constexpr int kIdleTimeoutS = 3;
  Netsim netsim(echo_port, {"--idle-timeout", std::to_string(kIdleTimeoutS), "--seed", "3"});
  const auto to = engine::Address::loopback_v4(netsim.port());

  // The clients: one engine loop, one socket per client address.
  auto client = open_loop();
  std::vector<engine::SocketId> ids;
  std::unordered_map<engine::SocketId, std::uint32_t> index_of;
  for (std::size_t i = 0; i < clients; ++i) {
    std::string error;
    const auto id = client->open_socket(engine::Address::loopback_v4(0), &error);
    INFO(error);
    REQUIRE(id);
    index_of[*id] = static_cast<std::uint32_t>(i);
    ids.push_back(*id);
  }
  std::vector<int> answers(clients, 0);
  std::size_t wrong = 0;
  std::size_t total = 0;
  client->set_handler([&](std::span<const engine::DatagramView> batch) {
    for (const auto& d : batch) {
      std::uint32_t sent_by = UINT32_MAX;
      if (d.bytes.size() == 4) std::memcpy(&sent_by, d.bytes.data(), 4);
      const auto it = index_of.find(d.socket);
      if (it == index_of.end() || it->second != sent_by || d.from.unmapped().port() != netsim.port()) {
        ++wrong;
        continue;
      }
      ++answers[sent_by];
      ++total;
    }
  });
  std::vector<std::uint32_t> payloads(clients);
  const auto rounds_start = engine::now();
  const auto deadline = rounds_start + 30 * kSecond;
  // In rounds of 250, each waited for, so no socket buffer anywhere overflows.
  for (std::size_t first = 0; first < clients && engine::now() < deadline; first += 250) {
    const std::size_t last = std::min(clients, first + 250);
    std::vector<engine::OutDatagram> sends;
    for (std::size_t i = first; i < last; ++i) {
      payloads[i] = static_cast<std::uint32_t>(i);
      sends.push_back(engine::OutDatagram{
          Bytes(reinterpret_cast<const std::uint8_t*>(&payloads[i]), 4), to, ids[i]});
    }
    client->send(sends);
    engine::TimerId poll;
    poll = client->schedule(engine::now(), [&] {
      if (total >= last || engine::now() > deadline) {
        poll = engine::TimerId{};
        client->stop();
        return;
      }
      client->reschedule(poll, engine::now() + 1000);
    });
    client->run();
  }
  const double rounds_s = static_cast<double>(engine::now() - rounds_start) / 1e6;
  MESSAGE("the rounds took ", rounds_s, " s");
  CHECK(rounds_s < kIdleTimeoutS);  // else clients_peak below cannot be every client
  CHECK(total == clients);
  CHECK(wrong == 0);
  CHECK(std::count(answers.begin(), answers.end(), 1) == static_cast<long>(clients));

  // Idle for the timeout, a sweep (one a second) and as much again for a loaded machine: every
  // address is forgotten.
  std::this_thread::sleep_for(std::chrono::seconds(kIdleTimeoutS + 3));
  const test::FlatJson report = netsim.stop_and_report();
  echo->post([&] { echo->stop(); });
  echo_thread.join();
  CHECK(upstream_ports_seen.size() == clients);  // one upstream address per client
  CHECK(report.number("clients_created") == clients);
  CHECK(report.number("clients_peak") == clients);
  CHECK(report.number("clients_expired") == clients);
  CHECK(report.number("clients_refused") == 0);
  CHECK(report.number("up_forwarded") == clients);
  CHECK(report.number("down_forwarded") == clients);
  CHECK(report.number("up_bytes_forwarded") == 4.0 * clients);
  CHECK(report.number("up_lost") == 0);
  CHECK(report.number("stray") == 0);
  client->close();
  echo->close();
  CHECK(client->live().sockets == 0);
}

namespace {

struct EchoRun {
  test::FlatJson report;
  std::size_t echoed = 0;
  std::size_t sent = 0;
};

// Two stock libenet clients (two client addresses) send reliable messages on two channels
// through netsim at 10% loss each way to volley-server --mode echo.
EchoRun reliable_echo_through_loss(std::uint64_t seed, int per_client) {
  interop::EnetLibrary library;
  interop::EchoServer server;
  Netsim netsim(server.port(), {"--loss", "0.1", "--seed", std::to_string(seed)});
  std::vector<std::unique_ptr<interop::EnetClient>> clients;
  std::vector<ENetPeer*> peers;
  for (int c = 0; c < 2; ++c) {
    clients.push_back(std::make_unique<interop::EnetClient>());
    peers.push_back(clients.back()->connect_and_wait(netsim.port(), 30s));
  }
  interop::EchoTracker tracker;
  for (int i = 0; i < per_client; ++i) {
    for (std::size_t c = 0; c < clients.size(); ++c) {
      const auto channel = static_cast<std::uint8_t>(i % 2);
      const auto tag = static_cast<std::uint32_t>(c + 1);
      const auto bytes = interop::make_payload(16 + (i * 37) % 1800, tag, static_cast<std::uint32_t>(i));
      tracker.sent(tag, static_cast<std::uint32_t>(i), channel, ENET_PACKET_FLAG_RELIABLE, bytes);
      clients[c]->send(peers[c], channel, bytes, ENET_PACKET_FLAG_RELIABLE);
    }
    if (i % 10 == 9) {
      for (auto& client : clients) {
        client->service(1);
        tracker.absorb(*client);
      }
    }
  }
  std::vector<interop::EnetClient*> raw;
  for (auto& client : clients) raw.push_back(client.get());
  const bool all = interop::service_all_until(
      raw,
      [&] {
        for (auto& client : clients) tracker.absorb(*client);
        return tracker.echoed() == tracker.sent_count();
      },
      60s);
  CHECK(all);
  for (std::size_t c = 0; c < clients.size(); ++c) interop::disconnect_and_wait(*clients[c], peers[c], 30s);
  EchoRun run{netsim.stop_and_report(), tracker.echoed(), tracker.sent_count()};
  const test::FlatJson stats = server.stop_and_stats();
  CHECK(stats.number("connects") == 2);  // two client addresses, two upstream clients
  return run;
}

}  // namespace

TEST_CASE("netsim: stock libenet clients through 10% loss each way keep the reliable echo intact") {
  const EchoRun run = reliable_echo_through_loss(11, 150);
  CHECK(run.sent == 300);
  CHECK(run.echoed == run.sent);  // EchoTracker CHECKed bytes, channel, kind, once, in order
  const test::FlatJson& r = run.report;
  const double up = r.number("up_received");
  const double down = r.number("down_received");
  MESSAGE("up: ", up, " received, ", r.number("up_lost"), " lost; down: ", down, " received, ",
          r.number("down_lost"), " lost");
  // Loss near 10% each way (binomial, 5 sd; a few hundred datagrams at least).
  REQUIRE(up > 200);
  REQUIRE(down > 200);
  CHECK(std::fabs(r.number("up_lost") / up - 0.1) <= 5 * std::sqrt(0.09 / up));
  CHECK(std::fabs(r.number("down_lost") / down - 0.1) <= 5 * std::sqrt(0.09 / down));
  CHECK(r.number("up_forwarded") == up - r.number("up_lost"));
  CHECK(r.number("down_forwarded") == down - r.number("down_lost"));
  CHECK(r.number("clients_created") == 2);
}

namespace {

struct SeedRun {
  std::vector<std::uint32_t> upstream_seen;  // sequence numbers as they reached the upstream
  test::FlatJson report;
};

// One client sends `count` numbered datagrams through netsim to an echo in batches; netsim's
// client-to-server fate for each depends only on the seed and the arrival order, which one
// socket over loopback keeps.
const std::vector<std::string> kSeedRunImpairments{"--loss", "0.2", "--burst-loss", "0.02,0.3", "--duplicate", "0.1",
                                                   "--down-latency", "2", "--down-jitter", "3"};

SeedRun seeded_run(std::uint64_t seed, std::uint32_t count,
                   const std::vector<std::string>& impairments = kSeedRunImpairments) {
  auto echo = open_loop();
  SeedRun run;
  std::vector<engine::OutDatagram> out;
  echo->set_handler([&](std::span<const engine::DatagramView> batch) {
    out.clear();
    for (const auto& d : batch) {
      std::uint32_t seq = 0;
      if (d.bytes.size() == 4) std::memcpy(&seq, d.bytes.data(), 4);
      run.upstream_seen.push_back(seq);
      out.push_back(engine::OutDatagram{d.bytes, d.from});
    }
    echo->send(out);
  });
  const std::uint16_t echo_port = echo->local_address().port();
  std::thread echo_thread([&] { echo->run(); });
  {
    std::vector<std::string> args{"--seed", std::to_string(seed)};
    args.insert(args.end(), impairments.begin(), impairments.end());
    Netsim netsim(echo_port, args);
    auto client = open_loop();
    const auto to = engine::Address::loopback_v4(netsim.port());
    std::size_t back = 0;
    client->set_handler([&](std::span<const engine::DatagramView> batch) { back += batch.size(); });
    std::vector<std::uint32_t> seqs(count);
    for (std::uint32_t first = 0; first < count; first += 100) {
      std::vector<engine::OutDatagram> sends;
      for (std::uint32_t i = first; i < std::min(count, first + 100); ++i) {
        seqs[i] = i;
        sends.push_back(engine::OutDatagram{Bytes(reinterpret_cast<const std::uint8_t*>(&seqs[i]), 4), to});
      }
      client->send(sends);
      // Let this batch drain through before the next (loopback: well under 20 ms).
      client->schedule(engine::now() + 20 * kMillisecond, [&] { client->stop(); });
      client->run();
    }
    client->schedule(engine::now() + 100 * kMillisecond, [&] { client->stop(); });
    client->run();
    CHECK(back > 0);
    run.report = netsim.stop_and_report();
    client->close();
  }
  echo->post([&] { echo->stop(); });
  echo_thread.join();
  return run;
}

// received + duplicated = every way a datagram (or copy) can end, per direction.
void check_accounting(const test::FlatJson& r, const std::string& dir) {
  CAPTURE(dir);
  auto n = [&](const char* name) { return r.number(dir + "_" + name); };
  CHECK(n("received") + n("duplicated") ==
        n("lost") + n("burst_lost") + n("rate_dropped") + n("queue_full") + n("oversize") + n("refused") +
            n("client_gone") + n("forwarded") + n("held_at_end"));
}

}  // namespace

TEST_CASE("netsim: the same seed reproduces the same fate for every datagram of a client") {
  constexpr std::uint32_t kCount = 2000;
  const SeedRun a = seeded_run(5, kCount);
  const SeedRun b = seeded_run(5, kCount);
  const SeedRun c = seeded_run(6, kCount);
  for (const SeedRun* run : {&a, &b, &c}) {
    CHECK(run->report.number("up_received") == kCount);
    check_accounting(run->report, "up");
    check_accounting(run->report, "down");
    CHECK(run->upstream_seen.size() == run->report.number("up_forwarded"));
  }
  MESSAGE("seed 5: up lost ", a.report.number("up_lost"), ", burst lost ", a.report.number("up_burst_lost"),
          ", duplicated ", a.report.number("up_duplicated"), "; seed 6: lost ", c.report.number("up_lost"));
  CHECK(a.report.number("up_lost") > 0);
  CHECK(a.report.number("up_burst_lost") > 0);
  CHECK(a.report.number("up_duplicated") > 0);
  // Exactly the same datagrams (and copies) reached the server, in the same order.
  CHECK(a.upstream_seen == b.upstream_seen);
  for (const char* key : {"up_lost", "up_burst_lost", "up_duplicated", "up_forwarded"}) {
    CAPTURE(key);
    CHECK(a.report.number(key) == b.report.number(key));
  }
  CHECK(a.upstream_seen != c.upstream_seen);
}

// Datagrams the upstream received after one with a higher sequence number.
std::uint64_t arrived_after_a_later_one(const std::vector<std::uint32_t>& seen) {
  std::uint64_t late = 0;
  std::uint32_t next = 0;  // one past the highest sequence number seen so far
  for (const std::uint32_t seq : seen) {
    if (seq < next) {
      ++late;
    } else {
      next = seq + 1;
    }
  }
  return late;
}

TEST_CASE("netsim: out_of_order counts what jitter and --reorder reorder, as the receiver sees it") {
  constexpr std::uint32_t kCount = 2000;
  // Jitter alone (10 ms over batches of 100 sent at once): `reordered`, the copies --reorder
  // held back, stays 0 while most datagrams arrive out of order.
  const SeedRun jitter = seeded_run(7, kCount, {"--up-jitter", "10"});
  const std::uint64_t jitter_late = arrived_after_a_later_one(jitter.upstream_seen);
  MESSAGE("jitter: ", jitter_late, " of ", jitter.upstream_seen.size(), " arrived after a later one");
  CHECK(jitter.upstream_seen.size() == kCount);
  CHECK(jitter.report.number("up_reordered") == 0);
  CHECK(jitter_late > kCount / 4);
  CHECK(jitter.report.number("up_out_of_order") == jitter_late);
  // --reorder alone: each held-back copy is passed by the rest of its batch.
  const SeedRun held = seeded_run(8, kCount, {"--up-reorder", "0.1", "--up-reorder-delay", "5"});
  const std::uint64_t held_late = arrived_after_a_later_one(held.upstream_seen);
  MESSAGE("reorder 0.1: ", held.report.number("up_reordered"), " held back, ", held_late, " arrived after a later one");
  CHECK(held.report.number("up_reordered") > 0);
  CHECK(held.report.number("up_out_of_order") == held_late);
  CHECK(held_late >= held.report.number("up_reordered") * 9 / 10);
  // Neither: nothing out of order, in either direction.
  const SeedRun plain = seeded_run(9, kCount, {"--latency", "1"});
  CHECK(arrived_after_a_later_one(plain.upstream_seen) == 0);
  CHECK(plain.report.number("up_out_of_order") == 0);
  CHECK(plain.report.number("down_out_of_order") == 0);
}

TEST_CASE("netsim: client addresses beyond --max-clients are refused and counted") {
  auto echo = open_loop();
  echo->set_handler([&](std::span<const engine::DatagramView> batch) {
    for (const auto& d : batch) echo->send(engine::OutDatagram{d.bytes, d.from});
  });
  const std::uint16_t echo_port = echo->local_address().port();
  std::thread echo_thread([&] { echo->run(); });
  Netsim netsim(echo_port, {"--max-clients", "5"});
  auto client = open_loop();
  std::vector<engine::SocketId> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(*client->open_socket(engine::Address::loopback_v4(0)));
  std::set<engine::SocketId> answered;
  client->set_handler([&](std::span<const engine::DatagramView> batch) {
    for (const auto& d : batch) answered.insert(d.socket);
  });
  const std::uint8_t byte = 7;
  const auto to = engine::Address::loopback_v4(netsim.port());
  for (int round = 0; round < 3; ++round) {
    for (const auto id : ids) client->send(engine::OutDatagram{Bytes(&byte, 1), to, id});
    client->schedule(engine::now() + 100 * kMillisecond, [&] { client->stop(); });
    client->run();
  }
  const test::FlatJson r = netsim.stop_and_report();
  echo->post([&] { echo->stop(); });
  echo_thread.join();
  CHECK(answered.size() == 5);
  CHECK(r.number("clients_created") == 5);
  CHECK(r.number("clients_refused") == 9);  // 3 addresses x 3 rounds
  CHECK(r.number("up_refused") == 9);
  CHECK(r.number("up_forwarded") == 15);
  CHECK(r.number("down_forwarded") == 15);
  client->close();
  echo->close();
}
