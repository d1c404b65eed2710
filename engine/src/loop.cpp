// Loop: the backend-neutral iteration (completions -> due timers -> posted tasks -> one send
// submission -> wait) and everything shared by the backends: send buffers and the send queue,
// counters, the timer wheel, the task queue, the socket table and orderly close. A backend only
// moves bytes.
#include "volley/engine/loop.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "backend.hpp"
#include "os.hpp"
#include "send_pool.hpp"
#include "task_queue.hpp"
#include "timer_slack.hpp"
#include "timer_wheel.hpp"

namespace volley::engine {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(Counter::kCount)> kCounterNames = {
    "datagrams_in", "bytes_in",       "datagrams_out", "bytes_out",   "recv_batches",
    "send_batches", "syscalls",       "submissions",   "truncated",   "recv_exhausted",
    "recv_errors",  "send_errors",    "send_dropped",  "wakeups",     "waits",
    "naps",         "naps_empty"};

// Generations wrap within the bits above the slot index.
constexpr std::uint32_t kGenerationMask = (std::uint32_t{1} << (32 - kSocketSlotBits)) - 1;

enum class SocketState : std::uint8_t { kFree, kOpen, kClosing };

// One row of the socket table; slot 0 is the primary socket and is never reused.
struct SocketEntry {
  os::OpenedSocket socket;
  SocketId id = 0;
  SocketState state = SocketState::kFree;
};

}  // namespace

std::string_view counter_name(Counter counter) noexcept {
  const auto i = static_cast<std::size_t>(counter);
  return i < kCounterNames.size() ? kCounterNames[i] : "unknown";
}

class Loop::Impl final : public DatapathSink {
 public:
  explicit Impl(LoopConfig config)
      : config_(std::move(config)),
        wheel_(now()),
        pool_(config_.max_datagram_bytes, config_.max_queued_sends) {
    now_ = now();
  }
  ~Impl() { close(); }

  bool open(std::string* error) {
    opener_ = std::this_thread::get_id();
    sockets_.emplace_back();
    os::OpenedSocket& primary = sockets_[0].socket;
    if (!os::open_udp_socket(config_.bind, config_.recv_buffer_bytes, config_.send_buffer_bytes,
                             &primary, error)) {
      return false;
    }
    sockets_[0].state = SocketState::kOpen;
    DatapathParams params;
    params.socket = primary.handle;
    params.family = primary.local.family();
    params.max_datagram_bytes = config_.max_datagram_bytes;
    params.batch = config_.batch;
    params.recv_buffers = config_.recv_buffers;
    params.udp_gso = config_.udp_gso;
    params.coalesce_us = config_.coalesce_us;
    params.single_thread = config_.single_thread;
    params.stats = &stats_;
    params.sink = this;
    SelectedDatapath selected = select_datapath(config_.backend, params);
    if (!selected.datapath) {
      *error = selected.error;
      close_all_sockets();
      return false;
    }
    datapath_ = std::move(selected.datapath);
    backend_ = datapath_->kind();
    note_ = std::move(selected.note);
    if (!note_.empty()) log(note_);
    wake_enabled_ = true;
    return true;
  }

  void run() {
    assert(!closed_ && "run() after close()");
    if (closed_) return;
    if (datapath_->thread_bound() && std::this_thread::get_id() != opener_) {
      // The kernel would refuse every wait from here (-EEXIST): the loop spun at 100% CPU and
      // served nothing. Said once, and run() returns.
      log("run() on another thread than the one that opened the loop: a LoopConfig::single_thread "
          "io_uring ring refuses it; open, run and close the loop on one thread, or leave single_thread off");
      return;
    }
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    const PreciseTimers precise(config_.coalesce_us > 0);  // a nap ends at the cap, not past it
    batch_delivered_ = false;  // a batch taken in by the last run's final wait is long past
    while (!stop_.load(std::memory_order_acquire)) iterate();
    // stop() may come from a handler inside the last wait: what it queued goes out too, and is
    // handed to the kernel before run() returns (io_uring submits lazily, with the next wait).
    flush();
    datapath_->wait(0);
    loop_thread_.store(std::thread::id{}, std::memory_order_relaxed);
    stop_.store(false, std::memory_order_release);
  }

  void stop() {
    stop_.store(true, std::memory_order_release);
    // From a callback the loop sees the flag before it waits again: no wake-up needed.
    if (loop_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id()) wake();
  }

  void post(Task task) {
    // On the loop thread the next iteration sees the queued task before it waits.
    if (tasks_.push(std::move(task)) &&
        loop_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
      wake();
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard lock(wake_mutex_);
      wake_enabled_ = false;
    }
    for (std::size_t i = pending_head_; i < pending_.size(); ++i) {
      stats_[Counter::kSendDropped] += 1;
      pool_.release(pending_[i]);
    }
    pending_.clear();
    pending_head_ = 0;
    if (datapath_) {
      datapath_->shutdown();  // hands every in-flight send back through on_sent()
      if (datapath_->kernel_ops() == 0) datapath_.reset();
    }
    if (!datapath_) close_all_sockets();
    std::vector<Task> dropped;
    tasks_.drain(dropped);
    running_tasks_.clear();  // left behind by a task that threw
    next_task_ = 0;
    wheel_ = TimerWheel(now());
  }

  void send(std::span<const OutDatagram> datagrams) {
    for (const OutDatagram& d : datagrams) {
      SendOp* op = nullptr;
      const SocketEntry* from = open_entry(d.socket);
      // The usual case, a destination of the socket's own family, needs no conversion.
      const Address to = from == nullptr ? Address{}
                         : from->socket.local.family() == d.to.family() ? d.to
                                                                     : fit_family(from->socket, d.to);
      if (d.bytes.size() <= config_.max_datagram_bytes && !to.empty() && !closed_) {
        op = pool_.acquire(d.bytes.size());
      }
      if (op == nullptr) {
        stats_[Counter::kSendDropped] += 1;
        continue;
      }
      if (!d.bytes.empty()) std::memcpy(op->data, d.bytes.data(), d.bytes.size());
      op->size = static_cast<std::uint32_t>(d.bytes.size());
      op->socket_slot = socket_slot(d.socket);
      op->to = to;
      pending_.push_back(op);
    }
  }

  std::optional<SocketId> open_socket(const SocketOptions& options, std::string* error) {
    std::string scratch;
    std::string* err = error != nullptr ? error : &scratch;
    if (closed_ || !datapath_) {
      *err = "the loop is closed";
      return std::nullopt;
    }
    std::uint32_t slot = 0;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
    } else if (sockets_.size() < kMaxSocketSlots) {
      slot = static_cast<std::uint32_t>(sockets_.size());
    } else {
      *err = "too many sockets on one loop";
      return std::nullopt;
    }
    os::OpenedSocket opened;
    if (!os::open_udp_socket(options.bind, options.recv_buffer_bytes, options.send_buffer_bytes,
                             &opened, err)) {
      return std::nullopt;
    }
    if (slot == sockets_.size()) {
      sockets_.emplace_back();
    } else {
      free_slots_.pop_back();
    }
    SocketEntry& entry = sockets_[slot];
    const std::uint32_t generation = ((entry.id >> kSocketSlotBits) + 1) & kGenerationMask;
    const SocketId id = slot | (generation << kSocketSlotBits);
    if (!datapath_->add_socket(id, opened.handle, err)) {
      os::close_socket(opened.handle);
      entry.id = id;  // burnt, so the next use of the slot gets another generation
      free_slots_.push_back(slot);
      return std::nullopt;
    }
    entry.socket = opened;
    entry.id = id;
    entry.state = SocketState::kOpen;
    ++extra_sockets_;
    return id;
  }

  bool close_socket(SocketId id) {
    if (id == kPrimarySocket || open_entry(id) == nullptr) return false;
    const std::uint32_t slot = socket_slot(id);
    sockets_[slot].state = SocketState::kClosing;
    // Queued sends from it will never go: drop them now (one pass over the queue per close).
    std::size_t kept = pending_head_;
    for (std::size_t i = pending_head_; i < pending_.size(); ++i) {
      if (pending_[i]->socket_slot == slot) {
        stats_[Counter::kSendDropped] += 1;
        pool_.release(pending_[i]);
      } else {
        pending_[kept++] = pending_[i];
      }
    }
    pending_.resize(kept);
    datapath_->remove_socket(id);
    return true;
  }

  const SocketEntry* open_entry(SocketId id) const noexcept {
    const std::uint32_t slot = socket_slot(id);
    if (slot >= sockets_.size()) return nullptr;
    const SocketEntry& entry = sockets_[slot];
    return entry.id == id && entry.state == SocketState::kOpen ? &entry : nullptr;
  }

  // DatapathSink
  void on_datagrams(std::span<const DatagramView> batch, TimePoint received_at) override {
    stats_[Counter::kRecvBatches] += 1;
    stats_[Counter::kDatagramsIn] += batch.size();
    for (const DatagramView& d : batch) stats_[Counter::kBytesIn] += d.bytes.size();
    // Batches are delivered from inside the backend's wait, which may have blocked for as long
    // as the next timer is away: without this a handler's time() would predate its datagrams,
    // and a protocol peer stamping sends with it retransmits early (docs/scale.md).
    now_ = received_at;
    batch_delivered_ = true;
    if (config_.on_datagrams) config_.on_datagrams(batch);
  }
  void on_sent(std::span<SendOp* const> ops, SendCompletion result) override {
    switch (result) {
      case SendCompletion::kSent:
        stats_[Counter::kDatagramsOut] += ops.size();
        for (const SendOp* op : ops) stats_[Counter::kBytesOut] += op->size;
        break;
      case SendCompletion::kFailed:
        stats_[Counter::kSendErrors] += ops.size();
        break;
      case SendCompletion::kCancelled:
        stats_[Counter::kSendDropped] += ops.size();
        break;
    }
    for (SendOp* op : ops) pool_.release(op);
  }
  void on_writable() override {}  // the next iteration's flush() retries
  void on_wake() override { stats_[Counter::kWakeups] += 1; }
  void on_socket_released(SocketId id) override {
    const std::uint32_t slot = socket_slot(id);
    if (slot >= sockets_.size() || sockets_[slot].id != id ||
        sockets_[slot].state != SocketState::kClosing) {
      return;
    }
    SocketEntry& entry = sockets_[slot];
    os::close_socket(entry.socket.handle);
    entry.socket = {};
    entry.state = SocketState::kFree;
    free_slots_.push_back(slot);
    --extra_sockets_;
  }

  LoopConfig config_;
  std::vector<SocketEntry> sockets_;  // by slot; [0] is the primary socket
  std::vector<std::uint32_t> free_slots_;
  std::size_t extra_sockets_ = 0;     // open or closing
  std::unique_ptr<Datapath> datapath_;
  std::string note_;
  Stats stats_;
  TimerWheel wheel_;
  TaskQueue tasks_;
  SendPool pool_;
  TimePoint now_ = 0;
  bool batch_delivered_ = false;  // the last wait handed over datagrams (now_ is their time)
  Backend backend_ = Backend::kAuto;

 private:
  void log(std::string_view text) {
    if (config_.log) {
      config_.log(text);
    } else {
      std::fprintf(stderr, "volley-engine: %.*s\n", static_cast<int>(text.size()), text.data());
    }
  }

  void wake() {
    std::lock_guard lock(wake_mutex_);
    if (wake_enabled_) datapath_->wake();
  }

  void close_all_sockets() {
    for (SocketEntry& entry : sockets_) {
      os::close_socket(entry.socket.handle);
      entry.socket.handle = os::kInvalidSocket;
      if (&entry != &sockets_[0]) entry.state = SocketState::kFree;
    }
    if (sockets_.size() > 1) sockets_.resize(1);
    free_slots_.clear();
    extra_sockets_ = 0;
  }

  // A dual-stack IPv6 socket reaches IPv4 peers only through IPv4-mapped addresses, and an IPv4
  // socket cannot send to IPv6 at all.
  static Address fit_family(const os::OpenedSocket& socket, const Address& to) {
    if (socket.local.family() == AddressFamily::kIpv6) return to.mapped_v6();
    const Address v4 = to.unmapped();
    return v4.family() == AddressFamily::kIpv4 ? v4 : Address{};
  }

  void flush() {
    if (pending_head_ == pending_.size()) return;
    const std::size_t taken = datapath_->submit(
        std::span<SendOp* const>(pending_.data() + pending_head_, pending_.size() - pending_head_));
    if (taken > 0) stats_[Counter::kSendBatches] += 1;
    pending_head_ += taken;
    if (pending_head_ == pending_.size()) {
      pending_.clear();
      pending_head_ = 0;
    } else if (pending_head_ > pending_.size() / 2) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_head_));
      pending_head_ = 0;
    }
  }

  // After a stall (a long handler, a descheduled process) timers are overdue while datagrams
  // that came meanwhile, ACKs among them, wait in the socket: those are taken in first, or a
  // protocol peer judges its resend and timeout deadlines without them. Only when a timer is
  // late, so one fired on time costs no extra syscall.
  void take_in_before_late_timers() {
    const auto wake = wheel_.next_wake();
    if (!wake || now_ - *wake < kLateTimerUs) return;
    datapath_->wait(0);
    now_ = now();
  }
  static constexpr TimePoint kLateTimerUs = 2000;

  // A task that throws leaves run() with the tasks behind it still queued here: the next pass
  // (of this run() or the next) runs them first, before anything posted since. The cursor moves
  // before each call, so the throwing task itself is not run again.
  void run_tasks() {
    if (next_task_ == running_tasks_.size()) {
      tasks_.drain(running_tasks_);
      next_task_ = 0;
    }
    while (next_task_ < running_tasks_.size()) running_tasks_[next_task_++]();
    running_tasks_.clear();
    next_task_ = 0;
  }

  void iterate() {
    // After a wait that handed over datagrams, their receipt time stands for this pass: a timer
    // that fell due while the handlers ran fires one pass later, and never oversleeps, because
    // the wait's timeout below reads the clock afresh. One clock read fewer per busy wake-up.
    if (!batch_delivered_) now_ = now();
    take_in_before_late_timers();
    batch_delivered_ = false;
    wheel_.advance(now_);
    // The flag drain() tests, read here: no call on a pass without tasks.
    if (next_task_ < running_tasks_.size() || tasks_.maybe_nonempty()) run_tasks();
    flush();
    // After the flush: on epoll every send has completed by now, so nothing is in use.
    if (now_ >= next_trim_) {
      pool_.trim();
      next_trim_ = now_ + kTrimIntervalUs;
    }
    if (stop_.load(std::memory_order_acquire)) return;  // run() does the final flush
    std::int64_t timeout_us = -1;
    if (tasks_.maybe_nonempty()) {
      timeout_us = 0;
    } else if (const auto wake_at = wheel_.next_wake()) {
      timeout_us = std::max<std::int64_t>(0, *wake_at - now());
    }
    if (timeout_us != 0) stats_[Counter::kWaits] += 1;
    datapath_->wait(timeout_us);
  }

  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> loop_thread_{};
  std::thread::id opener_;  // the thread that opened the loop (a thread_bound() datapath's only waiter)
  std::mutex wake_mutex_;
  bool wake_enabled_ = false;
  bool closed_ = false;
  std::vector<SendOp*> pending_;
  std::size_t pending_head_ = 0;
  std::vector<Task> running_tasks_;
  std::size_t next_task_ = 0;  // running_tasks_ from here on have not run yet
  // The send pool gives back what a burst grew (SendPool::trim) after kTrimWindow of these; a loop
  // with no timers may sleep past it, keeping the memory until its next pass.
  static constexpr TimePoint kTrimIntervalUs = 1'000'000;
  TimePoint next_trim_ = 0;
};

Loop::Opened Loop::open(LoopConfig config) {
  if (config.batch == 0 || config.batch > 1024) return {nullptr, "batch must be 1..1024"};
  if (config.max_datagram_bytes == 0 || config.max_datagram_bytes > 65536) {
    return {nullptr, "max_datagram_bytes must be 1..65536"};
  }
  if (config.recv_buffers == 0 || config.max_queued_sends == 0) {
    return {nullptr, "recv_buffers and max_queued_sends must be positive"};
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  std::string error;
  if (!impl->open(&error)) return {nullptr, error};
  return {std::unique_ptr<Loop>(new Loop(std::move(impl))), {}};
}

Loop::Loop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Loop::~Loop() = default;

void Loop::run() { impl_->run(); }
void Loop::stop() { impl_->stop(); }
void Loop::post(Task task) { impl_->post(std::move(task)); }
void Loop::close() { impl_->close(); }
void Loop::send(std::span<const OutDatagram> datagrams) { impl_->send(datagrams); }
void Loop::set_handler(DatagramHandler handler) { impl_->config_.on_datagrams = std::move(handler); }

TimerId Loop::schedule(TimePoint deadline, TimerCallback callback) {
  return impl_->wheel_.schedule(deadline, std::move(callback));
}
bool Loop::cancel(TimerId id) { return impl_->wheel_.cancel(id); }
bool Loop::reschedule(TimerId id, TimePoint deadline) { return impl_->wheel_.reschedule(id, deadline); }
TimePoint Loop::time() const noexcept { return impl_->now_; }

Backend Loop::backend() const noexcept {
  return impl_->backend_;
}
const std::string& Loop::backend_note() const noexcept { return impl_->note_; }
Address Loop::local_address() const { return impl_->sockets_[0].socket.local; }
Address Loop::local_address(SocketId socket) const {
  const SocketEntry* entry = impl_->open_entry(socket);
  return entry != nullptr ? entry->socket.local : Address{};
}
SocketBuffers Loop::socket_buffers() const noexcept { return impl_->sockets_[0].socket.buffers; }

std::optional<SocketId> Loop::open_socket(const SocketOptions& options, std::string* error) {
  return impl_->open_socket(options, error);
}
bool Loop::close_socket(SocketId socket) { return impl_->close_socket(socket); }
const Stats& Loop::stats() const noexcept { return impl_->stats_; }

LiveOps Loop::live() const noexcept {
  LiveOps out;
  out.kernel_ops = impl_->datapath_ ? impl_->datapath_->kernel_ops() : 0;
  out.send_buffers = impl_->pool_.in_use();
  out.tasks = impl_->tasks_.size();
  out.timers = impl_->wheel_.size();
  out.sockets = impl_->extra_sockets_;
  return out;
}

}  // namespace volley::engine
