// Shared helpers for the loop tests: the backends to run (every one available here, with a
// message for any that is skipped and why), opening a loop that must really use the requested
// backend, a watchdog so no test can hang, and the leak check every loop test ends with.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "volley/engine/loop.hpp"

#ifdef _WIN32
#include <windows.h>
#endif

namespace volley::engine::test {

// Wine routes every socket call through its wineserver, which makes loopback I/O one to two
// orders of magnitude slower than native; time bounds (never counts) are scaled for it.
inline bool under_wine() {
#ifdef _WIN32
  const HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
#else
  return false;
#endif
}

inline double time_scale() { return under_wine() ? 8.0 : 1.0; }

inline std::vector<Backend> backends_under_test() {
  std::vector<Backend> out;
  for (const Backend b : {Backend::kIoUring, Backend::kEpoll, Backend::kIocp}) {
    const std::string reason = backend_unavailable_reason(b);
    if (reason.empty()) {
      out.push_back(b);
    } else {
#ifdef _WIN32
      const bool native = b == Backend::kIocp;
#else
      const bool native = b != Backend::kIocp;
#endif
      // Only a backend this platform should have is worth a message.
      if (native) MESSAGE("skipping backend ", backend_name(b), ": ", reason);
    }
  }
  REQUIRE_FALSE(out.empty());
  return out;
}

inline std::unique_ptr<Loop> open_loop(Backend backend, LoopConfig config) {
  config.backend = backend;
  if (config.recv_buffer_bytes == 0) config.recv_buffer_bytes = 1 << 20;
  if (config.send_buffer_bytes == 0) config.send_buffer_bytes = 1 << 20;
  Loop::Opened opened = Loop::open(std::move(config));
  INFO("open failed: ", opened.error);
  REQUIRE(opened);
  REQUIRE(opened.loop->backend() == backend);  // no silent fallback inside a test
  return std::move(opened.loop);
}

inline std::unique_ptr<Loop> open_loop(Backend backend, Address bind = Address::loopback_v4(0)) {
  LoopConfig config;
  config.bind = bind;
  return open_loop(backend, std::move(config));
}

// Polls `done` every millisecond until it holds or `seconds` (scaled under Wine) have passed;
// returns whether it held. For conditions another thread makes true.
template <class Done>
bool wait_until(const Done& done, double seconds) {
  const TimePoint limit = now() + static_cast<TimePoint>(seconds * time_scale() * 1e6);
  while (!done()) {
    if (now() >= limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Stops the loop after `seconds` and records that it had to: tests then fail instead of hang.
// Its timer is cancelled by disarm() or the destructor, so it never outlives the test's frame.
class Watchdog {
 public:
  Watchdog(Loop& loop, double seconds) : loop_(loop) {
    id_ = loop.schedule(now() + static_cast<TimePoint>(seconds * time_scale() * 1e6), [this] {
      fired_ = true;
      id_ = TimerId{};
      loop_.stop();
    });
  }
  ~Watchdog() { disarm(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  bool fired() const { return fired_; }
  void disarm() {
    if (id_) loop_.cancel(id_);
    id_ = TimerId{};
  }

 private:
  Loop& loop_;
  TimerId id_;
  bool fired_ = false;
};

// What a test deliberately leaves pending for close() to drop (only tests of close() itself).
struct Leftover {
  std::size_t tasks = 0;
  std::size_t timers = 0;
};

// Every loop test ends here. Tasks and timers still pending are counted before close() drains
// them, so a task that never ran or a timer that was never cancelled fails the test; after
// close() the loop must own nothing at all.
inline void check_no_leaks(Loop& loop, Leftover expected = {}) {
  const LiveOps before = loop.live();
  CHECK_MESSAGE(before.tasks == expected.tasks, "tasks pending before close: ", before.tasks);
  CHECK_MESSAGE(before.timers == expected.timers, "timers pending before close: ", before.timers);
  loop.close();
  const LiveOps live = loop.live();
  CHECK(live.kernel_ops == 0);
  CHECK(live.send_buffers == 0);
  CHECK(live.tasks == 0);
  CHECK(live.timers == 0);
  CHECK(live.sockets == 0);
}

inline std::vector<std::uint8_t> pattern(std::uint32_t seq, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::uint8_t>((seq * 131u + i * 7u) & 0xffu);
  }
  for (std::size_t i = 0; i < 4 && i < size; ++i) {
    bytes[i] = static_cast<std::uint8_t>((seq >> (8 * i)) & 0xffu);
  }
  return bytes;
}

inline std::uint32_t seq_of(std::span<const std::uint8_t> bytes) {
  std::uint32_t seq = 0;
  for (std::size_t i = 0; i < 4 && i < bytes.size(); ++i) {
    seq |= static_cast<std::uint32_t>(bytes[i]) << (8 * i);
  }
  return seq;
}

inline bool matches_pattern(std::span<const std::uint8_t> bytes) {
  const std::uint32_t seq = seq_of(bytes);
  for (std::size_t i = 4; i < bytes.size(); ++i) {
    if (bytes[i] != static_cast<std::uint8_t>((seq * 131u + i * 7u) & 0xffu)) return false;
  }
  return true;
}

}  // namespace volley::engine::test
