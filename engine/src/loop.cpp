// Loop: the backend-neutral iteration (completions -> due timers -> posted tasks -> one send
// submission -> wait) and everything shared by the backends: send buffers and the send queue,
// counters, the timer wheel, the task queue and orderly close. A backend only moves bytes.
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
#include "timer_wheel.hpp"

namespace volley::engine {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(Counter::kCount)> kCounterNames = {
    "datagrams_in", "bytes_in",       "datagrams_out", "bytes_out",   "recv_batches",
    "send_batches", "syscalls",       "submissions",   "truncated",   "recv_exhausted",
    "recv_errors",  "send_errors",    "send_dropped",  "wakeups"};

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
    if (!os::open_udp_socket(config_.bind, config_.recv_buffer_bytes, config_.send_buffer_bytes,
                             &socket_, error)) {
      return false;
    }
    DatapathParams params;
    params.socket = socket_.handle;
    params.family = socket_.local.family();
    params.max_datagram_bytes = config_.max_datagram_bytes;
    params.batch = config_.batch;
    params.recv_buffers = config_.recv_buffers;
    params.udp_gso = config_.udp_gso;
    params.stats = &stats_;
    params.sink = this;
    SelectedDatapath selected = select_datapath(config_.backend, params);
    if (!selected.datapath) {
      *error = selected.error;
      os::close_socket(socket_.handle);
      socket_.handle = os::kInvalidSocket;
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
    loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    while (!stop_.load(std::memory_order_acquire)) iterate();
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
    if (!datapath_) {
      os::close_socket(socket_.handle);
      socket_.handle = os::kInvalidSocket;
    }
    std::vector<Task> dropped;
    tasks_.drain(dropped);
    wheel_ = TimerWheel(now());
  }

  void send(std::span<const OutDatagram> datagrams) {
    for (const OutDatagram& d : datagrams) {
      SendOp* op = nullptr;
      const Address to = fit_family(d.to);
      if (d.bytes.size() <= config_.max_datagram_bytes && !to.empty() && !closed_) {
        op = pool_.acquire(d.bytes.size());
      }
      if (op == nullptr) {
        stats_[Counter::kSendDropped] += 1;
        continue;
      }
      if (!d.bytes.empty()) std::memcpy(op->data, d.bytes.data(), d.bytes.size());
      op->size = static_cast<std::uint32_t>(d.bytes.size());
      op->to = to;
      pending_.push_back(op);
    }
  }

  // DatapathSink
  void on_datagrams(std::span<const DatagramView> batch) override {
    stats_[Counter::kRecvBatches] += 1;
    stats_[Counter::kDatagramsIn] += batch.size();
    for (const DatagramView& d : batch) stats_[Counter::kBytesIn] += d.bytes.size();
    // Batches are delivered from inside the backend's wait, which may have blocked for as long
    // as the next timer is away: without this a handler's time() would predate its datagrams,
    // and a protocol peer stamping sends with it retransmits early (docs/scale.md).
    now_ = now();
    if (config_.on_datagrams) config_.on_datagrams(batch);
  }
  void on_sent(SendOp* op, SendCompletion result) override {
    switch (result) {
      case SendCompletion::kSent:
        stats_[Counter::kDatagramsOut] += 1;
        stats_[Counter::kBytesOut] += op->size;
        break;
      case SendCompletion::kFailed:
        stats_[Counter::kSendErrors] += 1;
        break;
      case SendCompletion::kCancelled:
        stats_[Counter::kSendDropped] += 1;
        break;
    }
    pool_.release(op);
  }
  void on_writable() override {}  // the next iteration's flush() retries
  void on_wake() override { stats_[Counter::kWakeups] += 1; }

  LoopConfig config_;
  os::OpenedSocket socket_;
  std::unique_ptr<Datapath> datapath_;
  std::string note_;
  Stats stats_;
  TimerWheel wheel_;
  TaskQueue tasks_;
  SendPool pool_;
  TimePoint now_ = 0;
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

  // A dual-stack IPv6 socket reaches IPv4 peers only through IPv4-mapped addresses, and an IPv4
  // socket cannot send to IPv6 at all.
  Address fit_family(const Address& to) const {
    if (socket_.local.family() == AddressFamily::kIpv6) return to.mapped_v6();
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

  void iterate() {
    now_ = now();
    wheel_.advance(now_);
    tasks_.drain(running_tasks_);
    for (Task& task : running_tasks_) task();
    running_tasks_.clear();
    flush();
    if (stop_.load(std::memory_order_acquire)) {
      // Hand the just-flushed sends to the kernel before run() returns (io_uring submits
      // lazily, with the next wait).
      datapath_->wait(0);
      return;
    }
    std::int64_t timeout_us = -1;
    if (tasks_.maybe_nonempty()) {
      timeout_us = 0;
    } else if (const auto wake_at = wheel_.next_wake()) {
      timeout_us = std::max<std::int64_t>(0, *wake_at - now());
    }
    datapath_->wait(timeout_us);
  }

  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> loop_thread_{};
  std::mutex wake_mutex_;
  bool wake_enabled_ = false;
  bool closed_ = false;
  std::vector<SendOp*> pending_;
  std::size_t pending_head_ = 0;
  std::vector<Task> running_tasks_;
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
Address Loop::local_address() const { return impl_->socket_.local; }
SocketBuffers Loop::socket_buffers() const noexcept { return impl_->socket_.buffers; }
const Stats& Loop::stats() const noexcept { return impl_->stats_; }

LiveOps Loop::live() const noexcept {
  LiveOps out;
  out.kernel_ops = impl_->datapath_ ? impl_->datapath_->kernel_ops() : 0;
  out.send_buffers = impl_->pool_.in_use();
  out.tasks = impl_->tasks_.size();
  out.timers = impl_->wheel_.size();
  return out;
}

}  // namespace volley::engine
