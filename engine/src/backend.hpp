// Datapath: the internal interface every backend implements, and nothing more than submit and
// complete. Batching limits, counters, timers, tasks and addresses are decided in shared code
// (loop.cpp) and handed in; a backend reports what the kernel did through DatapathSink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "os.hpp"
#include "send_pool.hpp"
#include "volley/engine/loop.hpp"

namespace volley::engine {

// How the kernel finished one queued datagram (not to be confused with volley::SendResult, the
// outcome of queuing a packet on a peer).
enum class SendCompletion : std::uint8_t { kSent, kFailed, kCancelled };

class DatapathSink {
 public:
  // Views point into backend buffers that are recycled as soon as this returns. `received_at`:
  // the clock read just before the call, which the backend may keep for its own bookkeeping
  // (epoll's flow detection), so one read serves both.
  virtual void on_datagrams(std::span<const DatagramView> batch, TimePoint received_at) = 0;
  // Every op accepted by Datapath::submit() comes back here exactly once, in a run of ops that
  // share one result (epoll: a whole sendmmsg; io_uring: a GSO message; IOCP: one op).
  virtual void on_sent(std::span<SendOp* const> ops, SendCompletion result) = 0;
  // The socket can take sends again after submit() accepted fewer than offered.
  virtual void on_writable() = 0;
  virtual void on_wake() = 0;
  // A socket passed to Datapath::remove_socket() is no longer referenced by any kernel
  // operation: the loop may close its handle and reuse its slot.
  virtual void on_socket_released(SocketId socket) = 0;

 protected:
  ~DatapathSink() = default;
};

// A SocketId is a slot index (low bits; the primary socket is slot 0) plus a generation that
// changes each time the slot is reused. Backends index their per-socket state by slot.
inline constexpr unsigned kSocketSlotBits = 20;
inline constexpr std::uint32_t kMaxSocketSlots = 1u << kSocketSlotBits;
inline constexpr std::uint32_t socket_slot(SocketId id) noexcept { return id & (kMaxSocketSlots - 1); }

// The slot of socket `id` in a backend's table (entries with id, in_use and closing) while that
// socket is open: added and not yet removed. Otherwise nullopt: an event for a socket removed
// meanwhile, a repeated removal, or a stale id whose slot holds a newer socket touches nothing.
template <typename Table>
std::optional<std::uint32_t> open_slot(const Table& sockets, SocketId id) noexcept {
  const std::uint32_t slot = socket_slot(id);
  if (slot >= sockets.size()) return std::nullopt;
  const auto& s = sockets[slot];
  if (s.id != id || !s.in_use || s.closing) return std::nullopt;
  return slot;
}

struct DatapathParams {
  os::SocketHandle socket = os::kInvalidSocket;  // the primary socket (kPrimarySocket)
  AddressFamily family = AddressFamily::kIpv6;
  std::size_t max_datagram_bytes = 2048;
  std::size_t batch = 64;
  std::size_t recv_buffers = 512;
  bool udp_gso = true;
  std::uint32_t coalesce_us = 0;  // LoopConfig::coalesce_us
  bool single_thread = false;     // LoopConfig::single_thread
  Stats* stats = nullptr;  // backends add kSyscalls, kSubmissions, kTruncated, kRecvExhausted,
                           // kRecvErrors; the loop counts the rest
  DatapathSink* sink = nullptr;
};

class Datapath {
 public:
  virtual ~Datapath() = default;
  virtual Backend kind() const noexcept = 0;
  // Takes ops from the front of `ops` until the kernel refuses (returns how many it took). A
  // short count means "retry after on_writable()" or, for a full submission queue, next wait.
  virtual std::size_t submit(std::span<SendOp* const> ops) = 0;
  // Blocks up to timeout_us (negative: no limit) and reports completions to the sink. Sends
  // taken by submit() but not yet handed to the kernel are handed over here at the latest.
  virtual void wait(std::int64_t timeout_us) = 0;
  virtual void wake() noexcept = 0;  // any thread
  // Starts receiving on another socket (its slot is not in use). False, with *error, when the
  // kernel refuses; nothing is then kept.
  virtual bool add_socket(SocketId socket, os::SocketHandle handle, std::string* error) = 0;
  // Delivers no more datagrams from `socket` from now on; sends of it already taken by submit()
  // finish or cancel. Reports on_socket_released() from a later wait(), never from inside here.
  virtual void remove_socket(SocketId socket) = 0;
  // Cancels receives, lets in-flight sends finish or cancel, and returns only when the kernel
  // holds no buffer of ours: kernel_ops() is then 0. The loop closes every socket handle after.
  virtual void shutdown() = 0;
  virtual std::size_t kernel_ops() const noexcept = 0;
  // Only the thread that created it may wait on it (io_uring's single-issuer ring).
  virtual bool thread_bound() const noexcept { return false; }
};

// Each returns nullptr and an error text when the backend cannot run here.
std::unique_ptr<Datapath> create_io_uring_datapath(const DatapathParams& params, std::string* error);
std::unique_ptr<Datapath> create_epoll_datapath(const DatapathParams& params, std::string* error);
std::unique_ptr<Datapath> create_iocp_datapath(const DatapathParams& params, std::string* error);
// Cheap check without a socket: empty when the backend should work, else the reason.
std::string probe_backend(Backend backend);
#ifdef __linux__
std::string probe_io_uring();  // backend_io_uring.cpp
#endif

// backend_select.cpp: resolves kAuto and falls back with a reason (io_uring -> epoll).
struct SelectedDatapath {
  std::unique_ptr<Datapath> datapath;
  std::string note;   // fallback reason, empty when the first choice worked
  std::string error;  // set when nothing could be created
};
SelectedDatapath select_datapath(Backend requested, const DatapathParams& params);

}  // namespace volley::engine
