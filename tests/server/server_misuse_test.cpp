// The public Server as a game programmer misuses it: calls in the wrong order or twice, from
// inside its own callbacks, with stale handles, empty tasks and absurd values. Each must work
// or fail with the documented answer: never a crash, a hang or a callback freed while it runs.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "loopback_client.hpp"
#include "running_server.hpp"
#include "volley/server/server.hpp"

namespace volley::server::test {
namespace {

using namespace std::chrono_literals;
using protocol::PeerEvent;
using protocol::PeerState;

Config loopback_v4() {
  Config config;
  config.bind = "127.0.0.1";
  return config;
}

// Waits up to `limit` for `done` (set from the loop thread).
bool becomes_true(const std::atomic<bool>& done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(2ms);
  return done;
}

TEST_CASE("set_callbacks() from inside a callback: the running callback keeps its captures, the new ones take over") {
  Running run(loopback_v4());
  auto token = std::make_shared<int>(7);  // owned by the on_connect closure alone
  const std::weak_ptr<int> watch = token;
  std::atomic<bool> called{false}, alive_after{false};
  std::atomic<int> new_receives{0};
  Server* server = run.server.get();
  run.on_loop([&] {
    Callbacks cb;
    cb.on_connect = [&, token = std::move(token)](PeerHandle, std::uint32_t) {
      Callbacks next;
      next.on_receive = [&new_receives](const Packet&) { new_receives += 1; };
      // Locals, not captures: without the fix the closure is gone once set_callbacks returns.
      const std::weak_ptr<int>* w = &watch;
      std::atomic<bool>* alive = &alive_after;
      std::atomic<bool>* done = &called;
      server->set_callbacks(std::move(next));
      alive->store(!w->expired());
      done->store(true);
    };
    server->set_callbacks(std::move(cb));
    return 0;
  });
  LoopbackClient c("127.0.0.1", server->local_port());
  c.connect(1, 0);
  REQUIRE(c.run_until([&] { return called.load(); }, 5000));
  CHECK(alive_after);  // the closure of the callback that replaced itself was not destroyed under it
  REQUIRE(c.peer().send(0, std::vector<std::uint8_t>{1, 2, 3}, protocol::PacketFlags::kReliable) ==
          protocol::SendResult::kOk);
  REQUIRE(c.run_until([&] { return new_receives == 1; }, 5000));
  // Once the callback has returned, the replaced callbacks are released (not kept forever).
  CHECK(run.on_loop([&] { return watch.expired(); }));
}

TEST_CASE("run() while run() is running returns at once: from a posted task, from another thread, and stop() still ends the first") {
  Running run(loopback_v4());
  std::atomic<bool> inner_returned{false};
  run.server->post([&] {
    run.server->run();  // a posted task runs on the loop thread, where every member may be called
    inner_returned = true;
  });
  CHECK(becomes_true(inner_returned, 2000ms));
  auto other = std::async(std::launch::async, [&] { run.server->run(); });
  CHECK(other.wait_for(2s) == std::future_status::ready);
  // The loop still serves: a client connects and is echoed.
  LoopbackClient c("127.0.0.1", run.server->local_port());
  c.connect(1, 0);
  REQUIRE(c.run_until([&] { return c.peer().state() == PeerState::kConnected; }, 5000));
  REQUIRE(c.peer().send(0, std::vector<std::uint8_t>{9}, protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  CHECK(c.run_until([&] { return c.count(PeerEvent::Type::kReceive) == 1; }, 5000));
  run.server->stop();
  CHECK(run.returns_within(5s));  // a nested run() took the stop for itself: the outer one ran on
  if (other.wait_for(5s) != std::future_status::ready) run.server->stop();
  other.get();
}

TEST_CASE("post() of an empty task is ignored, not thrown out of run()") {
  Running run(loopback_v4());
  run.server->post({});
  run.server->post(std::function<void()>{});
  CHECK(run.on_loop([] { return 42; }) == 42);
  run.finish();
  CHECK(!run.thread.joinable());
}

TEST_CASE("a posted task that throws leaves run(), and the tasks behind it run in the next run()") {
  Config config = loopback_v4();
  config.recv_buffer_bytes = config.send_buffer_bytes = 0;
  auto created = Server::create(config);
  REQUIRE_MESSAGE(created, created.error);
  Server& server = *created.server;
  std::vector<int> order;
  server.post([&] { order.push_back(1); });
  server.post([&] {
    order.push_back(2);
    throw std::runtime_error("task 2");
  });
  server.post([&] { order.push_back(3); });
  CHECK_THROWS_WITH(server.run(), "task 2");
  CHECK(order == std::vector<int>{1, 2});
  server.post([&] {
    order.push_back(4);
    server.stop();
  });
  auto again = std::async(std::launch::async, [&] { server.run(); });
  const bool returned = again.wait_for(5s) == std::future_status::ready;
  CHECK(returned);
  if (!returned) server.stop();
  again.get();
  CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("lifecycle out of order: stop() before run() and twice, run() twice, post() after run() returned") {
  Config config = loopback_v4();
  config.recv_buffer_bytes = config.send_buffer_bytes = 0;
  auto created = Server::create(config);
  REQUIRE_MESSAGE(created, created.error);
  Server& server = *created.server;
  server.stop();
  server.stop();
  auto first = std::async(std::launch::async, [&] { server.run(); });
  const bool returned = first.wait_for(5s) == std::future_status::ready;
  CHECK(returned);  // no peers: the shutdown ends at once
  if (!returned) server.stop();
  first.get();
  auto second = std::async(std::launch::async, [&] { server.run(); });
  CHECK(second.wait_for(2s) == std::future_status::ready);
  second.get();
  bool ran = false;
  server.post([&] { ran = true; });  // held, never run; freed with the server
  server.stop();
  server.begin_drain(10);
  CHECK_FALSE(ran);
  CHECK(server.stats().peers_now == 0);
}

TEST_CASE("config out of range: a port in use, tick_hz too high") {
  Config config = loopback_v4();
  config.recv_buffer_bytes = config.send_buffer_bytes = 0;
  auto first = Server::create(config);
  REQUIRE_MESSAGE(first, first.error);
  config.port = first.server->local_port();
  auto second = Server::create(config);
  CHECK_FALSE(second);
  CHECK(!second.error.empty());
  config.port = 0;
  config.tick_hz = 1'000'000;
  CHECK_FALSE(Server::create(config));
}

// What a callback may do to its own peer and to others: every call answers, none ends the loop.
TEST_CASE("API calls from inside callbacks, for the peer called back and for others") {
  struct Seen {
    SendResult after_kick = SendResult::kOk;
    bool stats_after_kick = false;
    bool kick_again = false;
    SendResult to_leaving = SendResult::kOk;
    bool leaving_stats = false;
    std::size_t broadcast_on_leave = 99;
    SendResult on_connect_send = SendResult::kNoSuchPeer;
    SendResult bad_channel = SendResult::kOk, too_large = SendResult::kOk, empty = SendResult::kBadChannel;
  };
  Seen seen;
  std::atomic<bool> left{false};
  std::vector<std::uint8_t> huge(64u * 1024 * 1024, 0x11);
  Running run(loopback_v4());
  Server& server = *run.server;
  run.on_loop([&] {
    Callbacks cb;
    cb.on_connect = [&](PeerHandle peer, std::uint32_t) {
      seen.on_connect_send = server.send(peer, 0, std::vector<std::uint8_t>{1}, Delivery::kReliable);
    };
    cb.on_receive = [&](const Packet& p) {
      if (p.channel == 1) {
        CHECK(server.disconnect_now(p.peer, 3));
        seen.after_kick = server.send(p.peer, 0, p.bytes, Delivery::kReliable);
        seen.stats_after_kick = server.peer_stats(p.peer).has_value();
        seen.kick_again = server.disconnect_now(p.peer, 4);
        return;
      }
      seen.bad_channel = server.send(p.peer, 200, p.bytes, Delivery::kReliable);
      seen.too_large = server.send(p.peer, 0, huge, Delivery::kReliable);
      seen.empty = server.send(p.peer, 0, {}, Delivery::kUnsequenced);
      CHECK(server.raise_event(1, p.bytes) == 0);  // no snapshots configured
      server.set_view_filter(p.peer, [](std::uint32_t, std::uint16_t) { return false; });
      CHECK(server.frame_number() == 0);
      CHECK(server.disconnect(p.peer, 5));
    };
    cb.on_disconnect = [&](PeerHandle peer, DisconnectReason, std::uint32_t) {
      seen.to_leaving = server.send(peer, 0, std::vector<std::uint8_t>{2}, Delivery::kReliable);
      seen.leaving_stats = server.peer_stats(peer).has_value();
      seen.broadcast_on_leave = server.broadcast(0, std::vector<std::uint8_t>{3}, Delivery::kReliable);
      left = true;
    };
    server.set_callbacks(cb);
    return 0;
  });
  LoopbackClient a("127.0.0.1", server.local_port());
  LoopbackClient b("127.0.0.1", server.local_port());
  a.connect(2, 0);
  REQUIRE(a.run_until([&] { return a.peer().state() == PeerState::kConnected; }, 5000));
  b.connect(2, 0);
  REQUIRE(b.run_until([&] { return b.peer().state() == PeerState::kConnected; }, 5000));
  // a asks to be kicked (disconnect_now inside its own on_receive), b to be let go.
  REQUIRE(a.peer().send(1, std::vector<std::uint8_t>{1}, protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  REQUIRE(b.peer().send(0, std::vector<std::uint8_t>{2}, protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  REQUIRE(b.run_until([&] { return b.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  REQUIRE(becomes_true(left, 2000ms));
  run.finish();
  MESSAGE("after kick: ", send_result_name(seen.after_kick), ", stats ", seen.stats_after_kick, ", kick again ",
          seen.kick_again, "; to leaving: ", send_result_name(seen.to_leaving), ", stats ", seen.leaving_stats,
          ", broadcast ", seen.broadcast_on_leave, "; on connect: ", send_result_name(seen.on_connect_send),
          "; bad channel ", send_result_name(seen.bad_channel), ", 64 MiB ", send_result_name(seen.too_large),
          ", empty ", send_result_name(seen.empty));
  CHECK(seen.on_connect_send == SendResult::kOk);
  CHECK(seen.after_kick != SendResult::kOk);
  CHECK(seen.to_leaving != SendResult::kOk);
  CHECK(seen.bad_channel == SendResult::kBadChannel);
  CHECK(seen.too_large == SendResult::kTooLarge);
  CHECK(seen.empty == SendResult::kOk);
}

TEST_CASE("a PeerHandle after its peer left, and after its slot went to a new peer, names nobody") {
  Running run(loopback_v4());
  const std::uint16_t port = run.server->local_port();
  LoopbackClient a("127.0.0.1", port);
  a.connect(1, 0);
  REQUIRE(a.run_until([&] { return run.connects_copy().size() == 1; }, 5000));
  const PeerHandle old = run.connects_copy().at(0).first;
  a.peer().disconnect(0);
  REQUIRE(a.run_until([&] { return a.count(PeerEvent::Type::kDisconnect) == 1; }, 5000));
  for (int i = 0; i < 100 && run.on_loop([&] { return run.server->peer_count(); }) != 0; ++i) std::this_thread::sleep_for(5ms);
  LoopbackClient b("127.0.0.1", port);
  b.connect(1, 0);
  REQUIRE(b.run_until([&] { return run.connects_copy().size() == 2; }, 5000));
  const PeerHandle fresh = run.connects_copy().at(1).first;
  CHECK(fresh.index == old.index);  // the slot was reused...
  CHECK(fresh.generation != old.generation);  // ...under a new generation
  CHECK(run.on_loop([&] { return run.server->send(old, 0, std::vector<std::uint8_t>{1}, Delivery::kReliable); }) ==
        SendResult::kNoSuchPeer);
  CHECK_FALSE(run.on_loop([&] { return run.server->disconnect_now(old, 1); }));
  CHECK_FALSE(run.on_loop([&] { return run.server->peer_stats(old).has_value(); }));
  // The new peer was not touched by any of that.
  REQUIRE(b.peer().send(0, std::vector<std::uint8_t>{4}, protocol::PacketFlags::kReliable) == protocol::SendResult::kOk);
  CHECK(b.run_until([&] { return b.count(PeerEvent::Type::kReceive) == 1; }, 5000));
  CHECK(b.count(PeerEvent::Type::kDisconnect) == 0);
}

}  // namespace
}  // namespace volley::server::test
