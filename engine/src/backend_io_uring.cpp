// io_uring datapath: one multishot recvmsg per socket, all fed by one provided-buffer ring
// (re-armed whenever a completion arrives without IORING_CQE_F_MORE), sends as sendmsg SQEs submitted together with
// the next wait in a single io_uring_enter (runs to one destination as one UDP GSO message, see
// send_batch.hpp), and a read armed on an eventfd for cross-thread
// wake-ups. -ENOBUFS (buffer ring empty) and MSG_TRUNC are counted, never delivered.
// Wake-ups are coalesced (LoopConfig::coalesce_us): while datagrams flow (NapRule decides, as for
// epoll) a blocking wait asks for a batch within what is left of the cap since the latest
// delivery (NapRule::nap_us: datagrams that came while that pass ran wait no longer than the
// cap). On a single-thread ring where the kernel has
// min-timeout waits (6.12+, IORING_FEAT_MIN_TIMEOUT) it returns once the cap has passed and
// anything is there, and otherwise sleeps until the first completion or the timer deadline;
// otherwise it asks for the batch with the cap as its timeout. Every other blocking wait takes
// the completions of the sends it submits plus one more, or the deadline. Only with
// LoopConfig::single_thread
// is the ring set up with SINGLE_ISSUER | DEFER_TASKRUN (which also spares the kernel-side
// wake-up per completion): such a ring accepts io_uring_enter only from the thread that made it,
// and a Loop may otherwise be run() on one thread and close()d on another (tests, tools);
// kernel 6.x refuses that with -EEXIST.
#ifdef __linux__
#include <liburing.h>
#include <netinet/udp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "nap_rule.hpp"
#include "send_batch.hpp"

namespace volley::engine {
namespace {

// user_data tags; sends carry their SendOp pointer, which is 16-byte aligned, so tags with low
// bits 1..3 can never collide with one. A receive's tag carries its whole SocketId (slot and
// generation) above the low four bits: a cancel aimed at a closed socket's receive can never
// hit the receive of the socket that reuses its slot.
constexpr std::uint64_t kRecvTag = 1;
constexpr std::uint64_t kWakeTag = 2;
constexpr std::uint64_t kCancelTag = 3;
constexpr std::uint64_t kTagMask = 0xf;
constexpr std::uint64_t recv_tag(SocketId id) { return (std::uint64_t{id} << 4) | kRecvTag; }
constexpr unsigned kBufferGroup = 0;
// Room for sockaddr_in6 rounded up so the payload that follows starts 16-byte aligned.
constexpr unsigned kNameBytes = 32;
constexpr unsigned kSqEntries = 2048;
constexpr unsigned kCqEntries = 16384;
// CQEs handled per wait() before control returns to timers and tasks.
constexpr int kMaxRoundsPerWait = 16;
constexpr std::int64_t kShutdownLimitUs = 2'000'000;
// Kernel 6.12 (liburing 2.8) names; liburing 2.3's headers have neither.
constexpr unsigned kFeatMinTimeout = 1u << 15;  // IORING_FEAT_MIN_TIMEOUT

std::string errno_text(const char* what, int negative_code) {
  return os::error_text(what, -negative_code);
}

bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (uname(&u) != 0) return false;
  int kmajor = 0;
  int kminor = 0;
  if (std::sscanf(u.release, "%d.%d", &kmajor, &kminor) != 2) return false;
  return kmajor > major || (kmajor == major && kminor >= minor);
}

unsigned round_up_pow2(std::size_t n) {
  unsigned p = 1;
  while (p < n && p < 32768) p <<= 1;
  return p;
}

struct GsoSlot {
  iovec iov[kMaxGsoSegments];
  SendOp* ops[kMaxGsoSegments];
  std::size_t count;
};

struct GsoControl {
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(std::uint16_t))];
};

// Lives in SendOp::scratch of the first datagram of each sendmsg, until its completion.
struct SendScratch {
  msghdr msg;
  iovec iov;
  GsoControl control;
  GsoSlot* slot;  // null for a single datagram
};

// What the ring knows of one socket: 16 bytes, so thousands cost nothing.
struct SocketState {
  int fd = -1;
  SocketId id = 0;
  std::uint32_t sends_in_flight = 0;
  bool in_use = false;
  bool closing = false;     // remove_socket() called; released once nothing is in flight
  bool recv_armed = false;  // its multishot receive is live
};

class IoUringDatapath final : public Datapath {
 public:
  explicit IoUringDatapath(const DatapathParams& params) : p_(params), gso_(params.udp_gso), naps_(params.coalesce_us) {}
  ~IoUringDatapath() override { shutdown(); }

  bool init(std::string* error) {
    io_uring_params setup{};
    int rc = -EINVAL;
    if (p_.single_thread) {  // kernels before 6.1 refuse DEFER_TASKRUN: fall back below
      setup.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                    IORING_SETUP_DEFER_TASKRUN;
      setup.cq_entries = kCqEntries;
      rc = io_uring_queue_init_params(kSqEntries, &ring_, &setup);
      deferred_ = rc == 0;
    }
    if (rc == -EINVAL) {
      setup = {};
      setup.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
      setup.cq_entries = kCqEntries;
      rc = io_uring_queue_init_params(kSqEntries, &ring_, &setup);
    }
    if (rc == -EINVAL) {  // kernels before 5.19 lack COOP_TASKRUN
      setup = {};
      setup.flags = IORING_SETUP_CQSIZE;
      setup.cq_entries = kCqEntries;
      rc = io_uring_queue_init_params(kSqEntries, &ring_, &setup);
    }
    if (rc < 0) {
      *error = errno_text("io_uring_queue_init", rc);
      return false;
    }
    ring_ready_ = true;
    // Used with the single-issuer deferred-task-run ring only, the one it was measured with
    // (volley-server's); ordinary rings nap with the cap as the wait's timeout.
    min_timeout_ = (ring_.features & kFeatMinTimeout) != 0 &&
                   std::getenv("VOLLEY_ENGINE_NO_MIN_TIMEOUT") == nullptr;
    if (!(ring_.features & IORING_FEAT_EXT_ARG)) {
      *error = "kernel lacks IORING_FEAT_EXT_ARG (timed waits)";
      return false;
    }
    if (!setup_buffers(error)) return false;
    // Blocking on purpose: io_uring returns -EAGAIN for reads of O_NONBLOCK files instead of
    // waiting for them.
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
      *error = os::last_error_text("eventfd");
      return false;
    }
    recv_msg_.msg_namelen = kNameBytes;
    views_.resize(p_.batch);
    view_bids_.resize(p_.batch);
    return add_socket(kPrimarySocket, p_.socket, error) && arm_wake(error);
  }

  bool add_socket(SocketId id, os::SocketHandle handle, std::string* error) override {
    const std::uint32_t slot = socket_slot(id);
    if (slot >= sockets_.size()) sockets_.resize(slot + 1);
    SocketState& s = sockets_[slot];
    s = SocketState{handle, id, 0, true, false, false};
    if (!arm_recv(slot, error)) {
      s = SocketState{};
      return false;
    }
    return true;
  }

  void remove_socket(SocketId id) override {
    const std::optional<std::uint32_t> open = open_slot(sockets_, id);
    if (!open) return;
    const std::uint32_t slot = *open;
    SocketState& s = sockets_[slot];
    s.closing = true;
    if (s.recv_armed) cancel(recv_tag(s.id));
    closing_.push_back(slot);
  }

  Backend kind() const noexcept override { return Backend::kIoUring; }
  bool thread_bound() const noexcept override { return deferred_; }

  std::size_t submit(std::span<SendOp* const> ops) override {
    std::size_t taken = 0;
    while (taken < ops.size()) {
      const auto rest = ops.subspan(taken);
      const std::size_t run = gso_ ? gso_run(rest, kMaxGsoSegments) : 1;
      io_uring_sqe* sqe = next_sqe();
      if (sqe == nullptr) break;
      SendOp* first = rest[0];
      static_assert(sizeof(SendScratch) <= sizeof(first->scratch));
      auto* s = new (first->scratch) SendScratch{};
      s->msg.msg_name = const_cast<void*>(first->to.sockaddr());
      s->msg.msg_namelen = static_cast<socklen_t>(first->to.size());
      if (run == 1) {
        s->iov = {first->data, first->size};
        s->msg.msg_iov = &s->iov;
        s->msg.msg_iovlen = 1;
      } else {
        // A GSO message: its iovecs and the ops it carries live in a slot until completion.
        s->slot = acquire_slot();
        s->slot->count = run;
        for (std::size_t i = 0; i < run; ++i) {
          s->slot->iov[i] = {rest[i]->data, rest[i]->size};
          s->slot->ops[i] = rest[i];
        }
        s->msg.msg_iov = s->slot->iov;
        s->msg.msg_iovlen = run;
        s->msg.msg_control = &s->control;
        s->msg.msg_controllen = sizeof(s->control);
        cmsghdr* c = CMSG_FIRSTHDR(&s->msg);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto segment = static_cast<std::uint16_t>(first->size);
        std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
      }
      SocketState& socket = sockets_[first->socket_slot];
      io_uring_prep_sendmsg(sqe, socket.fd, &s->msg, 0);
      io_uring_sqe_set_data(sqe, first);
      ++sends_in_flight_;
      ++unsubmitted_sends_;
      ++socket.sends_in_flight;
      add(Counter::kSubmissions, 1);
      taken += run;
    }
    return taken;
  }

  // At most one io_uring_enter per call. Completions already in the CQ are collected without
  // one; the submissions queued meanwhile go with the next wait (or with this call's enter when
  // the previous call already held them back, so a busy CQ cannot starve sends).
  void wait(std::int64_t timeout_us) override {
    const std::uint64_t before = received_;
    const unsigned pending = io_uring_sq_ready(&ring_);
    const bool ready = io_uring_cq_ready(&ring_) > 0;
    if (!ready) held_back_ = false;
    // A nap: a wait for a batch's worth of completions (beyond the ones this enter's own
    // submissions will post), within the cap and never past the caller's deadline.
    const bool may_nap = !ready && timeout_us != 0 && naps_.napping();
    const TimePoint start = may_nap ? now() : 0;
    const std::int64_t cap =
        may_nap ? naps_.nap_us(start, timeout_us < 0 ? std::int64_t{p_.coalesce_us} : timeout_us) : 0;
    const bool nap = cap > 0;
    const bool min_wait = nap && min_timeout_ && deferred_;
    if (ready) {
      if (pending > 0 && held_back_) {
        enter_submit();
        held_back_ = false;
      } else {
        held_back_ = pending > 0;
      }
    } else if (timeout_us == 0) {
      if (deferred_) {
        // Completions of a deferred-task-run ring are posted only inside an enter that asks
        // for events: without one a loop kept busy by tasks would never see a datagram.
        io_uring_submit_and_get_events(&ring_);
        unsubmitted_sends_ = 0;
        add(Counter::kSyscalls, 1);
      } else if (pending > 0) {
        enter_submit();
      }
    } else if (!nap) {
      // The sends this enter submits complete at once (a UDP send that fits the socket buffer
      // is done when it is issued): waiting for one completion would return on them and cost
      // a second enter per pass that sends. One beyond them is the datagram, wake-up or cancel
      // worth waking for.
      submit_and_wait(1 + unsubmitted_sends_, timeout_us);
    } else if (min_wait) {
      wait_min_timeout(timeout_us, cap, pending);
    } else {
      submit_and_wait(batch_want(pending), cap);
    }
    if (nap) naps_.nap_took(cap, now() - start);  // the enter: its sends, the wait, the receives
    const bool more = reap();
    // A nap that gathered is judged by how much (NapRule::pays), not by how long it took: a
    // min-timeout wait whose min timer found nothing sleeps on to the first completion and then
    // takes what a wait without a nap would have, which does not pay; one that gathered a large
    // batch returns late too, after the kernel's receive work for every datagram it gathered.
    const std::uint64_t got = received_ - before;
    if (nap) add(Counter::kNaps, 1);
    const NapRule::Nap what = !nap ? NapRule::Nap::kNone : got > 0 ? NapRule::Nap::kGathered : NapRule::Nap::kEmpty;
    if (naps_.after_wait(got, delivered_at_, more, what)) add(Counter::kNapsEmpty, 1);
  }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto r = write(wake_fd_, &one, sizeof(one));
  }

  void shutdown() override {
    if (!ring_ready_) return;
    if (!shutting_down_) {
      shutting_down_ = true;
      for (const SocketState& s : sockets_) {
        if (s.in_use && s.recv_armed) cancel(recv_tag(s.id));
      }
      if (wake_armed_) cancel(kWakeTag);
      const std::int64_t start = now();
      while (kernel_ops() > 0 && now() - start < kShutdownLimitUs) wait(10'000);
    }
    if (kernel_ops() > 0) {
      // The kernel still references our buffers: leaking them is the only safe choice.
      std::fprintf(stderr, "volley-engine: io_uring shutdown left %zu operations in flight\n",
                   kernel_ops());
      return;
    }
    if (buf_ring_ != nullptr) {
      io_uring_unregister_buf_ring(&ring_, kBufferGroup);
      munmap(buf_ring_, buf_ring_bytes_);
      buf_ring_ = nullptr;
    }
    io_uring_queue_exit(&ring_);
    ring_ready_ = false;
    if (wake_fd_ >= 0) close(wake_fd_);
    wake_fd_ = -1;
  }

  std::size_t kernel_ops() const noexcept override {
    return sends_in_flight_ + recvs_armed_ + (wake_armed_ ? 1 : 0) + cancels_in_flight_;
  }

 private:
  void add(Counter c, std::uint64_t n) noexcept { (*p_.stats)[c] += n; }

  GsoSlot* acquire_slot() {
    if (free_slots_.empty()) {
      slots_.push_back(std::make_unique<GsoSlot>());
      return slots_.back().get();
    }
    GsoSlot* slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }

  unsigned batch_want(unsigned pending) const {
    return std::min<unsigned>(pending + static_cast<unsigned>(p_.batch), kCqEntries / 2);
  }

  static __kernel_timespec to_timespec(std::int64_t us) {
    __kernel_timespec ts{};
    if (us > 0) {
      ts.tv_sec = us / 1'000'000;
      ts.tv_nsec = (us % 1'000'000) * 1000;
    }
    return ts;
  }

  void count_wait_error(int rc) {
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      add(Counter::kRecvErrors, 1);
    }
  }

  // One enter that submits what is queued and waits for a batch of completions (beyond the ones
  // these submissions post): it returns once `cap` has passed with at least one completion
  // there, at once when the batch is complete, and with none at the caller's deadline. A wait
  // that sees nothing within the cap keeps sleeping until the first completion, without waking
  // us in between, unless it has no deadline at all: then the kernel ends it at the cap.
  // liburing 2.3 cannot pass min_wait_usec, so the SQ tail is published here exactly as
  // its io_uring_submit() does (no SQ array writes: the kernel's array is the identity map).
  void wait_min_timeout(std::int64_t timeout_us, std::int64_t cap, unsigned pending) {
    io_uring_sq& sq = ring_.sq;
    if (sq.sqe_head != sq.sqe_tail) {
      sq.sqe_head = sq.sqe_tail;
      io_uring_smp_store_release(sq.ktail, sq.sqe_tail);
    }
    const unsigned to_submit = sq.sqe_tail - io_uring_smp_load_acquire(sq.khead);
    __kernel_timespec ts = to_timespec(timeout_us);
    io_uring_getevents_arg arg{};
    // min_wait_usec since kernel 6.12. The kernel arms the min timer alone first, so a cap beyond
    // the caller's deadline would fire the timer late: the caller clamps it.
    arg.pad = static_cast<std::uint32_t>(cap);
    arg.ts = timeout_us < 0 ? 0 : reinterpret_cast<std::uint64_t>(&ts);
    const int rc = io_uring_enter2(static_cast<unsigned>(ring_.ring_fd), to_submit,
                                   batch_want(pending),
                                   IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                                   reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
    unsubmitted_sends_ = 0;
    add(Counter::kSyscalls, 1);
    count_wait_error(rc);
  }

  // Submits what is queued and waits for `want` completions or `timeout_us` (negative: none).
  void submit_and_wait(unsigned want, std::int64_t timeout_us) {
    __kernel_timespec ts = to_timespec(timeout_us);
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, want, timeout_us < 0 ? nullptr : &ts, nullptr);
    unsubmitted_sends_ = 0;
    add(Counter::kSyscalls, 1);
    count_wait_error(rc);
  }

  void enter_submit() {
    io_uring_submit(&ring_);
    unsubmitted_sends_ = 0;
    add(Counter::kSyscalls, 1);
  }

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      enter_submit();
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  bool setup_buffers(std::string* error) {
    buf_count_ = round_up_pow2(std::max<std::size_t>(p_.recv_buffers, 2));
    buf_size_ = static_cast<unsigned>(sizeof(io_uring_recvmsg_out) + kNameBytes +
                                      p_.max_datagram_bytes);
    buf_ring_bytes_ = buf_count_ * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      *error = os::last_error_text("mmap(buffer ring)");
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
    reg.ring_entries = buf_count_;
    reg.bgid = kBufferGroup;
    if (const int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) {
      munmap(buf_ring_, buf_ring_bytes_);
      buf_ring_ = nullptr;
      *error = errno_text("io_uring_register_buf_ring", rc);
      return false;
    }
    buffers_.resize(static_cast<std::size_t>(buf_count_) * buf_size_);
    io_uring_buf_ring_init(buf_ring_);
    const int mask = io_uring_buf_ring_mask(buf_count_);
    for (unsigned i = 0; i < buf_count_; ++i) {
      io_uring_buf_ring_add(buf_ring_, buffer(i), buf_size_, static_cast<unsigned short>(i), mask,
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buf_count_));
    return true;
  }

  std::uint8_t* buffer(unsigned bid) { return buffers_.data() + static_cast<std::size_t>(bid) * buf_size_; }

  void recycle(std::span<const unsigned short> bids) {
    const int mask = io_uring_buf_ring_mask(buf_count_);
    int offset = 0;
    for (const unsigned short bid : bids) {
      io_uring_buf_ring_add(buf_ring_, buffer(bid), buf_size_, bid, mask, offset++);
    }
    if (offset > 0) io_uring_buf_ring_advance(buf_ring_, offset);
  }

  bool arm_recv(std::uint32_t slot, std::string* error) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
      if (error != nullptr) *error = "io_uring submission queue full";
      return false;
    }
    SocketState& s = sockets_[slot];
    // recv_msg_ is only a template (name and control lengths) the kernel copies at submission,
    // so every socket's receive shares it.
    io_uring_prep_recvmsg_multishot(sqe, s.fd, &recv_msg_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, recv_tag(s.id));
    s.recv_armed = true;
    ++recvs_armed_;
    add(Counter::kSubmissions, 1);
    return true;
  }

  bool arm_wake(std::string* error) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) {
      if (error != nullptr) *error = "io_uring submission queue full";
      return false;
    }
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
    io_uring_sqe_set_data64(sqe, kWakeTag);
    wake_armed_ = true;
    add(Counter::kSubmissions, 1);
    return true;
  }

  void cancel(std::uint64_t tag) {
    io_uring_sqe* sqe = next_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_cancel64(sqe, tag, 0);
    io_uring_sqe_set_data64(sqe, kCancelTag);
    ++cancels_in_flight_;
    add(Counter::kSubmissions, 1);
  }

  void deliver() {
    if (view_count_ == 0) return;
    if (!shutting_down_) {
      delivered_at_ = now();
      p_.sink->on_datagrams(std::span<const DatagramView>(views_.data(), view_count_), delivered_at_);
    }
    recycle(std::span<const unsigned short>(view_bids_.data(), view_count_));
    view_count_ = 0;
  }

  void on_recv(std::uint64_t tag, const io_uring_cqe& cqe) {
    const auto id = static_cast<SocketId>(tag >> 4);
    const std::uint32_t slot = socket_slot(id);
    SocketState* s = slot < sockets_.size() && sockets_[slot].id == id ? &sockets_[slot] : nullptr;
    if (s != nullptr && !(cqe.flags & IORING_CQE_F_MORE) && s->recv_armed) {
      s->recv_armed = false;
      --recvs_armed_;
      if (!s->closing && !shutting_down_) rearm_.push_back(slot);
    }
    if (cqe.res < 0) {
      if (cqe.res == -ENOBUFS) {
        add(Counter::kRecvExhausted, 1);
      } else if (cqe.res != -ECANCELED) {
        add(Counter::kRecvErrors, 1);
      }
      return;
    }
    if (!(cqe.flags & IORING_CQE_F_BUFFER)) return;
    const auto bid = static_cast<unsigned short>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    if (s == nullptr || s->closing || shutting_down_) {  // removed: nobody is listening
      recycle(std::span<const unsigned short>(&bid, 1));
      return;
    }
    auto* out = io_uring_recvmsg_validate(buffer(bid), cqe.res, &recv_msg_);
    if (out == nullptr || (out->flags & MSG_TRUNC)) {
      add(out == nullptr ? Counter::kRecvErrors : Counter::kTruncated, 1);
      recycle(std::span<const unsigned short>(&bid, 1));
      return;
    }
    const auto* payload = static_cast<const std::uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
    const auto length = io_uring_recvmsg_payload_length(out, cqe.res, &recv_msg_);
    views_[view_count_] = DatagramView{Bytes(payload, length),
                                       Address::from_sockaddr(io_uring_recvmsg_name(out),
                                                              std::min(out->namelen, kNameBytes)),
                                       s->id};
    view_bids_[view_count_] = bid;
    ++received_;
    if (++view_count_ == views_.size()) deliver();
  }

  void on_cqe(const io_uring_cqe& cqe) {
    const std::uint64_t tag = io_uring_cqe_get_data64(&cqe);
    if ((tag & kTagMask) == kRecvTag) {
      on_recv(tag, cqe);
    } else if (tag == kWakeTag) {
      wake_armed_ = false;
      if (!shutting_down_) p_.sink->on_wake();
    } else if (tag == kCancelTag) {
      --cancels_in_flight_;
    } else {
      --sends_in_flight_;
      auto* op = reinterpret_cast<SendOp*>(static_cast<std::uintptr_t>(tag));
      --sockets_[op->socket_slot].sends_in_flight;
      const SendCompletion result = cqe.res >= 0              ? SendCompletion::kSent
                                    : cqe.res == -ECANCELED ? SendCompletion::kCancelled
                                                            : SendCompletion::kFailed;
      GsoSlot* slot = reinterpret_cast<SendScratch*>(op->scratch)->slot;
      if (slot == nullptr) {
        p_.sink->on_sent({&op, 1}, result);
        return;
      }
      // A device that cannot segment fails the whole message; later runs go one by one.
      if (cqe.res == -EIO || cqe.res == -EINVAL || cqe.res == -EOPNOTSUPP) gso_ = false;
      p_.sink->on_sent({slot->ops, slot->count}, result);
      free_slots_.push_back(slot);
    }
  }

  // Returns true when it stopped at its round limit with completions perhaps still queued.
  bool reap() {
    io_uring_cqe* cqes[64];
    bool more = true;
    for (int round = 0; round < kMaxRoundsPerWait && more; ++round) {
      const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 64);
      for (unsigned i = 0; i < n; ++i) on_cqe(*cqes[i]);
      io_uring_cq_advance(&ring_, n);
      more = n == 64;
    }
    deliver();
    if (shutting_down_) return more;
    // Only sockets whose receive ended (buffer ring empty, an error) are visited: no per-wait
    // cost for the thousands whose receives are still armed.
    for (const std::uint32_t slot : rearm_) {
      const SocketState& s = sockets_[slot];
      if (s.in_use && !s.closing && !s.recv_armed) arm_recv(slot, nullptr);
    }
    rearm_.clear();
    if (!wake_armed_) arm_wake(nullptr);
    release_closed();
    return more;
  }

  void release_closed() {
    for (std::size_t i = 0; i < closing_.size();) {
      SocketState& s = sockets_[closing_[i]];
      if (s.recv_armed || s.sends_in_flight > 0) {
        ++i;
        continue;
      }
      const SocketId id = s.id;
      s = SocketState{};
      closing_[i] = closing_.back();
      closing_.pop_back();
      p_.sink->on_socket_released(id);
    }
  }

  DatapathParams p_;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool shutting_down_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  unsigned buf_count_ = 0;
  unsigned buf_size_ = 0;
  std::vector<std::uint8_t> buffers_;
  msghdr recv_msg_{};
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  std::vector<SocketState> sockets_;   // by slot
  std::vector<std::uint32_t> rearm_;   // slots whose multishot receive ended
  std::vector<std::uint32_t> closing_; // removed slots the kernel may still reference
  std::size_t recvs_armed_ = 0;
  bool wake_armed_ = false;
  std::size_t sends_in_flight_ = 0;
  unsigned unsubmitted_sends_ = 0;  // send SQEs queued since the last enter that submitted
  std::size_t cancels_in_flight_ = 0;
  std::vector<DatagramView> views_;
  std::vector<unsigned short> view_bids_;
  std::size_t view_count_ = 0;
  std::vector<std::unique_ptr<GsoSlot>> slots_;
  std::vector<GsoSlot*> free_slots_;
  bool gso_ = true;
  bool held_back_ = false;  // the last wait() left queued submissions for the next one
  bool deferred_ = false;   // SINGLE_ISSUER | DEFER_TASKRUN ring (LoopConfig::single_thread)
  bool min_timeout_ = false;  // kernel takes min_wait_usec: a nap is one min-timeout wait
  NapRule naps_;
  std::uint64_t received_ = 0;  // datagrams handed over, ever
  TimePoint delivered_at_ = 0;  // the clock at the latest delivery (NapRule reads it)
};

}  // namespace

std::unique_ptr<Datapath> create_io_uring_datapath(const DatapathParams& params, std::string* error) {
  if (std::string reason = probe_backend(Backend::kIoUring); !reason.empty()) {
    *error = reason;
    return nullptr;
  }
  auto datapath = std::make_unique<IoUringDatapath>(params);
  if (!datapath->init(error)) return nullptr;
  return datapath;
}

std::string probe_io_uring() {
  if (const char* off = std::getenv("VOLLEY_ENGINE_DISABLE_IO_URING"); off != nullptr && *off) {
    return "disabled by VOLLEY_ENGINE_DISABLE_IO_URING";
  }
  // Multishot recvmsg arrived in 6.0; the opcode probe cannot see flags, so check the version.
  if (!kernel_at_least(6, 0)) return "kernel older than 6.0 (no multishot recvmsg)";
  io_uring ring{};
  if (const int rc = io_uring_queue_init(4, &ring, 0); rc < 0) {
    return errno_text("io_uring_queue_init", rc);
  }
  std::string reason;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring); probe == nullptr) {
    reason = "io_uring opcode probe failed";
  } else {
    for (const int op : {IORING_OP_RECVMSG, IORING_OP_SENDMSG, IORING_OP_READ,
                         IORING_OP_ASYNC_CANCEL}) {
      if (!io_uring_opcode_supported(probe, op)) reason = "io_uring lacks a needed opcode";
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  return reason;
}

}  // namespace volley::engine
#endif  // __linux__
