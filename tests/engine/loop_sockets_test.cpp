// More than one UDP socket on one loop, on every backend available here: datagrams report the
// socket they arrived on and leave from the socket they name, two sockets and a thousand,
// close_socket() stops delivery and releases the socket (live().sockets back to zero), a stale
// id never reaches the socket that reuses its slot, close() with extra sockets still open
// leaves nothing behind, and an IPv6 sender's address arrives whole in a receive slot that an
// IPv4 sender used before.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>


#include "loop_fixture.hpp"
#include "support/fd_budget.hpp"

using namespace volley::engine;
using namespace volley::engine::test;

namespace {

// Every extra socket is a file descriptor: make sure `want` of them (plus the loops' own) fit
// under the soft limit, raising it towards the hard limit if needed. Returns how many fit.
std::size_t socket_budget(std::size_t want) {
  const std::size_t fit = volley::test::fd_budget(want, 64);
  if (fit < want) MESSAGE("file descriptor limit: testing ", fit, " sockets, not ", want);
  return fit;
}

Address loopback_of(const Address& local) { return Address::loopback_v4(local.port()); }

// Runs `loop` until `done()` or the watchdog; false if the watchdog fired.
template <typename Done>
bool run_until(Loop& loop, double seconds, Done done) {
  Watchdog watchdog(loop, seconds);
  TimerId poll;
  poll = loop.schedule(now(), [&] {
    if (done()) {
      poll = TimerId{};
      loop.stop();
      return;
    }
    loop.reschedule(poll, now() + 1'000);
  });
  loop.run();
  if (poll) loop.cancel(poll);
  return !watchdog.fired();
}

// A client loop (primary socket only) and a server loop with `extra` sockets besides its
// primary; the server echoes every datagram from the socket it arrived on and records which
// socket that was.
struct Rig {
  std::unique_ptr<Loop> server;
  std::unique_ptr<Loop> client;
  std::vector<SocketId> ids;  // [0] the primary, then the extras
  std::vector<Address> targets;  // where to reach each, read before the server thread runs
  std::unordered_map<std::uint16_t, std::size_t> index_of_port;
  std::vector<std::pair<SocketId, std::uint32_t>> arrived;  // (socket, seq) at the server
  std::vector<OutDatagram> out;
  std::size_t primary_kernel_ops = 0;  // before any extra socket was opened

  Rig(Backend backend, std::size_t extra) {
    server = open_loop(backend);
    client = open_loop(backend);
    primary_kernel_ops = server->live().kernel_ops;
    ids.push_back(kPrimarySocket);
    for (std::size_t i = 0; i < extra; ++i) {
      std::string error;
      const auto id = server->open_socket(Address::loopback_v4(0), &error);
      INFO("open_socket ", i, ": ", error);
      REQUIRE(id.has_value());
      ids.push_back(*id);
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const Address local = server->local_address(ids[i]);
      REQUIRE_FALSE(local.empty());
      index_of_port[local.port()] = i;
      targets.push_back(loopback_of(local));
    }
    REQUIRE(index_of_port.size() == ids.size());  // distinct ports
    server->set_handler([this](std::span<const DatagramView> batch) {
      out.clear();
      for (const DatagramView& d : batch) {
        arrived.emplace_back(d.socket, seq_of(d.bytes));
        out.push_back(OutDatagram{d.bytes, d.from, d.socket});
      }
      server->send(out);
    });
  }
  const Address& target(std::size_t i) const { return targets[i]; }
};

// Payload seq encodes which server socket it was sent to: seq = round * sockets + index.
void exchange(Rig& rig, std::size_t rounds) {
  const std::size_t n = rig.ids.size();
  const std::size_t total = n * rounds;
  std::size_t replies = 0;
  std::size_t wrong_source = 0;
  std::size_t corrupt = 0;
  rig.client->set_handler([&](std::span<const DatagramView> batch) {
    for (const DatagramView& d : batch) {
      const std::uint32_t seq = seq_of(d.bytes);
      if (!matches_pattern(d.bytes) || seq >= total) {
        ++corrupt;
        continue;
      }
      const auto it = rig.index_of_port.find(d.from.unmapped().port());
      if (it == rig.index_of_port.end() || it->second != seq % n) ++wrong_source;
      ++replies;
    }
  });
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<OutDatagram> out;
  std::size_t sent = 0;
  // Paced by rounds: at most one datagram per server socket outstanding.
  std::thread server_thread([&] { rig.server->run(); });
  for (std::size_t r = 0; r < rounds; ++r) {
    payloads.clear();
    out.clear();
    for (std::size_t i = 0; i < n; ++i) payloads.push_back(pattern(static_cast<std::uint32_t>(r * n + i), 48));
    for (std::size_t i = 0; i < n; ++i) out.push_back(OutDatagram{payloads[i], rig.target(i)});
    rig.client->send(out);
    sent += n;
    const bool ok = run_until(*rig.client, 20.0, [&] { return replies + corrupt >= sent; });
    CHECK(ok);
    if (!ok) break;
  }
  rig.server->post([&] { rig.server->stop(); });
  server_thread.join();
  rig.client->set_handler(nullptr);
  CHECK(replies == total);
  CHECK(corrupt == 0);
  CHECK(wrong_source == 0);
  // Each datagram arrived on the socket it was sent to, and was reported as that socket.
  REQUIRE(rig.arrived.size() == total);
  std::size_t wrong_socket = 0;
  for (const auto& [socket, seq] : rig.arrived) {
    if (seq >= total || socket != rig.ids[seq % n]) ++wrong_socket;
  }
  CHECK(wrong_socket == 0);
}

}  // namespace

TEST_CASE("loop sockets: two sockets on one loop, each datagram reports and replies from its socket") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    Rig rig(backend, 1);
    CHECK(rig.ids[1] != kPrimarySocket);
    CHECK(rig.server->live().sockets == 1);
    exchange(rig, 50);
    CHECK(rig.server->close_socket(rig.ids[1]));
    CHECK_FALSE(rig.server->close_socket(rig.ids[1]));       // already closed
    CHECK_FALSE(rig.server->close_socket(kPrimarySocket));   // the primary stays
    CHECK(run_until(*rig.server, 10.0, [&] { return rig.server->live().sockets == 0; }));
    check_no_leaks(*rig.client);
    check_no_leaks(*rig.server);
  }
}

TEST_CASE("loop sockets: a thousand sockets on one loop") {
  const std::size_t extra = socket_budget(1000);
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    Rig rig(backend, extra);
    CHECK(rig.server->live().sockets == extra);
    exchange(rig, 3);
    const Stats& s = rig.server->stats();
    MESSAGE(backend_name(backend), ": ", rig.ids.size(), " sockets, ", s[Counter::kDatagramsIn],
            " datagrams in ", s[Counter::kRecvBatches], " receive batches, ",
            s[Counter::kSyscalls], " syscalls");
    for (std::size_t i = 1; i < rig.ids.size(); ++i) CHECK(rig.server->close_socket(rig.ids[i]));
    CHECK(run_until(*rig.server, 20.0, [&] { return rig.server->live().sockets == 0; }));
    CHECK(rig.server->live().kernel_ops <= rig.primary_kernel_ops);
    check_no_leaks(*rig.client);
    check_no_leaks(*rig.server);
  }
}

TEST_CASE("loop sockets: close_socket stops receives at once and frees the socket") {
  constexpr std::uint32_t kBurst = 40;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    // Small batches: the burst reaches the handler in several, so datagrams the kernel had
    // already received for the socket are still queued when it is closed.
    LoopConfig config;
    config.bind = Address::loopback_v4(0);
    config.batch = 4;
    auto server = open_loop(backend, config);
    auto client = open_loop(backend);
    const auto closing = server->open_socket(Address::loopback_v4(0));
    REQUIRE(closing.has_value());
    const Address closing_addr = loopback_of(server->local_address(*closing));
    // Queued in the kernel before the server runs, so its first receive batch holds several.
    std::vector<std::vector<std::uint8_t>> payloads;
    std::vector<OutDatagram> out;
    for (std::uint32_t i = 0; i < kBurst; ++i) payloads.push_back(pattern(i, 64));
    for (const auto& p : payloads) out.push_back(OutDatagram{p, closing_addr});
    client->send(out);
    client->post([&] { client->stop(); });
    client->run();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

    bool closed = false;
    std::size_t after_close = 0;   // from `closing`, in a batch after the one that closed it
    std::size_t primary_seen = 0;
    server->set_handler([&](std::span<const DatagramView> batch) {
      const bool closed_before_batch = closed;
      for (const DatagramView& d : batch) {
        if (d.socket == *closing) {
          if (closed_before_batch) ++after_close;
          if (!closed) {
            CHECK(server->close_socket(*closing));
            closed = true;
          }
        } else if (d.socket == kPrimarySocket) {
          ++primary_seen;
        }
      }
    });
    CHECK(run_until(*server, 10.0, [&] { return closed; }));
    // More to the closed socket, then a marker to the primary: the marker arrives, nothing
    // from the closed socket does.
    client->send(out);
    const auto marker = pattern(9999, 16);
    client->send(OutDatagram{marker, loopback_of(server->local_address())});
    client->post([&] { client->stop(); });
    client->run();
    CHECK(run_until(*server, 10.0, [&] { return primary_seen == 1 && server->live().sockets == 0; }));
    CHECK(after_close == 0);
    CHECK(server->local_address(*closing).empty());

    // A stale id is refused, and never names the socket that reuses the slot.
    const std::uint64_t dropped = server->stats()[Counter::kSendDropped];
    server->send(OutDatagram{marker, loopback_of(client->local_address()), *closing});
    CHECK(server->stats()[Counter::kSendDropped] == dropped + 1);
    const auto reused = server->open_socket(Address::loopback_v4(0));
    REQUIRE(reused.has_value());
    CHECK(*reused != *closing);
    CHECK_FALSE(server->close_socket(*closing));
    CHECK(server->local_address(*closing).empty());
    CHECK_FALSE(server->local_address(*reused).empty());
    CHECK(server->close_socket(*reused));
    CHECK(run_until(*server, 10.0, [&] { return server->live().sockets == 0; }));
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}

TEST_CASE("loop sockets: closing sockets with sends queued and in flight accounts for every send") {
  constexpr int kSends = 3000;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto sink = open_loop(backend);  // never runs: its buffer fills, the kernel drops the rest
    auto loop = open_loop(backend);
    const Address to = loopback_of(sink->local_address());
    const auto queued = loop->open_socket(Address::loopback_v4(0));
    const auto in_flight = loop->open_socket(Address::loopback_v4(0));
    REQUIRE(queued.has_value());
    REQUIRE(in_flight.has_value());
    const auto bytes = pattern(3, 1000);
    loop->post([&] {
      for (int i = 0; i < kSends; ++i) {
        loop->send(OutDatagram{bytes, to, *queued});
        loop->send(OutDatagram{bytes, to, *in_flight});
      }
      CHECK(loop->close_socket(*queued));  // its sends never left the queue
      loop->schedule(now(), [&] { CHECK(loop->close_socket(*in_flight)); });
    });
    CHECK(run_until(*loop, 20.0, [&] { return loop->live().sockets == 0; }));
    const Stats& s = loop->stats();
    CHECK(s[Counter::kDatagramsOut] + s[Counter::kSendErrors] + s[Counter::kSendDropped] ==
          static_cast<std::uint64_t>(2 * kSends));
    CHECK(s[Counter::kSendDropped] >= static_cast<std::uint64_t>(kSends));
    CHECK(loop->live().send_buffers == 0);
    check_no_leaks(*loop);
    check_no_leaks(*sink);
  }
}

TEST_CASE("loop sockets: close() with extra sockets open and receiving releases them all") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    auto client = open_loop(backend);
    std::vector<SocketId> ids;
    for (int i = 0; i < 20; ++i) {
      const auto id = loop->open_socket(Address::loopback_v4(0));
      REQUIRE(id.has_value());
      ids.push_back(*id);
    }
    // Unread datagrams waiting on half of them, one closing when close() comes.
    const auto bytes = pattern(5, 200);
    for (std::size_t i = 0; i < ids.size(); i += 2) {
      client->send(OutDatagram{bytes, loopback_of(loop->local_address(ids[i]))});
    }
    client->post([&] { client->stop(); });
    client->run();
    CHECK(loop->close_socket(ids[3]));
    CHECK(loop->live().sockets == ids.size());
    loop->close();
    const LiveOps live = loop->live();
    CHECK(live.sockets == 0);
    CHECK(live.kernel_ops == 0);
    CHECK_FALSE(loop->open_socket(Address::loopback_v4(0)).has_value());
    check_no_leaks(*loop);
    check_no_leaks(*client);
  }
}

// The receive headers are reused across sockets: a slot that last held an IPv4 sender's 16-byte
// address must take a full IPv6 address next (the epoll backend restores each header's name
// length after every call; a header left at 16 bytes gets the IPv6 address cut short).
TEST_CASE("loop sockets: an IPv6 sender after an IPv4 one in the same receive slot keeps its whole address") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);  // primary: IPv4 loopback
    const auto v6 = server->open_socket(Address::loopback_v6(0));
    REQUIRE(v6.has_value());
    auto client4 = open_loop(backend);
    auto client6 = open_loop(backend, Address::loopback_v6(0));
    const Address from4 = client4->local_address();
    const Address from6 = client6->local_address();
    REQUIRE(from6.family() == AddressFamily::kIpv6);
    const Address to4 = loopback_of(server->local_address());
    const Address to6 = Address::loopback_v6(server->local_address(*v6).port());

    std::vector<std::pair<SocketId, Address>> arrived;
    server->set_handler([&](std::span<const DatagramView> batch) {
      for (const DatagramView& d : batch) arrived.emplace_back(d.socket, d.from);
    });
    const auto payload = pattern(1, 32);
    // One datagram at a time, alternating families: each lands in the batch's first slot.
    constexpr std::size_t kRounds = 4;
    for (std::size_t i = 0; i < 2 * kRounds; ++i) {
      Loop& client = i % 2 == 0 ? *client4 : *client6;
      client.send(OutDatagram{payload, i % 2 == 0 ? to4 : to6});
      client.post([&client] { client.stop(); });
      client.run();
      REQUIRE(run_until(*server, 10.0, [&] { return arrived.size() == i + 1; }));
    }
    for (std::size_t i = 0; i < arrived.size(); ++i) {
      CAPTURE(i);
      CHECK(arrived[i].first == (i % 2 == 0 ? kPrimarySocket : *v6));
      CHECK(arrived[i].second.to_string() == (i % 2 == 0 ? from4 : from6).to_string());
    }
    CHECK(server->close_socket(*v6));
    CHECK(run_until(*server, 10.0, [&] { return server->live().sockets == 0; }));
    check_no_leaks(*client4);
    check_no_leaks(*client6);
    check_no_leaks(*server);
  }
}
