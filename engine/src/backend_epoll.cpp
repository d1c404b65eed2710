// epoll datapath: readiness on a non-blocking socket turned into completion batches with
// recvmmsg/sendmmsg (up to params.batch datagrams per system call) and an eventfd for wake-ups.
// Sends complete synchronously inside submit(); EAGAIN arms EPOLLOUT and reports on_writable().
// Runs of datagrams to one destination go out as UDP GSO messages (see send_batch.hpp).
#ifdef __linux__
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "send_batch.hpp"

namespace volley::engine {
namespace {

// Bounded so a flood cannot starve timers and posted tasks: after this many full batches the
// loop gets control back; level-triggered epoll reports the rest on the next wait.
constexpr int kMaxRecvRoundsPerWait = 16;
constexpr std::uint64_t kWakeTag = 1;
constexpr std::uint64_t kSocketTag = 2;

class EpollDatapath final : public Datapath {
 public:
  explicit EpollDatapath(const DatapathParams& params) : p_(params), gso_(params.udp_gso) {}
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
    ev.data.u64 = kSocketTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p_.socket, &ev) != 0) return fail(error, "epoll_ctl");
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
    }
    return true;
  }

  Backend kind() const noexcept override { return Backend::kEpoll; }

  std::size_t submit(std::span<SendOp* const> ops) override {
    if (write_blocked_) return 0;
    std::size_t taken = 0;
    while (taken < ops.size()) {
      // One sendmmsg: up to `batch` messages over up to `batch` datagrams (iovecs).
      std::size_t messages = 0;
      std::size_t covered = 0;
      while (taken + covered < ops.size() && messages < p_.batch && covered < p_.batch) {
        const auto rest = ops.subspan(taken + covered);
        const std::size_t run = gso_ ? gso_run(rest, p_.batch - covered) : 1;
        fill_message(messages, rest.first(run), covered);
        msg_ops_[messages++] = run;
        covered += run;
      }
      const int sent = sendmmsg(p_.socket, send_msgs_.data(), static_cast<unsigned>(messages), 0);
      add(Counter::kSyscalls, 1);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          arm_writable(true);
          return taken;
        }
        if (errno == EINTR) continue;
        if (msg_ops_[0] > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
          gso_ = false;  // the route's device cannot segment: send datagram by datagram
          continue;
        }
        // The first message was refused (EMSGSIZE, EPERM, unreachable...): report its
        // datagrams and carry on with the rest.
        for (std::size_t i = 0; i < msg_ops_[0]; ++i) p_.sink->on_sent(ops[taken++], SendCompletion::kFailed);
        continue;
      }
      for (int m = 0; m < sent; ++m) {
        add(Counter::kSubmissions, 1);
        for (std::size_t i = 0; i < msg_ops_[m]; ++i) p_.sink->on_sent(ops[taken++], SendCompletion::kSent);
      }
    }
    return taken;
  }

  void wait(std::int64_t timeout_us) override {
    // epoll_wait has millisecond resolution; rounding up wakes timers late, never early.
    const int timeout_ms =
        timeout_us < 0 ? -1 : static_cast<int>(std::min<std::int64_t>((timeout_us + 999) / 1000, 1 << 30));
    epoll_event events[4];
    const int n = epoll_wait(epoll_fd_, events, 4, timeout_ms);
    add(Counter::kSyscalls, 1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) {
        std::uint64_t value;
        [[maybe_unused]] const auto r = read(wake_fd_, &value, sizeof(value));
        add(Counter::kSyscalls, 1);
        p_.sink->on_wake();
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        arm_writable(false);
        p_.sink->on_writable();
      }
      if (events[i].events & (EPOLLIN | EPOLLERR)) receive();
    }
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

  void arm_writable(bool on) {
    if (write_blocked_ == on) return;
    write_blocked_ = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = kSocketTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p_.socket, &ev);
    add(Counter::kSyscalls, 1);
  }

  void receive() {
    const std::size_t n = p_.batch;
    for (int round = 0; round < kMaxRecvRoundsPerWait; ++round) {
      // Only headers the previous call may have written need resetting: the `got` it filled
      // plus the one it stopped at. The rest are as set up. At a few datagrams per wait this
      // saves rewriting the whole batch (64 B a header) every time.
      for (std::size_t i = 0; i < std::min(recv_dirty_, n); ++i) {
        recv_msgs_[i] = {};
        recv_msgs_[i].msg_hdr.msg_name = &recv_names_[i];
        recv_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        recv_msgs_[i].msg_hdr.msg_iov = &recv_iov_[i];
        recv_msgs_[i].msg_hdr.msg_iovlen = 1;
      }
      const int got = recvmmsg(p_.socket, recv_msgs_.data(), static_cast<unsigned>(n), MSG_DONTWAIT,
                               nullptr);
      recv_dirty_ = got > 0 ? static_cast<std::size_t>(got) + 1 : 1;
      add(Counter::kSyscalls, 1);
      if (got <= 0) {
        if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          add(Counter::kRecvErrors, 1);
        }
        return;
      }
      std::size_t count = 0;
      for (int i = 0; i < got; ++i) {
        const msghdr& h = recv_msgs_[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) {
          add(Counter::kTruncated, 1);
          continue;
        }
        views_[count++] = DatagramView{
            Bytes(static_cast<const std::uint8_t*>(recv_iov_[i].iov_base), recv_msgs_[i].msg_len),
            Address::from_sockaddr(&recv_names_[i], h.msg_namelen)};
      }
      if (count > 0) p_.sink->on_datagrams(std::span<const DatagramView>(views_.data(), count));
      if (static_cast<std::size_t>(got) < n) return;
    }
  }

  DatapathParams p_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool write_blocked_ = false;
  std::vector<std::uint8_t> recv_bytes_;
  std::vector<iovec> recv_iov_;
  std::vector<sockaddr_storage> recv_names_;
  std::vector<mmsghdr> recv_msgs_;
  std::size_t recv_dirty_ = SIZE_MAX;  // leading recv_msgs_ to reset before the next recvmmsg
  std::vector<DatagramView> views_;
  struct GsoControl {
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(std::uint16_t))];
};
  std::vector<iovec> send_iov_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<GsoControl> send_cmsgs_;
  std::vector<std::size_t> msg_ops_;  // datagrams carried by each message of the current call
  bool gso_ = true;
};

}  // namespace

std::unique_ptr<Datapath> create_epoll_datapath(const DatapathParams& params, std::string* error) {
  auto datapath = std::make_unique<EpollDatapath>(params);
  if (!datapath->init(error)) return nullptr;
  return datapath;
}

}  // namespace volley::engine
#endif  // __linux__
