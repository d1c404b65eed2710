// Loop datagram I/O on every backend available here, over loopback only: a paced echo of
// 100,000 datagrams with nothing lost, IPv6 and dual-stack echo, receive batching under a
// burst, io_uring's buffer ring exhausted, truncation counting, zero-length and largest
// datagrams, close with receives and sends in flight, coalesced waits and timers, and
// single_thread io_uring loops. Every load loop is bounded in count and in time (watchdog,
// stall detector) and ends with the leak check.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "loop_fixture.hpp"

#ifdef __linux__
#include <sys/utsname.h>
#endif

using namespace volley::engine;
using namespace volley::engine::test;

namespace {

// Echo server on its own thread: every datagram goes straight back to its sender.
class EchoServer {
 public:
  EchoServer(Backend backend, Address bind) {
    loop_ = open_loop(backend, bind);
    loop_->set_handler([this](std::span<const DatagramView> batch) {
      out_.clear();
      for (const DatagramView& d : batch) out_.push_back(OutDatagram{d.bytes, d.from});
      loop_->send(out_);
    });
    thread_ = std::thread([this] { loop_->run(); });
  }
  ~EchoServer() { finish(); }
  void finish() {
    if (thread_.joinable()) {
      loop_->stop();
      thread_.join();
    }
  }
  Loop& loop() { return *loop_; }
  Address address() const {
    const Address local = loop_->local_address();
    return local.family() == AddressFamily::kIpv6 ? Address::loopback_v6(local.port())
                                                   : Address::loopback_v4(local.port());
  }

 private:
  std::unique_ptr<Loop> loop_;
  std::vector<OutDatagram> out_;
  std::thread thread_;
};

// For a handler that must know a datagram is already waiting in its socket: has `client`
// (running on its own thread) send `bytes` to `to`, and returns once that send has been flushed
// (on loopback the datagram is then queued at the receiver), or false after 2 s.
bool send_and_wait_flushed(Loop& client, const std::vector<std::uint8_t>& bytes, const Address& to) {
  auto sent = std::make_shared<std::atomic<bool>>(false);  // outlives a timed-out wait
  client.post([&client, bytes, to, sent] {
    client.send(OutDatagram{bytes, to});
    client.post([sent] { *sent = true; });  // runs after the flush that sent it
  });
  for (int i = 0; i < 2000 && !*sent; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return *sent;
}

// Runs `server` until it stops (a watchdog stops it after 5 s, scaled), while `client` runs on
// a thread of its own and starts by sending `first` to `to`. False when the watchdog had to.
bool run_with_client(Loop& server, Loop& client, const std::vector<std::uint8_t>& first, const Address& to) {
  // The client's watchdog ends its run even if a stop() from this thread never wakes it.
  Watchdog client_watchdog(client, 20.0);
  std::thread runner([&] { client.run(); });
  client.post([&] { client.send(OutDatagram{first, to}); });
  Watchdog watchdog(server, 5.0);
  server.run();
  client.stop();
  runner.join();
  const bool stopped_by_itself = !watchdog.fired() && !client_watchdog.fired();
  watchdog.disarm();
  client_watchdog.disarm();
  return stopped_by_itself;
}

struct EchoResult {
  std::uint32_t received = 0;
  std::uint32_t duplicates = 0;
  std::uint32_t corrupt = 0;
  bool stalled = false;
  bool watchdog = false;
};

// Sends `total` numbered datagrams to `to`, never more than `window` unanswered (the pacing
// that guarantees no socket buffer overflows), and checks every echo.
EchoResult run_echo_client(Loop& client, const Address& to, std::uint32_t total,
                           std::uint32_t window) {
  EchoResult result;
  std::vector<bool> seen(total, false);
  std::uint32_t next = 0;
  std::uint32_t outstanding = 0;
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<OutDatagram> out;
  auto top_up = [&] {
    payloads.clear();
    out.clear();
    while (outstanding < window && next < total) {
      payloads.push_back(pattern(next, 8 + (next * 37u) % 400u));
      ++next;
      ++outstanding;
    }
    for (const auto& p : payloads) out.push_back(OutDatagram{p, to});
    client.send(out);
  };
  client.set_handler([&](std::span<const DatagramView> batch) {
    for (const DatagramView& d : batch) {
      const std::uint32_t seq = seq_of(d.bytes);
      if (seq >= total || !matches_pattern(d.bytes) || d.bytes.size() != 8 + (seq * 37u) % 400u) {
        ++result.corrupt;
        continue;
      }
      if (seen[seq]) {
        ++result.duplicates;
        continue;
      }
      seen[seq] = true;
      ++result.received;
      --outstanding;
    }
    if (result.received == total) {
      client.stop();
      return;
    }
    top_up();
  });
  // Stall detector: loopback with a bounded window never loses, so 10 s without progress
  // means something is broken; fail before the watchdog.
  std::uint32_t last_received = 0;
  TimePoint last_progress = now();
  TimerId stall;
  stall = client.schedule(now() + 250'000, [&] {
    if (result.received != last_received) {
      last_received = result.received;
      last_progress = now();
    } else if (now() - last_progress > static_cast<TimePoint>(10'000'000 * time_scale())) {
      result.stalled = true;
      client.stop();
      return;
    }
    client.reschedule(stall, now() + 250'000);
  });
  Watchdog watchdog(client, 40.0);  // 320 s under Wine
  const TimePoint started = now();
  top_up();
  client.run();
  client.cancel(stall);
  result.watchdog = watchdog.fired();
  const double seconds = static_cast<double>(now() - started) / 1e6;
  MESSAGE("echoed ", result.received, " of ", total, " in ", seconds, " s");
  client.set_handler(nullptr);
  return result;
}

void check_echo(const EchoResult& r, std::uint32_t total) {
  CHECK_FALSE(r.watchdog);
  CHECK_FALSE(r.stalled);
  CHECK(r.received == total);
  CHECK(r.duplicates == 0);
  CHECK(r.corrupt == 0);
}

}  // namespace

TEST_CASE("loop: loopback echo of 100000 paced datagrams loses nothing") {
  constexpr std::uint32_t kTotal = 100'000;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    EchoServer server(backend, Address::loopback_v4(0));
    auto client = open_loop(backend);
    const EchoResult r = run_echo_client(*client, server.address(), kTotal, 128);
    server.finish();
    check_echo(r, kTotal);
    const Stats& s = server.loop().stats();
    CHECK(s[Counter::kDatagramsIn] == kTotal);
    CHECK(s[Counter::kDatagramsOut] == kTotal);
    CHECK(s[Counter::kBytesIn] == s[Counter::kBytesOut]);
    CHECK(s[Counter::kTruncated] == 0);
    CHECK(s[Counter::kSendErrors] + s[Counter::kSendDropped] == 0);
    CHECK(client->stats()[Counter::kDatagramsOut] == kTotal);
    MESSAGE(backend_name(backend), " echo server: ", s[Counter::kDatagramsIn], " in, ",
            s[Counter::kRecvBatches], " receive batches, ", s[Counter::kSendBatches],
            " send batches, ", s[Counter::kSyscalls], " syscalls, ", s[Counter::kRecvExhausted],
            " buffer exhaustions");
    check_no_leaks(*client);
    check_no_leaks(server.loop());
  }
}

TEST_CASE("loop: IPv6 loopback and dual-stack (IPv4 client, IPv6 server) echo") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    EchoServer v6(backend, Address::loopback_v6(0));
    auto client6 = open_loop(backend, Address::loopback_v6(0));
    check_echo(run_echo_client(*client6, v6.address(), 2000, 64), 2000);
    v6.finish();
    check_no_leaks(*client6);
    check_no_leaks(v6.loop());

    EchoServer dual(backend, Address::any_v6(0));
    auto client4 = open_loop(backend, Address::loopback_v4(0));
    const Address target = Address::loopback_v4(dual.loop().local_address().port());
    check_echo(run_echo_client(*client4, target, 2000, 64), 2000);
    dual.finish();
    check_no_leaks(*client4);
    check_no_leaks(dual.loop());
  }
}

namespace {

// Backend::kIoUring is usable here (else the test says why it skips).
bool io_uring_available() {
  const std::string reason = backend_unavailable_reason(Backend::kIoUring);
  if (!reason.empty()) MESSAGE("skipping: ", reason);
  return reason.empty();
}

// A burst of `count` datagrams sent while the server's loop thread is held by a task, so it
// queues up in the kernel meanwhile; then the server runs until it has them all (or 10 s).
struct BurstRun {
  int received = 0;
  std::size_t largest_batch = 0;
  Stats stats;
};
BurstRun receive_burst(Backend backend, LoopConfig config, int count) {
  config.bind = Address::loopback_v4(0);
  auto server = open_loop(backend, std::move(config));
  std::atomic<int> received{0};
  BurstRun run;
  server->set_handler([&](std::span<const DatagramView> batch) {
    run.largest_batch = std::max(run.largest_batch, batch.size());
    received.fetch_add(static_cast<int>(batch.size()), std::memory_order_release);
  });
  std::atomic<bool> blocked{false};
  std::atomic<bool> release{false};
  server->post([&] {
    blocked.store(true);
    wait_until([&] { return release.load(); }, 10.0);
  });
  // Ends the run even if the stop() below never wakes the loop.
  Watchdog watchdog(*server, 30.0);
  std::thread runner([&] { server->run(); });
  const TimePoint block_limit = now() + static_cast<TimePoint>(10'000'000 * time_scale());
  while (!blocked.load() && now() < block_limit) std::this_thread::yield();
  CHECK(blocked.load());

  auto client = open_loop(backend);
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<OutDatagram> out;
  for (int i = 0; i < count; ++i) payloads.push_back(pattern(static_cast<std::uint32_t>(i), 64));
  const Address to = Address::loopback_v4(server->local_address().port());
  for (const auto& p : payloads) out.push_back(OutDatagram{p, to});
  client->send(out);
  client->post([&] { client->stop(); });
  client->run();  // one iteration: the burst is submitted
  // Give the kernel time to complete the receives that were already armed.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  release.store(true);
  wait_until([&] { return received.load(std::memory_order_acquire) >= count; }, 10.0);
  server->stop();
  runner.join();
  CHECK_FALSE(watchdog.fired());
  watchdog.disarm();
  run.received = received.load();
  run.stats = server->stats();
  check_no_leaks(*client);
  check_no_leaks(*server);
  return run;
}

}  // namespace

TEST_CASE("loop: under a burst, receive completions carry more than one datagram") {
  constexpr int kBurst = 200;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    const BurstRun run = receive_burst(backend, LoopConfig{}, kBurst);
    CHECK(run.received == kBurst);
    CHECK(run.largest_batch > 1);
    MESSAGE(backend_name(backend), ": burst of ", kBurst, ", largest receive batch ", run.largest_batch,
            ", receive batches ", run.stats[Counter::kRecvBatches]);
  }
}

// io_uring receives into a ring of provided buffers: a burst larger than the ring ends the
// multishot receive (ENOBUFS), which is counted as exhaustion, not as an error, and re-armed;
// the datagrams that found no buffer wait in the socket and are read after.
TEST_CASE("loop: io_uring counts an exhausted buffer ring, re-arms, and loses nothing") {
  if (!io_uring_available()) return;
  constexpr int kBurst = 64;
  LoopConfig config;
  config.recv_buffers = 4;
  const BurstRun run = receive_burst(Backend::kIoUring, config, kBurst);
  CHECK(run.received == kBurst);
  CHECK(run.stats[Counter::kRecvExhausted] >= 1);
  CHECK(run.stats[Counter::kRecvErrors] == 0);
}

namespace {

// A server whose max_datagram_bytes is 256 receives what a client with the limit `client_max`
// sends: `sizes` in order, the last one 10 bytes, which stops the server.
struct SizeRun {
  std::vector<std::size_t> received;
  std::uint64_t truncated = 0;     // at the server
  std::uint64_t send_dropped = 0;  // at the client
  std::uint64_t send_errors = 0;   // at the client
};
SizeRun send_sizes(Backend backend, std::size_t client_max, std::initializer_list<std::size_t> sizes) {
  LoopConfig config;
  config.bind = Address::loopback_v4(0);
  config.max_datagram_bytes = 256;
  auto server = open_loop(backend, config);
  SizeRun run;
  server->set_handler([&](std::span<const DatagramView> batch) {
    for (const DatagramView& d : batch) {
      run.received.push_back(d.bytes.size());
      if (d.bytes.size() == 10) server->stop();
    }
  });
  Watchdog watchdog(*server, 20.0);
  config.max_datagram_bytes = client_max;
  auto client = open_loop(backend, config);
  const Address to = Address::loopback_v4(server->local_address().port());
  std::uint32_t seed = 0;
  for (const std::size_t size : sizes) client->send(OutDatagram{pattern(++seed, size), to});
  client->post([&] { client->stop(); });
  client->run();
  server->run();
  CHECK_FALSE(watchdog.fired());
  run.truncated = server->stats()[Counter::kTruncated];
  run.send_dropped = client->stats()[Counter::kSendDropped];
  run.send_errors = client->stats()[Counter::kSendErrors];
  watchdog.disarm();
  check_no_leaks(*client);
  check_no_leaks(*server);
  return run;
}

}  // namespace

TEST_CASE("loop: datagrams larger than the receive buffer are counted as truncated") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    // 1000 bytes: sent (the client's limit is 2048), truncated at the server. 4096: over the
    // client's own limit, dropped before it reaches the kernel.
    const SizeRun run = send_sizes(backend, 2048, {1000, 4096, 10});
    CHECK(run.received == std::vector<std::size_t>{10});
    CHECK(run.truncated == 1);
    CHECK(run.send_dropped == 1);
  }
}

TEST_CASE("loop: a datagram of exactly max_datagram_bytes is sent and received whole, one byte more is not sent") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    const SizeRun run = send_sizes(backend, 256, {256, 257, 10});
    CHECK(run.received == std::vector<std::size_t>{256, 10});
    CHECK(run.truncated == 0);
    CHECK(run.send_dropped == 1);
  }
}

// UDP allows an empty datagram, and io_uring completes its send with 0 bytes written: that is a
// send, not a failure.
TEST_CASE("loop: a zero-length datagram is sent and received") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    const SizeRun run = send_sizes(backend, 256, {0, 10});
    CHECK(run.received == std::vector<std::size_t>{0, 10});
    CHECK(run.send_errors == 0);
    CHECK(run.send_dropped == 0);
  }
}

TEST_CASE("loop: close with receives and sends in flight releases everything") {
  constexpr int kSends = 6000;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    // A sink that never runs: its receive buffer fills and the rest is dropped by the kernel,
    // while its own receives stay armed the whole time.
    auto sink = open_loop(backend);
    auto loop = open_loop(backend);
    const Address to = Address::loopback_v4(sink->local_address().port());
    const auto bytes = pattern(7, 1200);
    std::thread runner([&] {
      loop->post([&] {
        for (int i = 0; i < kSends; ++i) loop->send(OutDatagram{bytes, to});
        // Stop one iteration later, so the sends are submitted and some still in flight.
        loop->schedule(now(), [&] { loop->stop(); });
      });
      loop->run();
    });
    runner.join();
    MESSAGE(backend_name(backend), ": at stop, kernel ops ", loop->live().kernel_ops,
            ", send buffers ", loop->live().send_buffers);
    check_no_leaks(*loop);
    const Stats& s = loop->stats();
    CHECK(s[Counter::kDatagramsOut] + s[Counter::kSendErrors] + s[Counter::kSendDropped] ==
          static_cast<std::uint64_t>(kSends));
    check_no_leaks(*sink);
  }
}

TEST_CASE("loop: runs of datagrams to one peer arrive intact and in order (merged sends)") {
  constexpr std::uint32_t kCount = 150;  // more than one GSO message (64 segments at most)
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);
    std::vector<std::uint32_t> order;
    std::uint32_t bad = 0;
    server->set_handler([&](std::span<const DatagramView> batch) {
      for (const DatagramView& d : batch) {
        const std::uint32_t seq = seq_of(d.bytes);
        const std::size_t want = seq + 1 == kCount ? 100 : 300;
        if (!matches_pattern(d.bytes) || d.bytes.size() != want) ++bad;
        order.push_back(seq);
        if (order.size() == kCount) server->stop();
      }
    });
    Watchdog watchdog(*server, 20.0);
    auto client = open_loop(backend);
    const Address to = Address::loopback_v4(server->local_address().port());
    std::vector<std::vector<std::uint8_t>> payloads;
    std::vector<OutDatagram> out;
    for (std::uint32_t i = 0; i < kCount; ++i) payloads.push_back(pattern(i, i + 1 == kCount ? 100 : 300));
    for (const auto& p : payloads) out.push_back(OutDatagram{p, to});
    client->send(out);
    client->post([&] { client->stop(); });
    client->run();
    server->run();
    CHECK_FALSE(watchdog.fired());
    CHECK(bad == 0);
    REQUIRE(order.size() == kCount);
    for (std::uint32_t i = 0; i < kCount; ++i) CHECK(order[i] == i);
    const Stats& s = client->stats();
    CHECK(s[Counter::kDatagramsOut] == kCount);
    MESSAGE(backend_name(backend), ": ", kCount, " datagrams to one peer in ",
            s[Counter::kSubmissions], " submissions (receive/wake arms included)");
#ifdef __linux__
    CHECK(s[Counter::kSubmissions] < kCount / 2);  // merged by UDP GSO
#endif
    watchdog.disarm();
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}

TEST_CASE("loop: stop() from a receive handler still sends what that handler queued") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);
    auto client = open_loop(backend);
    const Address server_at = Address::loopback_v4(server->local_address().port());
    server->set_handler([&](std::span<const DatagramView> batch) {
      for (const DatagramView& d : batch) server->send(OutDatagram{d.bytes, d.from});
      server->stop();  // the replies just queued must still go out
    });
    const std::vector<std::uint8_t> ping = pattern(7, 32);
    std::uint32_t replies = 0;
    client->set_handler([&](std::span<const DatagramView> batch) {
      for (const DatagramView& d : batch) {
        if (std::equal(d.bytes.begin(), d.bytes.end(), ping.begin(), ping.end())) ++replies;
      }
      client->stop();
    });
    // The server handles one batch and returns from run(); the client waits for the reply.
    std::thread runner([&] { server->run(); });
    client->send(OutDatagram{ping, server_at});
    Watchdog server_watchdog(*client, 5.0);
    client->run();
    server->stop();  // in case the datagram never reached it
    runner.join();
    CHECK_FALSE(server_watchdog.fired());
    CHECK(replies == 1);
    server_watchdog.disarm();
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}

// Coalescing: a stream of datagrams one millisecond apart is handled in a few long
// waits (capped at coalesce_us), yet a timer due meanwhile still fires on time.
// The checks hold on a loaded machine: the cap (1 s) and a batch larger than the stream make a
// wait that ignored the timer's deadline fire it about a second late, far beyond the scheduling
// bound allowed (kLateBoundUs). A loaded machine only merges datagrams into fewer waits, so only
// the coalesced case is judged on its wait count (io_uring: a min-timeout or min-count wait;
// epoll: a nap before the wait).
TEST_CASE("loop: io_uring and epoll coalesce wake-ups under a stream and never delay a timer") {
 for (const Backend backend : {Backend::kIoUring, Backend::kEpoll}) {
  CAPTURE(backend_name(backend));
  if (const std::string reason = backend_unavailable_reason(backend); !reason.empty()) {
    MESSAGE("skipping: ", reason);
    continue;
  }
  constexpr int kDatagrams = 100;
  constexpr std::uint32_t kCapUs = 1'000'000;
  const auto kLateBoundUs = static_cast<TimePoint>(250'000 * time_scale());
  for (const std::uint32_t cap : {kCapUs, 0u}) {
    CAPTURE(cap);
    LoopConfig config;
    config.bind = Address::loopback_v4(0);
    config.coalesce_us = cap;
    config.batch = 2 * kDatagrams;  // a coalesced wait never completes its batch: it runs to a deadline
    auto server = open_loop(backend, std::move(config));
    std::atomic<int> received{0};
    // The timer is set when the stream starts, so that it is due while datagrams flow (the loops
    // can take longer than 30 ms to open on a loaded machine).
    TimePoint due = 0;
    TimePoint fired_at = 0;
    server->set_handler([&](std::span<const DatagramView> batch) {
      if (due == 0) {
        due = now() + 30'000;
        server->schedule(due, [&] { fired_at = now(); });
      }
      received.fetch_add(static_cast<int>(batch.size()), std::memory_order_release);
    });
    Watchdog server_watchdog(*server, 10.0);
    std::thread runner([&] { server->run(); });

    auto client = open_loop(backend);
    const Address to = Address::loopback_v4(server->local_address().port());
    const std::vector<std::uint8_t> payload = pattern(1, 64);
    int sent = 0;
    TimerId tick;
    tick = client->schedule(now(), [&] {
      client->send(OutDatagram{payload, to});
      if (++sent == kDatagrams) {
        client->stop();
        return;
      }
      client->reschedule(tick, now() + 1'000);
    });
    Watchdog client_watchdog(*client, 10.0);
    client->run();
    wait_until([&] { return received.load(std::memory_order_acquire) >= kDatagrams; }, 5.0);
    server->stop();
    runner.join();
    CHECK_FALSE(client_watchdog.fired());
    CHECK_FALSE(server_watchdog.fired());
    client_watchdog.disarm();
    server_watchdog.disarm();
    const std::uint64_t waits = server->stats()[Counter::kWaits];
    MESSAGE("coalesce_us ", cap, ": ", received.load(), " datagrams in ", waits, " waits, timer ",
            fired_at - due, " us late");
    CHECK(received.load() == kDatagrams);
    REQUIRE(fired_at != 0);
    // The loop promises the timer no earlier than due and never delayed by a coalesced wait:
    // only scheduling may make it late, and kLateBoundUs is far below the cap.
    CHECK(fired_at >= due);
    CHECK(fired_at - due < kLateBoundUs);
    // Uncoalesced, each datagram one ms apart is about one wait; coalesced, a handful.
    if (cap > 0) CHECK(waits < kDatagrams / 4);
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
 }
}

namespace {

// A LoopConfig::single_thread io_uring loop (a single-issuer ring with deferred task running)
// lives its whole life on one thread: opened, set up by `setup`, run and closed there. Other
// threads may only stop() it.
class SingleThreadLoop {
 public:
  SingleThreadLoop(LoopConfig config, std::function<void(Loop&)> setup) {
    config.bind = Address::loopback_v4(0);
    config.backend = Backend::kIoUring;
    config.single_thread = true;
    thread_ = std::thread([this, config = std::move(config), setup = std::move(setup)]() mutable {
      Loop::Opened o = Loop::open(std::move(config));
      if (!o) {
        opened_ = true;
        return;
      }
      Loop& loop = *o.loop;
      setup(loop);
      port_ = loop.local_address().port();
      loop_ = &loop;
      opened_ = true;
      loop.run();
      returned_ = true;
      stats_ = loop.stats();
      loop.close();
      after_close_ = loop.live();
      const std::lock_guard lock(mutex_);  // finish() may be about to stop it
      loop_ = nullptr;
    });
    wait_until([&] { return opened_.load(); }, 10.0);
  }
  ~SingleThreadLoop() { finish(); }
  bool opened() const { return opened_.load() && port_.load() != 0; }
  bool returned() const { return returned_.load(); }  // run() has returned
  Address address() const { return Address::loopback_v4(port_.load()); }
  void finish() {
    if (!thread_.joinable()) return;
    {
      const std::lock_guard lock(mutex_);
      if (Loop* loop = loop_.load()) loop->stop();
    }
    thread_.join();
  }
  // After finish():
  std::uint64_t waits() const { return stats_[Counter::kWaits]; }
  const Stats& stats() const { return stats_; }
  const LiveOps& after_close() const { return after_close_; }

 private:
  std::atomic<std::uint16_t> port_{0};
  std::atomic<bool> opened_{false};
  std::atomic<bool> returned_{false};
  std::mutex mutex_;
  std::atomic<Loop*> loop_{nullptr};  // null again once the loop thread is done with it
  Stats stats_{};
  LiveOps after_close_{1, 1, 1, 1, 1};
  std::thread thread_;
};

// Sends `count` datagrams of `payload` to `to` from a loop run on this thread, one a millisecond,
// or `gap_us(n)` after the n-th (from 1) when given.
void send_paced(Backend backend, const Address& to, int count, const std::vector<std::uint8_t>& payload,
                const std::function<void(std::span<const DatagramView>, Loop&)>& on_reply = {},
                const std::function<TimePoint(int)>& gap_us = {}) {
  auto client = open_loop(backend);
  int sent = 0;
  if (on_reply) client->set_handler([&](std::span<const DatagramView> batch) { on_reply(batch, *client); });
  TimerId tick;
  tick = client->schedule(now(), [&] {
    client->send(OutDatagram{payload, to});
    if (++sent < count) {
      client->reschedule(tick, now() + (gap_us ? gap_us(sent) : 1'000));
    } else if (!on_reply) {
      client->stop();
    }
  });
  Watchdog watchdog(*client, 10.0);
  client->run();
  CHECK_FALSE(watchdog.fired());
  watchdog.disarm();
  if (sent < count) client->cancel(tick);
  check_no_leaks(*client);
}

}  // namespace

// A single_thread loop: echoes arrive, waits are coalesced, close is clean.
TEST_CASE("loop: a single_thread io_uring loop opened, run and closed on its own thread") {
  if (!io_uring_available()) return;
  constexpr int kDatagrams = 100;
  LoopConfig config;
  config.coalesce_us = 50'000;
  std::vector<OutDatagram> out;
  SingleThreadLoop server(config, [&](Loop& loop) {
    loop.set_handler([&](std::span<const DatagramView> batch) {
      out.clear();
      for (const DatagramView& d : batch) out.push_back(OutDatagram{d.bytes, d.from});
      loop.send(out);
    });
  });
  REQUIRE(server.opened());
  int echoed = 0;
  send_paced(Backend::kIoUring, server.address(), kDatagrams, pattern(3, 48),
             [&](std::span<const DatagramView> batch, Loop& client) {
               echoed += static_cast<int>(batch.size());
               if (echoed == kDatagrams) client.stop();
             });
  server.finish();
  MESSAGE("single_thread: ", echoed, " echoes, server waits ", server.waits());
  CHECK(echoed == kDatagrams);
  CHECK(server.waits() < kDatagrams / 3);
  CHECK(server.after_close() == LiveOps{});
}

#ifdef __linux__
// Opened on this thread, run() on another: the single-issuer ring refuses that thread's waits
// (-EEXIST), and the loop spun at 100% CPU serving nothing, silently. Now run() says so in one
// line and returns; the loop still closes cleanly here.
TEST_CASE("loop: run() of a single_thread io_uring loop on another thread than open() is refused, one line") {
  if (!io_uring_available()) return;
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < 6 || (major == 6 && minor < 1)) {
    MESSAGE("skipping: kernel ", u.release, " has no single-issuer deferred ring (6.1+)");
    return;
  }
  LoopConfig config;
  config.bind = Address::loopback_v4(0);
  config.backend = Backend::kIoUring;
  config.single_thread = true;
  std::string logged;
  config.log = [&](std::string_view text) { logged += std::string(text) + "\n"; };
  Loop::Opened o = Loop::open(std::move(config));
  REQUIRE(o);
  Loop& loop = *o.loop;
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    loop.run();
    returned = true;
  });
  wait_until([&] { return returned.load(); }, 2.0);
  const bool returned_by_itself = returned.load();
  if (!returned_by_itself) loop.stop();
  runner.join();
  CHECK(returned_by_itself);
  CHECK(logged.find("single_thread") != std::string::npos);
  CHECK(std::count(logged.begin(), logged.end(), '\n') == 1);
  CHECK(loop.stats()[Counter::kRecvErrors] == 0);
  loop.close();
  CHECK(loop.live() == LiveOps{});
}
#endif

namespace {

// The loops the coalescing tests run a server on: epoll (it naps by sleeping, then harvests), an
// ordinary io_uring ring (it waits for a batch with the cap as its timeout) and a single_thread
// ring (a min-timeout wait, on kernels that have one).
enum class LoopKind { kEpoll, kIoUring, kIoUringSingleThread };

std::string loop_kind_name(LoopKind kind) {
  switch (kind) {
    case LoopKind::kEpoll: return "epoll";
    case LoopKind::kIoUring: return "io_uring";
    case LoopKind::kIoUringSingleThread: return "io_uring single_thread";
  }
  return "?";
}

Backend loop_kind_backend(LoopKind kind) { return kind == LoopKind::kEpoll ? Backend::kEpoll : Backend::kIoUring; }

std::vector<LoopKind> loop_kinds() {
  std::vector<LoopKind> kinds;
  if (backend_unavailable_reason(Backend::kEpoll).empty()) kinds.push_back(LoopKind::kEpoll);
  if (io_uring_available()) {
    kinds.push_back(LoopKind::kIoUring);
    kinds.push_back(LoopKind::kIoUringSingleThread);
  }
  return kinds;
}

// Runs a server loop of `kind` on a thread of its own, set up by `setup` (handlers, timers),
// while `drive(address)` runs on this one; then stops it and returns its counters. The loop must
// leave nothing behind but `leftover`.
Stats run_server(LoopKind kind, LoopConfig config, const std::function<void(Loop&)>& setup,
                 const std::function<void(const Address&)>& drive, Leftover leftover = {}) {
  if (kind == LoopKind::kIoUringSingleThread) {
    SingleThreadLoop server(std::move(config), setup);
    REQUIRE(server.opened());
    drive(server.address());
    server.finish();
    CHECK(server.after_close() == LiveOps{});
    return server.stats();
  }
  config.bind = Address::loopback_v4(0);
  auto server = open_loop(loop_kind_backend(kind), std::move(config));
  setup(*server);
  Watchdog server_watchdog(*server, 10.0);
  std::thread runner([&] { server->run(); });
  drive(Address::loopback_v4(server->local_address().port()));
  server->stop();
  runner.join();
  CHECK_FALSE(server_watchdog.fired());
  server_watchdog.disarm();
  const Stats stats = server->stats();
  check_no_leaks(*server, leftover);
  return stats;
}

}  // namespace

// An echo without coalescing: each datagram, 1 ms apart, wakes the loop once. The reply's send
// completes as soon as the next enter submits it; a wait for a single completion would return
// on that alone and cost a second wait (and io_uring_enter) per datagram. Both ring kinds.
TEST_CASE("loop: an io_uring echo takes one wait per datagram, not another for its reply's send") {
  if (!io_uring_available()) return;
  constexpr int kDatagrams = 100;
  for (const LoopKind kind : {LoopKind::kIoUring, LoopKind::kIoUringSingleThread}) {
    CAPTURE(loop_kind_name(kind));
    LoopConfig config;
    config.coalesce_us = 0;
    std::vector<OutDatagram> out;
    int echoed = 0;
    const Stats stats = run_server(
        kind, config,
        [&](Loop& loop) {
          loop.set_handler([&](std::span<const DatagramView> batch) {
            out.clear();
            for (const DatagramView& d : batch) out.push_back(OutDatagram{d.bytes, d.from});
            loop.send(out);
          });
        },
        [&](const Address& to) {
          send_paced(Backend::kIoUring, to, kDatagrams, pattern(5, 40), [&](std::span<const DatagramView> batch, Loop& client) {
            echoed += static_cast<int>(batch.size());
            if (echoed == kDatagrams) client.stop();
          });
        });
    const std::uint64_t waits = stats[Counter::kWaits];
    MESSAGE(loop_kind_name(kind), " echo: ", echoed, " echoes in ", waits, " server waits");
    CHECK(echoed == kDatagrams);
    // One wait per datagram, a few more for start and stop; two per datagram without the fix.
    CHECK(waits < kDatagrams * 3 / 2);
  }
}

namespace {

// A loop with a 4 ms coalescing cap receives `count` datagrams sent `gap_us(n)` apart; returns
// its loop counters once all have arrived. The loop holds a timer a minute off, as a server
// always holds its peers' deadlines: a min-timeout wait with no deadline at all ends at the cap
// even when nothing came (the kernel's rule), one with a deadline sleeps on to the first
// datagram and takes what a wait without a nap would have: a nap that does not pay.
Stats nap_counts(LoopKind kind, int count, const std::function<TimePoint(int)>& gap_us) {
  LoopConfig config;
  config.coalesce_us = 4'000;
  constexpr TimePoint kMinute = 60'000'000;
  std::atomic<int> received{0};
  const Stats stats = run_server(
      kind, config,
      [&](Loop& loop) {
        loop.set_handler([&](std::span<const DatagramView> batch) {
          received.fetch_add(static_cast<int>(batch.size()), std::memory_order_release);
        });
        loop.schedule(now() + kMinute, [] {});
      },
      [&](const Address& to) {
        send_paced(loop_kind_backend(kind), to, count, pattern(4, 32), {}, gap_us);
        wait_until([&] { return received.load(std::memory_order_acquire) >= count; }, 5.0);
      },
      Leftover{.timers = 1});
  MESSAGE(loop_kind_name(kind), " naps: ", stats[Counter::kNaps], " taken, ", stats[Counter::kNapsEmpty],
          " found nothing, ", stats[Counter::kWaits], " waits for ", received.load(), " datagrams");
  CHECK(received.load() == count);
  CHECK(stats[Counter::kNapsEmpty] <= stats[Counter::kNaps]);
  return stats;
}

}  // namespace

// A loop naps only while a nap finds datagrams waiting. A stream 1 ms apart starts the napping
// (cap 4 ms); then datagrams 7 ms apart, further apart than the cap but closer than twice it:
// the first nap that finds nothing must end the napping, and the next datagram, 7 ms after the
// one before, must not start it again. Napping on would waste a nap on each of them (on
// io_uring's min-timeout wait, a kernel timer that fires for nothing).
TEST_CASE("loop: a nap that finds nothing waiting ends the napping") {
  for (const LoopKind kind : loop_kinds()) {
    CAPTURE(loop_kind_name(kind));
    constexpr int kStream = 20;
    constexpr int kSparse = 30;
    const Stats stats =
        nap_counts(kind, kStream + kSparse, [](int n) -> TimePoint { return n < kStream ? 1'000 : 7'000; });
    // The stream napped: a nap of the cap gathers about four of its datagrams.
    CHECK(stats[Counter::kNaps] > 0);
    // One empty nap when the stream thins out; a loaded machine that bunches two sparse
    // datagrams may start and end the napping a few more times, never on most of them. The
    // naps are bounded too: an empty nap taken for one that gathered would keep napping.
    CHECK(stats[Counter::kNapsEmpty] < kSparse / 3);
    CHECK(stats[Counter::kNaps] < kStream / 2 + kSparse / 3);
  }
}

// Bursts that reach the loop in two deliveries 0.5 ms apart, 7 ms from one burst to the next:
// each burst starts the napping (two deliveries within the 4 ms cap) and the nap then finds
// nothing. The hold after an empty nap, doubled each time, must keep this to a few naps, not
// one per burst.
TEST_CASE("loop: napping is held back after empty naps when bursts arrive split") {
  for (const LoopKind kind : loop_kinds()) {
    CAPTURE(loop_kind_name(kind));
    constexpr int kBursts = 60;
    const Stats stats = nap_counts(kind, 2 * kBursts, [](int n) -> TimePoint { return n % 2 == 1 ? 500 : 7'000; });
    // 120 deliveries: holds of 1, 2, 4 ... 64 deliveries leave at most 8 empty naps; without
    // them, one per burst. None of the naps gathers anything.
    CHECK(stats[Counter::kNapsEmpty] < kBursts / 5);
    CHECK(stats[Counter::kNaps] < kBursts / 4);
  }
}

// The min-timeout wait asks the kernel for a batch within the coalescing cap, and the kernel
// runs that cap before it looks at the wait's own deadline: a cap longer than the time to the
// next timer must be cut to it. Cap 1 s; datagrams 1 ms apart make the loop nap; a timer due
// 30 ms after the first one: an uncut cap fires it about a second late, far beyond the
// scheduling bound.
TEST_CASE("loop: a single_thread io_uring loop never delays a timer for a coalesced wait") {
  if (!io_uring_available()) return;
  constexpr int kDatagrams = 100;
  const auto kLateBoundUs = static_cast<TimePoint>(250'000 * time_scale());
  LoopConfig config;
  config.coalesce_us = 1'000'000;
  config.batch = 2 * kDatagrams;  // a nap never completes its batch: it runs to a deadline
  TimePoint due = 0;
  TimePoint fired_at = 0;
  std::atomic<int> received{0};
  const Stats stats = run_server(
      LoopKind::kIoUringSingleThread, config,
      [&](Loop& loop) {
        loop.set_handler([&](std::span<const DatagramView> batch) {
          if (due == 0) {
            due = now() + 30'000;
            loop.schedule(due, [&] { fired_at = now(); });
          }
          received.fetch_add(static_cast<int>(batch.size()), std::memory_order_release);
        });
      },
      [&](const Address& to) {
        send_paced(Backend::kIoUring, to, kDatagrams, pattern(6, 32));
        wait_until([&] { return received.load(std::memory_order_acquire) >= kDatagrams; }, 5.0);
      });
  MESSAGE("single_thread, cap 1 s: timer ", fired_at - due, " us late, ", stats[Counter::kNaps], " naps");
  CHECK(received.load() == kDatagrams);
  CHECK(stats[Counter::kNaps] > 0);
  REQUIRE(fired_at != 0);
  CHECK(fired_at >= due);
  CHECK(fired_at - due < kLateBoundUs);
}

// A deferred-task-run ring posts completions only inside an io_uring_enter that asks for them:
// a loop that tasks keep busy (every wait has a zero timeout) must still make that call, or it
// never hears a datagram while the tasks last.
TEST_CASE("loop: a single_thread io_uring loop kept busy by tasks still receives") {
  if (!io_uring_available()) return;
  const TimePoint spin_limit_us = static_cast<TimePoint>(5'000'000 * time_scale());
  int spins = 0;
  std::atomic<bool> spinning_at_receive{false};
  TimePoint spin_end = 0;
  std::function<void()> spin;
  SingleThreadLoop server(LoopConfig{}, [&](Loop& loop) {
    spin_end = now() + spin_limit_us;
    spin = [&] {
      ++spins;
      if (now() < spin_end) loop.post(spin);
    };
    loop.post(spin);
    loop.set_handler([&](std::span<const DatagramView>) {
      spinning_at_receive = now() < spin_end;
      loop.stop();
    });
  });
  REQUIRE(server.opened());
  send_paced(Backend::kIoUring, server.address(), 1, pattern(2, 16));
  const TimePoint limit = now() + spin_limit_us + static_cast<TimePoint>(5'000'000 * time_scale());
  while (!spinning_at_receive.load() && now() < limit) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server.finish();
  MESSAGE("busy single_thread loop: ", spins, " task runs");
  CHECK(spinning_at_receive.load());
  CHECK(server.after_close() == LiveOps{});
}

// A handler that stalls past a timer's deadline while a datagram (think: the ACK that settles
// that timer's retransmission) lands in the socket: the next pass hands the datagram up before
// the overdue timer fires (docs/attacks.md, the ASan soak's timeout).
TEST_CASE("loop: after a stall, datagrams already received are handled before overdue timers") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);
    auto client = open_loop(backend);
    const Address server_at = Address::loopback_v4(server->local_address().port());
    const std::vector<std::uint8_t> first = pattern(1, 32), second = pattern(2, 32);
    bool second_sent = false;
    int seen = 0;
    int seen_when_timer_fired = -1;
    server->set_handler([&](std::span<const DatagramView> batch) {
      for (const DatagramView& d : batch) {
        ++seen;
        if (seq_of(d.bytes) != 1) continue;
        server->schedule(server->time() + 5'000, [&] {
          seen_when_timer_fired = seen;
          server->stop();
        });
        // The stall: until the second datagram is sent, and then well past the timer.
        second_sent = send_and_wait_flushed(*client, second, server_at);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    });
    CHECK(run_with_client(*server, *client, first, server_at));
    CHECK(second_sent);
    CHECK(seen_when_timer_fired == 2);
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}

// After a batch, the pass that follows keeps the batch's receipt time (one clock read fewer per
// busy wake-up); the wait's timeout must then come from a fresh reading, or a timer that fell
// due while the handler ran would sleep as long again after it.
TEST_CASE("loop: a timer that falls due while a receive handler runs fires when the handler returns") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);
    auto client = open_loop(backend);
    const Address server_at = Address::loopback_v4(server->local_address().port());
    const std::vector<std::uint8_t> payload = pattern(1, 32);
    const auto scaled_us = [](double ms) { return static_cast<TimePoint>(ms * 1000 * time_scale()); };
    TimePoint deadline = 0, handler_done = 0, fired_at = 0, time_at_fire = 0;
    server->set_handler([&](std::span<const DatagramView>) {
      if (deadline != 0) return;
      deadline = server->time() + scaled_us(100);
      server->schedule(deadline, [&] {
        fired_at = now();
        time_at_fire = server->time();
        server->stop();
      });
      std::this_thread::sleep_for(std::chrono::microseconds(scaled_us(200)));
      handler_done = now();
    });
    CHECK(run_with_client(*server, *client, payload, server_at));
    REQUIRE(fired_at != 0);
    CHECK(time_at_fire >= deadline);  // never early
    // Fired on the pass after the handler: not a whole timer interval (100 ms) later.
    CHECK(fired_at - handler_done < scaled_us(50));
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}

// The batch a run's final wait takes in does not lend its receipt time to the next run.
TEST_CASE("loop: a loop run again reads the clock first, even after a batch in the last run's final wait") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto server = open_loop(backend);
    auto client = open_loop(backend);
    const Address server_at = Address::loopback_v4(server->local_address().port());
    const std::vector<std::uint8_t> first = pattern(1, 32), second = pattern(2, 32);
    bool second_sent = false;
    int batches = 0;
    server->set_handler([&](std::span<const DatagramView>) {
      if (++batches != 1) return;
      second_sent = send_and_wait_flushed(*client, second, server_at);
      server->stop();  // the second datagram waits in the socket for run()'s final wait
    });
    CHECK(run_with_client(*server, *client, first, server_at));
    REQUIRE(second_sent);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const TimePoint before = now();
    TimePoint seen = 0;
    server->post([&] {
      seen = server->time();
      server->stop();
    });
    server->run();
    CHECK(seen >= before);
    check_no_leaks(*client);
    check_no_leaks(*server);
  }
}
