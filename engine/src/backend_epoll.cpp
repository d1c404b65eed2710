// epoll datapath: readiness on non-blocking sockets (one epoll set, each socket's event data
// its SocketId) turned into completion batches with recvmmsg/sendmmsg (up to params.batch
// datagrams per batch, gathered across the sockets that were ready) and an eventfd for
// wake-ups. Sends complete synchronously inside submit(); EAGAIN arms EPOLLOUT on that socket
// and holds every send until it reports writable (loopback and LAN sockets rarely fill).
// Runs of datagrams to one destination go out as UDP GSO messages (see send_batch.hpp).
//
// Coalesced wake-ups (LoopConfig::coalesce_us): epoll has no "wait for N events or T", so while
// datagrams flow (NapRule decides) the wait first naps, on the wake eventfd alone, until the cap
// has passed since the latest delivery (NapRule::nap_us), never past the caller's deadline.
// Datagrams queue in the socket meanwhile and a non-blocking epoll_wait then returns them
// together: one wake-up, one recvmmsg and one sendmmsg of replies per nap instead of per
// datagram. post()/stop() end a nap at once. A nap that finds nothing waiting is followed by the
// ordinary wait. A datagram that arrives while the loop is blocked in epoll_wait is handled at
// once; one that arrives while a pass runs or during a nap is taken in no later than the cap
// after the delivery before it, so the wait a nap adds is at most the cap (handling the larger
// batch it gathered comes on top), and only while traffic flows; a quiet loop sleeps until its
// next timer.
#ifdef __linux__
#include <netinet/udp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "nap_rule.hpp"
#include "send_batch.hpp"
#include "volley/engine/clock.hpp"

namespace volley::engine {
namespace {

// Bounded so a flood cannot starve timers and posted tasks: after this many full batches the
// loop gets control back; level-triggered epoll reports the rest on the next wait.
constexpr int kMaxRecvRoundsPerWait = 16;
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};  // sockets' event data is their SocketId
constexpr int kMaxEvents = 64;

// The calls of every loop pass, made directly: their libc wrappers are thread
// cancellation points, and the cancellation bookkeeping around each cost more instructions
// than the rest of the wrapper (callgrind). The loop thread is never cancelled. Same results
// and errno as the wrappers (epoll_wait is epoll_pwait without a mask on every architecture).
int sys_epoll_wait(int epfd, epoll_event* events, int max, int timeout_ms) noexcept {
  return static_cast<int>(::syscall(SYS_epoll_pwait, epfd, events, max, timeout_ms, nullptr, 0));
}
int sys_recvmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) noexcept {
  return static_cast<int>(::syscall(SYS_recvmmsg, fd, msgs, n, flags, nullptr));
}
int sys_sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) noexcept {
  return static_cast<int>(::syscall(SYS_sendmmsg, fd, msgs, n, flags));
}
// The coalescing nap, once per pass while datagrams flow. The kernel writes the time left back
// into `timeout` (the wrapper hides that with a copy).
int sys_ppoll(pollfd* fds, nfds_t n, timespec* timeout) noexcept {
  return static_cast<int>(::syscall(SYS_ppoll, fds, n, timeout, nullptr, 0));
}

struct SocketState {
  int fd = -1;
  SocketId id = 0;
  bool in_use = false;
  bool closing = false;
};

class EpollDatapath final : public Datapath {
 public:
  explicit EpollDatapath(const DatapathParams& params) : p_(params), gso_(params.udp_gso), naps_(params.coalesce_us) {}
  ~EpollDatapath() override { shutdown(); }

  bool init(std::string* error) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return fail(error, "epoll_create1");
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return fail(error, "eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return fail(error, "epoll_ctl");
    if (!add_socket(kPrimarySocket, p_.socket, error)) return false;
    const std::size_t n = p_.batch;
    recv_bytes_.resize(n * p_.max_datagram_bytes);
    recv_iov_.resize(n);
    recv_names_.resize(n);
    recv_msgs_.resize(n);
    views_.resize(n);
    send_iov_.resize(n);
    send_msgs_.resize(n);
    send_cmsgs_.resize(n);
    msg_ops_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      recv_iov_[i].iov_base = recv_bytes_.data() + i * p_.max_datagram_bytes;
      recv_iov_[i].iov_len = p_.max_datagram_bytes;
      msghdr& h = recv_msgs_[i].msg_hdr;
      h.msg_name = &recv_names_[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
    }
    return true;
  }

  Backend kind() const noexcept override { return Backend::kEpoll; }

  bool add_socket(SocketId id, os::SocketHandle handle, std::string* error) override {
    const std::uint32_t slot = socket_slot(id);
    if (slot >= sockets_.size()) sockets_.resize(slot + 1);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, handle, &ev) != 0) return fail(error, "epoll_ctl");
    add(Counter::kSyscalls, 1);
    sockets_[slot] = SocketState{handle, id, true, false};
    return true;
  }

  void remove_socket(SocketId id) override {
    const std::optional<std::uint32_t> open = open_slot(sockets_, id);
    if (!open) return;
    const std::uint32_t slot = *open;
    SocketState& s = sockets_[slot];
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
    add(Counter::kSyscalls, 1);
    s.closing = true;
    closing_.push_back(slot);
    if (write_blocked_ && blocked_slot_ == slot) {
      // Nothing will report this socket writable any more; let the other sockets' sends go.
      write_blocked_ = false;
      p_.sink->on_writable();
    }
  }

  std::size_t submit(std::span<SendOp* const> ops) override {
    if (write_blocked_) return 0;
    std::size_t taken = 0;
    while (taken < ops.size()) {
      // One sendmmsg: up to `batch` messages over up to `batch` datagrams (iovecs).
      std::size_t messages = 0;
      std::size_t covered = 0;
      // One system call serves one socket: the messages end where the socket changes.
      const std::uint32_t slot = ops[taken]->socket_slot;
      while (taken + covered < ops.size() && messages < p_.batch && covered < p_.batch &&
             ops[taken + covered]->socket_slot == slot) {
        const auto rest = ops.subspan(taken + covered);
        const std::size_t run = gso_ ? gso_run(rest, p_.batch - covered) : 1;
        fill_message(messages, rest.first(run), covered);
        msg_ops_[messages++] = run;
        covered += run;
      }
      const SocketState& socket = sockets_[slot];
      if (!socket.in_use || socket.closing) {
        p_.sink->on_sent(ops.subspan(taken, covered), SendCompletion::kCancelled);
        taken += covered;
        continue;
      }
      const int sent = sys_sendmmsg(socket.fd, send_msgs_.data(), static_cast<unsigned>(messages), 0);
      add(Counter::kSyscalls, 1);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          arm_writable(slot, true);
          return taken;
        }
        if (errno == EINTR) continue;
        if (msg_ops_[0] > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
          gso_ = false;  // the route's device cannot segment: send datagram by datagram
          continue;
        }
        // The first message was refused (EMSGSIZE, EPERM, unreachable...): report its
        // datagrams and carry on with the rest.
        p_.sink->on_sent(ops.subspan(taken, msg_ops_[0]), SendCompletion::kFailed);
        taken += msg_ops_[0];
        continue;
      }
      std::size_t done = 0;
      for (int m = 0; m < sent; ++m) done += msg_ops_[m];
      add(Counter::kSubmissions, static_cast<std::uint64_t>(sent));
      p_.sink->on_sent(ops.subspan(taken, done), SendCompletion::kSent);
      taken += done;
    }
    return taken;
  }

  void wait(std::int64_t timeout_us) override {
    epoll_event events[kMaxEvents];
    int n = -1;
    NapRule::Nap napped = NapRule::Nap::kNone;
    const bool may_nap = naps_.napping() && timeout_us != 0;
    const TimePoint start = may_nap ? now() : 0;
    const std::int64_t length =
        may_nap ? naps_.nap_us(start, timeout_us < 0 ? std::int64_t{p_.coalesce_us} : timeout_us) : 0;
    if (length > 0) {
      timeout_us = nap(timeout_us, length);
      naps_.nap_took(length, now() - start);
      // What the nap gathered, taken without blocking.
      n = sys_epoll_wait(epoll_fd_, events, kMaxEvents, 0);
      add(Counter::kSyscalls, 1);
      napped = n != 0 ? NapRule::Nap::kGathered : NapRule::Nap::kEmpty;
      if (n == 0 && timeout_us != 0) n = -1;  // wait as if there had been no nap
    }
    if (n < 0) {
      // epoll_wait has millisecond resolution; rounding up wakes timers late, never early.
      const int timeout_ms =
          timeout_us < 0 ? -1 : static_cast<int>(std::min<std::int64_t>((timeout_us + 999) / 1000, 1 << 30));
      n = sys_epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
      add(Counter::kSyscalls, 1);
    }
    delivered_ = 0;
    round_limited_ = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        std::uint64_t value;
        [[maybe_unused]] const auto r = read(wake_fd_, &value, sizeof(value));
        add(Counter::kSyscalls, 1);
        p_.sink->on_wake();
        continue;
      }
      // A handler called while this batch is delivered may have removed a later socket.
      const std::optional<std::uint32_t> open = open_slot(sockets_, static_cast<SocketId>(events[i].data.u64));
      if (!open) continue;
      const std::uint32_t slot = *open;
      if (events[i].events & EPOLLOUT) {
        arm_writable(slot, false);
        p_.sink->on_writable();
      }
      if (events[i].events & (EPOLLIN | EPOLLERR)) receive(slot);
    }
    deliver();
    release_closed();
    if (naps_.after_wait(delivered_, delivered_at_, round_limited_, napped)) add(Counter::kNapsEmpty, 1);
  }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto r = write(wake_fd_, &one, sizeof(one));
  }

  void shutdown() override {
    // Nothing is ever left with the kernel: sends complete inside submit().
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    epoll_fd_ = wake_fd_ = -1;
  }

  std::size_t kernel_ops() const noexcept override { return 0; }

  // Removed sockets are released one wait() later: never from inside remove_socket(), and never
  // while a delivered batch may still point into their receive buffers.
  void release_closed() {
    for (const std::uint32_t slot : closing_) {
      const SocketId id = sockets_[slot].id;
      sockets_[slot] = SocketState{};
      p_.sink->on_socket_released(id);
    }
    closing_.clear();
  }

 private:
  bool fail(std::string* error, const char* what) {
    *error = os::last_error_text(what);
    return false;
  }
  void add(Counter c, std::uint64_t n) noexcept { (*p_.stats)[c] += n; }

  // Message `m` carries `run` datagrams whose iovecs start at send_iov_[first_iov]; more than
  // one means a GSO message segmented by the kernel at the first datagram's size.
  void fill_message(std::size_t m, std::span<SendOp* const> run, std::size_t first_iov) {
    for (std::size_t i = 0; i < run.size(); ++i) send_iov_[first_iov + i] = {run[i]->data, run[i]->size};
    msghdr& h = send_msgs_[m].msg_hdr;
    h = {};
    h.msg_name = const_cast<void*>(run[0]->to.sockaddr());
    h.msg_namelen = static_cast<socklen_t>(run[0]->to.size());
    h.msg_iov = &send_iov_[first_iov];
    h.msg_iovlen = run.size();
    if (run.size() > 1) {
      h.msg_control = &send_cmsgs_[m];
      h.msg_controllen = sizeof(GsoControl);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(run[0]->size);
      std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    }
  }

  void arm_writable(std::uint32_t slot, bool on) {
    if (write_blocked_ == on && (!on || blocked_slot_ == slot)) return;
    if (on && write_blocked_) arm_writable(blocked_slot_, false);
    write_blocked_ = on;
    blocked_slot_ = slot;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = sockets_[slot].id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, sockets_[slot].fd, &ev);
    add(Counter::kSyscalls, 1);
  }

  // Sleeps `length` (NapRule::nap_us: within the cap, never past timeout_us) unless woken;
  // returns what is left of the timeout for the epoll_wait that follows.
  std::int64_t nap(std::int64_t timeout_us, std::int64_t length) {
    pollfd wake{wake_fd_, POLLIN, 0};
    timespec ts{static_cast<time_t>(length / 1'000'000), static_cast<long>(length % 1'000'000) * 1000};
    sys_ppoll(&wake, 1, &ts);
    add(Counter::kSyscalls, 1);
    add(Counter::kNaps, 1);
    return timeout_us < 0 ? -1 : timeout_us - length;
  }

  void deliver() {
    delivered_ += filled_;
    if (filled_ > 0) {
      delivered_at_ = now();
      p_.sink->on_datagrams(std::span<const DatagramView>(views_.data(), filled_), delivered_at_);
    }
    filled_ = 0;
    received_ = 0;
  }

  // Reads what `slot` holds into the free tail of the batch (the batch is gathered across the
  // sockets that were ready and delivered when full or when the wait is done).
  void receive(std::uint32_t slot) {
    const std::size_t n = p_.batch;
    for (int round = 0; round < kMaxRecvRoundsPerWait; ++round) {
      if (received_ == n) deliver();
      // Looked up again after every delivery: the handler may have added sockets (moving the
      // table) or removed this one.
      const SocketState& socket = sockets_[slot];
      if (socket.closing) return;
      const std::size_t first = received_;
      // The kernel writes back msg_len, msg_flags, msg_controllen (0 again: no control buffer)
      // and msg_namelen, of which only msg_namelen is also read as input. So only the headers a
      // call may have written (the ones it filled plus the one it stopped at, all below
      // clean_from_) get it restored; the rest of each header stays as init() set it.
      for (std::size_t i = first; i < std::min(clean_from_, n); ++i) {
        recv_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      const int got = sys_recvmmsg(socket.fd, recv_msgs_.data() + first, static_cast<unsigned>(n - first),
                               MSG_DONTWAIT);
      clean_from_ = first + (got > 0 ? static_cast<std::size_t>(got) + 1 : 1);
      add(Counter::kSyscalls, 1);
      if (got <= 0) {
        if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          add(Counter::kRecvErrors, 1);
        }
        return;
      }
      received_ = first + static_cast<std::size_t>(got);
      for (std::size_t i = first; i < received_; ++i) {
        const msghdr& h = recv_msgs_[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) {
          add(Counter::kTruncated, 1);
          continue;
        }
        views_[filled_++] = DatagramView{
            Bytes(static_cast<const std::uint8_t*>(recv_iov_[i].iov_base), recv_msgs_[i].msg_len),
            Address::from_sockaddr(&recv_names_[i], h.msg_namelen), socket.id};
      }
      if (received_ < n) return;  // drained
    }
    round_limited_ = true;
  }

  DatapathParams p_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool write_blocked_ = false;
  std::vector<std::uint8_t> recv_bytes_;
  std::vector<iovec> recv_iov_;
  std::vector<sockaddr_storage> recv_names_;
  std::vector<mmsghdr> recv_msgs_;
  std::size_t clean_from_ = SIZE_MAX;  // recv_msgs_ from here on need no reset
  std::size_t received_ = 0;  // recv_msgs_ entries used in the current batch
  std::size_t filled_ = 0;    // views_ entries (received minus truncated)
  std::vector<DatagramView> views_;
  std::vector<SocketState> sockets_;  // by slot
  std::vector<std::uint32_t> closing_;
  std::uint32_t blocked_slot_ = 0;
  struct GsoControl {
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(std::uint16_t))];
};
  std::vector<iovec> send_iov_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<GsoControl> send_cmsgs_;
  std::vector<std::size_t> msg_ops_;  // datagrams carried by each message of the current call
  bool gso_ = true;
  // Coalescing state (see nap() and NapRule).
  NapRule naps_;
  bool round_limited_ = false;
  std::size_t delivered_ = 0;  // datagrams delivered by the current wait
  TimePoint delivered_at_ = 0;  // the clock at the latest delivery (NapRule reads it)
};

}  // namespace

std::unique_ptr<Datapath> create_epoll_datapath(const DatapathParams& params, std::string* error) {
  auto datapath = std::make_unique<EpollDatapath>(params);
  if (!datapath->init(error)) return nullptr;
  return datapath;
}

}  // namespace volley::engine
#endif  // __linux__
