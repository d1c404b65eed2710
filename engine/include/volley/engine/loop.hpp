// volley::engine::Loop: one completion loop over UDP sockets. Receives arrive in batches at
// one handler, sends are queued and submitted as one batch per iteration, tasks can be posted
// from any thread, and timers live in a hashed wheel. All callbacks run on the thread inside
// run(); every member except post() and stop() must be called on that thread (or while no
// thread is inside run()).
//
// Sockets: every loop opens its primary socket (LoopConfig::bind, SocketId kPrimarySocket).
// open_socket() adds more on the same loop (a proxy's upstream socket per client, a load
// generator's few client sockets); each received DatagramView says which socket it arrived on
// and each OutDatagram names the socket to send from (default: the primary, so single-socket
// code never mentions sockets). Extra sockets share the loop's receive buffers (one io_uring
// provided-buffer ring; one epoll set; one completion port) and cost a few hundred bytes of
// loop state each (IOCP adds two posted receive buffers per socket), so thousands are fine.
// close_socket() stops delivery at once (datagrams of that socket already in the batch being
// handled are still in its span), drops its queued sends, and closes the OS socket once the
// kernel has let go of its operations; live().sockets counts extra sockets until then.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "volley/engine/clock.hpp"
#include "volley/engine/udp.hpp"
#include "volley/vocabulary/handle.hpp"

namespace volley::engine {

enum class Backend : std::uint8_t { kAuto, kIoUring, kEpoll, kIocp, kCount };

std::string_view backend_name(Backend backend) noexcept;
std::optional<Backend> parse_backend(std::string_view name) noexcept;
// Concrete backends that work on this machine right now (probed), best first.
std::vector<Backend> available_backends();
// Empty when `backend` can run here, else why not (for logs and skipped-test messages).
std::string backend_unavailable_reason(Backend backend);

enum class Counter : std::uint8_t {
  kDatagramsIn,
  kBytesIn,
  kDatagramsOut,
  kBytesOut,
  kRecvBatches,       // handler calls
  kSendBatches,       // submissions of queued sends to the backend
  kSyscalls,          // system calls made by the loop thread (io_uring_enter counts once)
  kSubmissions,       // operations handed to the kernel (SQEs, overlapped calls, mmsg entries)
  kTruncated,         // datagrams larger than the receive buffer, dropped
  kRecvExhausted,     // the kernel had no receive buffer to fill (io_uring -ENOBUFS)
  kRecvErrors,
  kSendErrors,        // the kernel refused a datagram
  kSendDropped,       // not sent: too large, queue full, or dropped at close
  kWakeups,           // cross-thread wake-ups consumed by the loop
  kWaits,             // backend waits allowed to block (the loop thread may have slept)
  kNaps,              // coalescing naps: epoll's sleeps, io_uring's batch waits (LoopConfig::coalesce_us)
  kNapsEmpty,         // of those, naps that found nothing or too little to pay (napping stops)
  kCount
};
std::string_view counter_name(Counter counter) noexcept;

struct Stats {
  std::array<std::uint64_t, static_cast<std::size_t>(Counter::kCount)> values{};
  std::uint64_t operator[](Counter c) const noexcept { return values[static_cast<std::size_t>(c)]; }
  std::uint64_t& operator[](Counter c) noexcept { return values[static_cast<std::size_t>(c)]; }
};

// Operations and buffers the loop still owns. All zero after close(): the leak check.
struct LiveOps {
  std::size_t kernel_ops = 0;     // receives/sends/wake reads the kernel still references
  std::size_t send_buffers = 0;   // queued or in-flight outgoing datagrams
  std::size_t tasks = 0;          // posted, not yet run
  std::size_t timers = 0;         // scheduled, not yet fired or cancelled
  std::size_t sockets = 0;        // extra sockets (open_socket) not yet closed and released
  bool operator==(const LiveOps&) const = default;
};

struct SocketBuffers {
  int recv_bytes = 0;  // as granted by the kernel (Linux reports double what was asked)
  int send_bytes = 0;
};

struct LoopConfig {
  Address bind = Address::any_v6(0);   // IPv6 binds are dual-stack
  Backend backend = Backend::kAuto;
  int recv_buffer_bytes = 0;           // 0 keeps the OS default
  int send_buffer_bytes = 0;
  std::size_t max_datagram_bytes = 2048;   // larger datagrams are counted truncated and dropped
  std::size_t batch = 64;                  // datagrams per recvmmsg/sendmmsg/completion batch
  std::size_t recv_buffers = 512;          // io_uring provided buffers / IOCP receives in flight
  std::size_t max_queued_sends = 8192;     // beyond this, send() drops and counts
  // Linux: send runs of equal-size datagrams to one destination as one UDP GSO message.
  bool udp_gso = true;
  // Coalesced wake-ups: once datagrams are flowing, a wait returns only when about `batch`
  // completions are there or after this many microseconds (io_uring), or first naps this long
  // so the datagrams gather in the socket (epoll), never past the next timer deadline, so one
  // wake-up handles many datagrams instead of one to three. It adds at most this much latency
  // to a datagram that arrives during such a wait; an idle loop still sleeps until its next
  // timer (the first datagram after a quiet wait is handled at once). 0 turns it off. IOCP
  // takes a batch of completions per wait regardless and does not use this knob. On Linux,
  // while run() runs with it on, the thread's timer slack is 1 µs (its own is restored after),
  // so a wait ends at the cap and not up to 50 µs past it.
  std::uint32_t coalesce_us = 200;
  // A promise that open(), run() and close() all happen on one thread. io_uring then sets the
  // ring up for a single issuer with deferred task running, so a coalesced wait sleeps until
  // the batch or the cap instead of waking in the kernel for every completion. The kernel
  // refuses such a ring's waits from any other thread, so do not set it otherwise: run() on
  // another thread than open()'s logs one line and returns without running.
  bool single_thread = false;
  DatagramHandler on_datagrams;
  // Where startup notes (such as a backend fallback reason) go; default: stderr.
  std::function<void(std::string_view)> log;
};

// An extra socket for Loop::open_socket(). Buffer sizes as in LoopConfig (0: the OS default).
struct SocketOptions {
  Address bind = Address::any_v6(0);  // IPv6 binds are dual-stack
  int recv_buffer_bytes = 0;
  int send_buffer_bytes = 0;
};

using volley::TimerId;  // generation 0 never names a live timer

using Task = std::function<void()>;
using TimerCallback = std::function<void()>;

class Loop {
 public:
  struct Opened;
  static Opened open(LoopConfig config);

  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until stop(). Returns immediately if stop() was called since the last run() returned.
  void run();
  void stop();               // any thread
  void post(Task task);      // any thread; runs once on the loop thread, in posting order per thread
  // Cancels everything in flight, waits for the kernel to let go of every buffer, closes the
  // socket. Called by the destructor; idempotent. Not while run() is active.
  void close();

  // Opens and binds another UDP socket served by this loop; nullopt (and *error, if given)
  // when the OS refuses. Not after close().
  std::optional<SocketId> open_socket(const SocketOptions& options, std::string* error = nullptr);
  std::optional<SocketId> open_socket(const Address& bind, std::string* error = nullptr) {
    return open_socket(SocketOptions{bind}, error);
  }
  // False for the primary socket and for ids that name no open socket. See the header comment.
  bool close_socket(SocketId socket);

  // A datagram naming a socket that is not open is dropped and counted (kSendDropped).
  void send(std::span<const OutDatagram> datagrams);
  void send(const OutDatagram& datagram) { send(std::span<const OutDatagram>(&datagram, 1)); }
  void set_handler(DatagramHandler handler);

  // Deadlines use engine::now() time. Equal deadlines fire in scheduling order; a timer whose
  // deadline has passed fires on the next iteration.
  TimerId schedule(TimePoint deadline, TimerCallback callback);
  bool cancel(TimerId id);
  bool reschedule(TimerId id, TimePoint deadline);  // keeps the callback; counts as re-scheduled
  // Cached before each receive batch is handed over, and at the start of each iteration whose
  // wait handed over none (after a batch, its receipt time stands for the pass that follows).
  TimePoint time() const noexcept;

  Backend backend() const noexcept;
  const std::string& backend_note() const noexcept;  // why auto picked what it did, if not best
  Address local_address() const;               // of the primary socket
  Address local_address(SocketId socket) const;  // empty if `socket` is not open
  SocketBuffers socket_buffers() const noexcept;
  const Stats& stats() const noexcept;
  LiveOps live() const noexcept;

  class Impl;

 private:
  explicit Loop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Loop::Opened {
  std::unique_ptr<Loop> loop;
  std::string error;  // set when loop is null
  explicit operator bool() const noexcept { return loop != nullptr; }
};

}  // namespace volley::engine
