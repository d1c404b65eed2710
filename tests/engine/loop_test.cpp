// Loop contracts that need no traffic, run on every backend available here: backend selection
// and fallback, timers (order, cancel, reschedule, never early), posts from several threads,
// stop from another thread, socket buffer sizes read back, and the config limits' edges. Each
// ends with the leak check.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "loop_fixture.hpp"

using namespace volley::engine;
using namespace volley::engine::test;

TEST_CASE("loop: backend names parse and the best available backend is chosen by auto") {
  for (const Backend b : {Backend::kAuto, Backend::kIoUring, Backend::kEpoll, Backend::kIocp}) {
    CHECK(parse_backend(backend_name(b)) == b);
  }
  CHECK_FALSE(parse_backend("kqueue").has_value());
  const std::vector<Backend> available = backends_under_test();
  LoopConfig config;
  config.bind = Address::loopback_v4(0);
  Loop::Opened opened = Loop::open(config);
  REQUIRE(opened);
  CHECK(opened.loop->backend() == available.front());
#ifdef _WIN32
  CHECK(opened.loop->backend_note().empty());
#else
  // On Linux auto tries io_uring first and says why when it had to fall back.
  CHECK(opened.loop->backend_note().empty() == (available.front() == Backend::kIoUring));
#endif
  check_no_leaks(*opened.loop);
}

TEST_CASE("loop: an unavailable backend is refused or falls back with a logged reason") {
#ifdef _WIN32
  LoopConfig config;
  config.bind = Address::loopback_v4(0);
  config.backend = Backend::kEpoll;
  Loop::Opened opened = Loop::open(config);
  CHECK_FALSE(opened);
  CHECK(opened.error.find("Linux") != std::string::npos);
#else
  {
    LoopConfig config;
    config.bind = Address::loopback_v4(0);
    config.backend = Backend::kIocp;
    Loop::Opened opened = Loop::open(config);
    CHECK_FALSE(opened);
    CHECK(opened.error.find("Windows") != std::string::npos);
  }
  // Force the io_uring probe to fail: auto (and an explicit io_uring) must land on epoll and
  // say why, through the log hook.
  const char* previous = std::getenv("VOLLEY_ENGINE_DISABLE_IO_URING");
  const std::string saved = previous != nullptr ? previous : "";
  ::setenv("VOLLEY_ENGINE_DISABLE_IO_URING", "1", 1);
  for (const Backend requested : {Backend::kAuto, Backend::kIoUring}) {
    std::string logged;
    LoopConfig config;
    config.bind = Address::loopback_v4(0);
    config.backend = requested;
    config.log = [&logged](std::string_view text) { logged = std::string(text); };
    Loop::Opened opened = Loop::open(config);
    REQUIRE(opened);
    CHECK(opened.loop->backend() == Backend::kEpoll);
    CHECK(opened.loop->backend_note().find("VOLLEY_ENGINE_DISABLE_IO_URING") != std::string::npos);
    CHECK(logged == opened.loop->backend_note());
    check_no_leaks(*opened.loop);
  }
  if (previous != nullptr) {
    ::setenv("VOLLEY_ENGINE_DISABLE_IO_URING", saved.c_str(), 1);
  } else {
    ::unsetenv("VOLLEY_ENGINE_DISABLE_IO_URING");
  }
#endif
}

TEST_CASE("loop: socket buffer sizes are configurable and read back") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    LoopConfig config;
    config.bind = Address::loopback_v4(0);
    config.recv_buffer_bytes = 256 * 1024;
    config.send_buffer_bytes = 128 * 1024;
    auto loop = open_loop(backend, config);
    const SocketBuffers granted = loop->socket_buffers();
    MESSAGE(backend_name(backend), ": asked 262144/131072, kernel granted recv ",
            granted.recv_bytes, " send ", granted.send_bytes);
    CHECK(granted.recv_bytes >= 128 * 1024);
    CHECK(granted.send_bytes >= 64 * 1024);
    CHECK(loop->local_address().port() != 0);
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: timers fire in deadline order, equal deadlines in scheduling order") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    Watchdog watchdog(*loop, 20.0);
    const TimePoint base = now() + 20'000;
    // Deadlines in ms offsets; several collide exactly.
    const std::array<int, 12> offsets = {9, 3, 3, 12, 0, 9, 6, 3, 15, 0, 6, 12};
    std::vector<int> fired;
    std::vector<TimerId> ids;
    std::vector<TimePoint> deadlines;
    bool early = false;
    for (int i = 0; i < static_cast<int>(offsets.size()); ++i) {
      deadlines.push_back(base + offsets[i] * 1000);
      ids.push_back(loop->schedule(deadlines.back(), [&, i] {
        if (now() < deadlines[i] || loop->time() < deadlines[i]) early = true;
        fired.push_back(i);
      }));
    }
    CHECK(loop->cancel(ids[5]));                        // one of the two 9 ms timers
    deadlines[8] = base + 1000;                         // 15 ms -> 1 ms
    CHECK(loop->reschedule(ids[8], deadlines[8]));
    deadlines[4] = base + 3000;                         // 0 ms -> behind the three 3 ms timers
    CHECK(loop->reschedule(ids[4], deadlines[4]));
    loop->schedule(base + 30'000, [&] { loop->stop(); });
    loop->run();
    CHECK_FALSE(watchdog.fired());
    CHECK_FALSE(early);
    CHECK(fired == std::vector<int>{9, 8, 1, 2, 7, 4, 6, 10, 0, 3, 11});
    CHECK(loop->stats()[Counter::kRecvErrors] == 0);  // a wait that timed out is not an error
    loop->cancel(TimerId{});  // harmless
    watchdog.disarm();
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: tasks posted from 4 threads each run once, in each thread's order") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20'000;
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    Watchdog watchdog(*loop, 30.0);
    std::array<int, kThreads> next{};
    int out_of_order = 0;
    int total = 0;
    std::thread runner([&] { loop->run(); });
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          loop->post([&, t, i] {
            if (next[t] != i) ++out_of_order;
            next[t] = i + 1;
            if (++total == kThreads * kPerThread) loop->stop();
          });
        }
      });
    }
    for (auto& p : producers) p.join();
    runner.join();
    CHECK_FALSE(watchdog.fired());
    CHECK(total == kThreads * kPerThread);
    CHECK(out_of_order == 0);
    for (int t = 0; t < kThreads; ++t) CHECK(next[t] == kPerThread);
    // Wake-ups are coalesced (how many depends on scheduling, so this is only reported).
    MESSAGE(backend_name(backend), ": ", kThreads * kPerThread, " posts, ",
            loop->stats()[Counter::kWakeups], " wake-ups");
    watchdog.disarm();
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: posts that queue up before the loop drains share one wake-up") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    int ran = 0;
    for (int i = 0; i < 1000; ++i) loop->post([&ran] { ++ran; });
    loop->post([&] { loop->stop(); });
    loop->run();
    CHECK(ran == 1000);
    CHECK(loop->stats()[Counter::kWakeups] <= 1);
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: a task that throws leaves run(), and the tasks queued behind it run first on the next run()") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    std::vector<int> order;
    loop->post([&] { order.push_back(1); });
    loop->post([&] {
      order.push_back(2);
      throw std::runtime_error("task 2");
    });
    loop->post([&] { order.push_back(3); });
    loop->post([&] { order.push_back(4); });
    CHECK_THROWS_WITH(loop->run(), "task 2");
    CHECK(order == std::vector<int>{1, 2});
    loop->post([&] {  // posted after the throw: runs after the ones left behind
      order.push_back(5);
      loop->stop();
    });
    Watchdog watchdog(*loop, 20.0);
    loop->run();
    CHECK_FALSE(watchdog.fired());
    watchdog.disarm();
    CHECK(order == std::vector<int>{1, 2, 3, 4, 5});  // none lost, none run twice
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: stop from another thread, before run, while busy, and run again") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);

    // Idle: blocked in the backend with nothing scheduled.
    const TimePoint t0 = now();
    std::thread idle([&] { loop->run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    loop->stop();
    idle.join();
    CHECK(now() - t0 < static_cast<TimePoint>(10'000'000 * time_scale()));

    // Stop before run: run returns at once.
    loop->stop();
    loop->run();

    // Busy: a timer that keeps itself due.
    TimerId spinner;
    std::atomic<int> spins{0};
    spinner = loop->schedule(now(), [&] {
      spins.fetch_add(1, std::memory_order_relaxed);
      loop->reschedule(spinner, now());
    });
    std::thread busy([&] { loop->run(); });
    const TimePoint spin_limit = now() + static_cast<TimePoint>(10'000'000 * time_scale());
    while (spins.load(std::memory_order_relaxed) < 100 && now() < spin_limit) {
      std::this_thread::yield();
    }
    CHECK(spins.load() >= 100);
    loop->stop();
    busy.join();
    CHECK(loop->cancel(spinner));

    // Run again after a stop: a posted task runs and stops it.
    bool ran = false;
    loop->post([&] {
      ran = true;
      loop->stop();
    });
    Watchdog watchdog(*loop, 20.0);
    loop->run();
    CHECK(ran);
    CHECK_FALSE(watchdog.fired());
    watchdog.disarm();
    check_no_leaks(*loop);
  }
}

TEST_CASE("loop: close without running drops queued sends and pending work") {
  for (const Backend backend : backends_under_test()) {
    CAPTURE(backend_name(backend));
    auto loop = open_loop(backend);
    const auto bytes = pattern(1, 100);
    for (int i = 0; i < 100; ++i) loop->send(OutDatagram{bytes, Address::loopback_v4(9)});
    loop->post([] {});
    loop->schedule(now() + 1'000'000, [] {});
    CHECK(loop->live().send_buffers == 100);
    check_no_leaks(*loop, Leftover{.tasks = 1, .timers = 1});
    CHECK(loop->stats()[Counter::kSendDropped] == 100);
    loop->close();  // idempotent
  }
}

TEST_CASE("loop: batch and datagram size limits, each edge value opens and the next is refused") {
  struct Case {
    const char* name;
    void (*edit)(LoopConfig&);
    bool opens;
    const char* error;
  };
  const Case cases[] = {
      {"batch 1", [](LoopConfig& c) { c.batch = 1; }, true, ""},
      {"batch 1024", [](LoopConfig& c) { c.batch = 1024; }, true, ""},
      {"batch 0", [](LoopConfig& c) { c.batch = 0; }, false, "batch must be 1..1024"},
      {"batch 1025", [](LoopConfig& c) { c.batch = 1025; }, false, "batch must be 1..1024"},
      {"datagram 1", [](LoopConfig& c) { c.max_datagram_bytes = 1; }, true, ""},
      {"datagram 65536", [](LoopConfig& c) { c.max_datagram_bytes = 65536; }, true, ""},
      {"datagram 0", [](LoopConfig& c) { c.max_datagram_bytes = 0; }, false, "max_datagram_bytes must be 1..65536"},
      {"datagram 65537", [](LoopConfig& c) { c.max_datagram_bytes = 65537; }, false,
       "max_datagram_bytes must be 1..65536"},
      {"recv_buffers 0", [](LoopConfig& c) { c.recv_buffers = 0; }, false,
       "recv_buffers and max_queued_sends must be positive"},
      {"max_queued_sends 0", [](LoopConfig& c) { c.max_queued_sends = 0; }, false,
       "recv_buffers and max_queued_sends must be positive"},
  };
  for (const Backend backend : backends_under_test()) {
    for (const Case& c : cases) {
      CAPTURE(backend_name(backend));
      CAPTURE(c.name);
      LoopConfig config;
      config.bind = Address::loopback_v4(0);
      config.backend = backend;
      config.recv_buffers = 16;  // keeps the 64 KiB-datagram cases small
      c.edit(config);
      Loop::Opened opened = Loop::open(config);
      CHECK(static_cast<bool>(opened) == c.opens);
      CHECK(opened.error == c.error);
      if (opened) check_no_leaks(*opened.loop);
    }
  }
}

#ifdef __linux__
#include <sys/prctl.h>

TEST_CASE("loop: with coalescing on, run() makes the thread's timers precise and restores them") {
  // Linux lets a timer fire up to the thread's timer slack late (50 µs by default): a nap of
  // the cap would last that much longer.
  REQUIRE(prctl(PR_SET_TIMERSLACK, 50'000UL, 0, 0, 0) == 0);
  for (const Backend backend : backends_under_test()) {
    for (const std::uint32_t cap : {0u, 200u}) {
      CAPTURE(backend_name(backend));
      CAPTURE(cap);
      LoopConfig config;
      config.bind = Address::loopback_v4(0);
      config.coalesce_us = cap;
      auto loop = open_loop(backend, config);
      Watchdog watchdog(*loop, 20.0);
      int inside = -1;
      loop->post([&] {
        inside = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
        loop->stop();
      });
      loop->run();
      CHECK(inside == (cap > 0 ? 1'000 : 50'000));
      CHECK(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 50'000);
      watchdog.disarm();
      check_no_leaks(*loop);
    }
  }
  prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);  // 0: the thread's default again
}
#endif
