// A public Server serving on its own thread for the loopback tests (server_api_test.cpp,
// server_misuse_test.cpp): echo, or the test's own receive handler, with the events recorded.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "volley/server/server.hpp"

namespace volley::server::test {

// A Server running echo (or `app`, when given) on its own thread; events are recorded under a
// mutex for the test.
struct Running {
  using App = std::function<void(Server&, const Packet&)>;
  explicit Running(Config config = {}, App app = {}) {
    config.recv_buffer_bytes = 0;
    config.send_buffer_bytes = 0;
    auto created = Server::create(config);
    REQUIRE_MESSAGE(created, created.error);
    server = std::move(created.server);
    Callbacks cb;
    cb.on_connect = [this](PeerHandle p, std::uint32_t data) {
      std::lock_guard lock(mutex);
      connects.emplace_back(p, data);
    };
    cb.on_receive = [this, app = std::move(app)](const Packet& p) {
      // Packet::bytes promises a heap buffer's alignment (FlatBuffers are read in place).
      if (!p.bytes.empty() && reinterpret_cast<std::uintptr_t>(p.bytes.data()) % alignof(std::max_align_t) != 0)
        misaligned += 1;
      if (app) {
        app(*server, p);
        return;
      }
      server->send(p.peer, p.channel, p.bytes, p.delivery);
    };
    cb.on_disconnect = [this](PeerHandle p, DisconnectReason r, std::uint32_t data) {
      std::lock_guard lock(mutex);
      disconnects.push_back({p, r, data});
    };
    server->set_callbacks(cb);
    thread = std::thread([this] { server->run(); });
  }
  ~Running() { finish(); }
  void finish() {
    if (!thread.joinable()) return;
    server->stop();
    thread.join();
  }
  // Waits up to `limit` for run() to return by itself (a drain's end); stops the server if not,
  // so a failure does not hang the suite.
  bool returns_within(std::chrono::milliseconds limit) {
    std::promise<void> returned;
    auto future = returned.get_future();
    std::thread waiter([&] {
      thread.join();
      returned.set_value();
    });
    const bool ended = future.wait_for(limit) == std::future_status::ready;
    if (!ended) server->stop();
    waiter.join();
    return ended;
  }
  std::vector<std::pair<PeerHandle, std::uint32_t>> connects_copy() {
    std::lock_guard lock(mutex);
    return connects;
  }
  // Runs `fn` on the loop thread and waits for its result.
  template <class Fn>
  auto on_loop(Fn fn) {
    std::promise<decltype(fn())> promise;
    auto future = promise.get_future();
    server->post([&] { promise.set_value(fn()); });
    return future.get();
  }

  struct Gone {
    PeerHandle peer;
    DisconnectReason reason;
    std::uint32_t data;
  };
  std::unique_ptr<Server> server;
  std::thread thread;
  std::mutex mutex;
  std::atomic<std::size_t> misaligned{0};  // non-empty packets whose bytes were not aligned
  std::vector<std::pair<PeerHandle, std::uint32_t>> connects;
  std::vector<Gone> disconnects;
};

}  // namespace volley::server::test
