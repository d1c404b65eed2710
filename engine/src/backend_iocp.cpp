// IOCP datapath (Windows): several overlapped WSARecvFrom kept posted per socket (the primary
// socket up to recv_buffers, each extra socket kExtraSocketReceives), completions dequeued in
// batches with GetQueuedCompletionStatusEx, overlapped WSASendTo, PostQueuedCompletionStatus for
// wake-ups. FILE_SKIP_COMPLETION_PORT_ON_SUCCESS means an operation that finishes at once is
// handled inline (no packet is queued), and SIO_UDP_CONNRESET is off so an ICMP port-unreachable
// from one client cannot fail the receives meant for all the others.
#ifdef _WIN32
#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "backend.hpp"

#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

namespace volley::engine {
namespace {

constexpr ULONG_PTR kSocketKey = 1;
constexpr ULONG_PTR kWakeKey = 2;
constexpr std::size_t kMaxReceives = 256;
// An extra socket (a proxy's upstream per client) carries one peer's traffic: two receives
// keep it busy while one is delivered, at 2 × max_datagram_bytes of memory per socket.
constexpr std::size_t kExtraSocketReceives = 2;
constexpr std::int64_t kShutdownLimitUs = 2'000'000;
// NTSTATUS values reported in OVERLAPPED::Internal.
constexpr ULONG_PTR kStatusBufferOverflow = 0x80000005;
constexpr ULONG_PTR kStatusCancelled = 0xC0000120;

enum class OpKind : std::uint8_t { kRecv, kSend };

struct OpHeader {
  OVERLAPPED ov;  // first, so a completion's OVERLAPPED* is the op itself
  OpKind kind;
};

struct RecvOp {
  OpHeader header;
  std::uint32_t slot;
  WSABUF buf;
  sockaddr_storage from;
  INT from_len;
  DWORD flags;
  DWORD immediate_bytes;
};

struct SendScratch {
  OpHeader header;
  WSABUF buf;
  SendOp* op;
};

struct SocketState {
  SOCKET handle = INVALID_SOCKET;
  SocketId id = 0;
  std::unique_ptr<RecvOp[]> ops;
  std::unique_ptr<std::uint8_t[]> bytes;
  std::uint32_t recvs_in_flight = 0;
  std::uint32_t sends_in_flight = 0;
  bool in_use = false;
  bool closing = false;  // remove_socket() called; released once nothing is in flight
};

class IocpDatapath final : public Datapath {
 public:
  explicit IocpDatapath(const DatapathParams& params) : p_(params) {}
  ~IocpDatapath() override { shutdown(); }

  bool init(std::string* error) {
    iocp_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    if (iocp_ == nullptr) return fail(error, "CreateIoCompletionPort");
    entries_.resize(p_.batch);
    views_.reserve(p_.batch);
    view_ops_.reserve(p_.batch);
    return add_socket(kPrimarySocket, p_.socket, error);
  }

  bool add_socket(SocketId id, os::SocketHandle handle, std::string* error) override {
    const auto h = reinterpret_cast<HANDLE>(handle);
    if (CreateIoCompletionPort(h, iocp_, kSocketKey, 0) == nullptr) {
      return fail(error, "CreateIoCompletionPort(socket)");
    }
    if (!SetFileCompletionNotificationModes(
            h, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE)) {
      return fail(error, "SetFileCompletionNotificationModes");
    }
    BOOL off = FALSE;
    DWORD returned = 0;
    if (WSAIoctl(handle, SIO_UDP_CONNRESET, &off, sizeof(off), nullptr, 0, &returned, nullptr,
                 nullptr) != 0) {
      return fail(error, "WSAIoctl(SIO_UDP_CONNRESET)");
    }
    const std::uint32_t slot = socket_slot(id);
    if (slot >= sockets_.size()) sockets_.resize(slot + 1);
    const std::size_t depth = id == kPrimarySocket
                                  ? std::clamp<std::size_t>(p_.recv_buffers, 1, kMaxReceives)
                                  : std::clamp<std::size_t>(p_.recv_buffers, 1, kExtraSocketReceives);
    SocketState& s = sockets_[slot];
    s = SocketState{};
    s.handle = handle;
    s.id = id;
    s.in_use = true;
    s.ops = std::make_unique<RecvOp[]>(depth);
    s.bytes = std::make_unique_for_overwrite<std::uint8_t[]>(depth * p_.max_datagram_bytes);
    RecvOp* ops = s.ops.get();
    for (std::size_t i = 0; i < depth; ++i) {
      ops[i].header.kind = OpKind::kRecv;
      ops[i].slot = slot;
      ops[i].buf.buf = reinterpret_cast<CHAR*>(s.bytes.get() + i * p_.max_datagram_bytes);
      ops[i].buf.len = static_cast<ULONG>(p_.max_datagram_bytes);
    }
    for (std::size_t i = 0; i < depth; ++i) post_recv(&ops[i]);
    return true;
  }

  void remove_socket(SocketId id) override {
    const std::optional<std::uint32_t> open = open_slot(sockets_, id);
    if (!open) return;
    const std::uint32_t slot = *open;
    SocketState& s = sockets_[slot];
    s.closing = true;
    auto of_slot = [slot](const RecvOp* op) { return op->slot == slot; };
    std::erase_if(ready_, of_slot);
    std::erase_if(repost_, of_slot);
    CancelIoEx(reinterpret_cast<HANDLE>(s.handle), nullptr);
    add(Counter::kSyscalls, 1);
    closing_.push_back(slot);
  }

  Backend kind() const noexcept override { return Backend::kIocp; }

  std::size_t submit(std::span<SendOp* const> ops) override {
    std::size_t taken = 0;
    for (SendOp* op : ops) {
      static_assert(sizeof(SendScratch) <= sizeof(op->scratch));
      auto* s = new (op->scratch) SendScratch{};
      s->header.kind = OpKind::kSend;
      s->op = op;
      s->buf.buf = reinterpret_cast<CHAR*>(op->data);
      s->buf.len = op->size;
      SocketState& socket = sockets_[op->socket_slot];
      if (!socket.in_use || socket.closing) {
        p_.sink->on_sent({&op, 1}, SendCompletion::kCancelled);
        ++taken;
        continue;
      }
      const int rc = WSASendTo(socket.handle, &s->buf, 1, nullptr, 0,
                               static_cast<const sockaddr*>(op->to.sockaddr()),
                               static_cast<int>(op->to.size()), &s->header.ov, nullptr);
      add(Counter::kSyscalls, 1);
      if (rc == 0) {
        add(Counter::kSubmissions, 1);
        p_.sink->on_sent({&op, 1}, SendCompletion::kSent);  // completed inline: no packet will come
      } else if (const int err = WSAGetLastError(); err == WSA_IO_PENDING) {
        add(Counter::kSubmissions, 1);
        ++sends_in_flight_;
        ++socket.sends_in_flight;
      } else if (err == WSAEWOULDBLOCK || err == WSAENOBUFS) {
        send_blocked_ = true;  // retried on the next iteration, which wait() makes prompt
        break;
      } else {
        p_.sink->on_sent({&op, 1}, SendCompletion::kFailed);
      }
      ++taken;
    }
    return taken;
  }

  void wait(std::int64_t timeout_us) override {
    std::vector<RecvOp*> repost;
    repost.swap(repost_);
    for (RecvOp* op : repost) post_recv(op);
    DWORD timeout_ms = INFINITE;
    if (!ready_.empty()) {
      timeout_ms = 0;
    } else if (send_blocked_) {
      timeout_ms = 1;
    } else if (timeout_us >= 0) {
      timeout_ms = static_cast<DWORD>(std::min<std::int64_t>((timeout_us + 999) / 1000, 1 << 30));
    }
    send_blocked_ = false;
    ULONG count = 0;
    if (!GetQueuedCompletionStatusEx(iocp_, entries_.data(), static_cast<ULONG>(entries_.size()),
                                     &count, timeout_ms, FALSE)) {
      count = 0;  // WAIT_TIMEOUT
    }
    add(Counter::kSyscalls, 1);
    // Receives that completed inline while being re-posted go first: they are older.
    std::vector<RecvOp*> inline_done;
    inline_done.swap(ready_);
    for (RecvOp* op : inline_done) complete_recv(op, op->immediate_bytes, 0);
    for (ULONG i = 0; i < count; ++i) {
      const OVERLAPPED_ENTRY& e = entries_[i];
      if (e.lpCompletionKey == kWakeKey) {
        if (!shutting_down_) p_.sink->on_wake();
        continue;
      }
      auto* header = reinterpret_cast<OpHeader*>(e.lpOverlapped);
      const ULONG_PTR status = header->ov.Internal;
      if (header->kind == OpKind::kRecv) {
        auto* op = reinterpret_cast<RecvOp*>(header);
        --recvs_in_flight_;
        --sockets_[op->slot].recvs_in_flight;
        complete_recv(op, e.dwNumberOfBytesTransferred, status);
      } else {
        --sends_in_flight_;
        SendOp* op = reinterpret_cast<SendScratch*>(header)->op;
        --sockets_[op->socket_slot].sends_in_flight;
        p_.sink->on_sent({&op, 1}, status == 0                  ? SendCompletion::kSent
                             : status == kStatusCancelled ? SendCompletion::kCancelled
                                                          : SendCompletion::kFailed);
      }
    }
    deliver();
    release_closed();
  }

  void wake() noexcept override { PostQueuedCompletionStatus(iocp_, 0, kWakeKey, nullptr); }

  void shutdown() override {
    if (iocp_ == nullptr) return;
    if (!shutting_down_) {
      shutting_down_ = true;
      repost_.clear();
      ready_.clear();
      for (const SocketState& s : sockets_) {
        if (s.in_use) CancelIoEx(reinterpret_cast<HANDLE>(s.handle), nullptr);
      }
      const std::int64_t start = now();
      while (kernel_ops() > 0 && now() - start < kShutdownLimitUs) wait(10'000);
    }
    if (kernel_ops() > 0) {
      // Windows still owns buffers of ours: leaking them is the only safe choice.
      std::fprintf(stderr, "volley-engine: IOCP shutdown left %zu operations in flight\n",
                   kernel_ops());
      return;
    }
    CloseHandle(iocp_);
    iocp_ = nullptr;
  }

  std::size_t kernel_ops() const noexcept override { return recvs_in_flight_ + sends_in_flight_; }

 private:
  bool fail(std::string* error, const char* what) {
    *error = os::error_text(what, static_cast<int>(GetLastError()));
    return false;
  }
  void add(Counter c, std::uint64_t n) noexcept { (*p_.stats)[c] += n; }

  // Removed sockets go once Windows has handed back every operation on them, and never before
  // the end of a wait(): a delivered batch may point into their buffers until then.
  void release_closed() {
    for (std::size_t i = 0; i < closing_.size();) {
      SocketState& s = sockets_[closing_[i]];
      if (s.recvs_in_flight > 0 || s.sends_in_flight > 0) {
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

  void post_recv(RecvOp* op) {
    SocketState& s = sockets_[op->slot];
    if (shutting_down_ || s.closing) return;
    op->header.ov = {};
    op->from_len = sizeof(op->from);
    op->flags = 0;
    op->immediate_bytes = 0;
    const int rc = WSARecvFrom(s.handle, &op->buf, 1, &op->immediate_bytes, &op->flags,
                               reinterpret_cast<sockaddr*>(&op->from), &op->from_len,
                               &op->header.ov, nullptr);
    add(Counter::kSyscalls, 1);
    add(Counter::kSubmissions, 1);
    if (rc == 0) {
      ready_.push_back(op);  // completed inline; delivered by the next wait()
      return;
    }
    const int err = WSAGetLastError();
    if (err == WSA_IO_PENDING) {
      ++recvs_in_flight_;
      ++s.recvs_in_flight;
      return;
    }
    // The attempt consumed a datagram (truncated) or failed; either way the op is free again.
    add(err == WSAEMSGSIZE ? Counter::kTruncated : Counter::kRecvErrors, 1);
    repost_.push_back(op);
  }

  void complete_recv(RecvOp* op, DWORD bytes, ULONG_PTR status) {
    const SocketState& s = sockets_[op->slot];
    if (shutting_down_ || s.closing) return;
    if (status != 0) {
      if (status == kStatusBufferOverflow) {
        add(Counter::kTruncated, 1);
      } else if (status != kStatusCancelled) {
        add(Counter::kRecvErrors, 1);
      }
      repost_.push_back(op);
      return;
    }
    views_.push_back(DatagramView{
        Bytes(reinterpret_cast<const std::uint8_t*>(op->buf.buf), bytes),
        Address::from_sockaddr(&op->from, static_cast<std::size_t>(op->from_len)), s.id});
    view_ops_.push_back(op);
    if (views_.size() == p_.batch) deliver();
  }

  void deliver() {
    if (!views_.empty()) p_.sink->on_datagrams(views_, now());
    views_.clear();
    // Re-posted only now: the views pointed into these buffers until the handler returned.
    for (RecvOp* op : view_ops_) post_recv(op);
    view_ops_.clear();
  }

  DatapathParams p_;
  HANDLE iocp_ = nullptr;
  bool shutting_down_ = false;
  bool send_blocked_ = false;
  std::vector<SocketState> sockets_;  // by slot
  std::vector<std::uint32_t> closing_;
  std::vector<OVERLAPPED_ENTRY> entries_;
  std::vector<RecvOp*> ready_;   // completed inline, not yet delivered
  std::vector<RecvOp*> repost_;  // free, to be posted again at the next wait()
  std::vector<DatagramView> views_;
  std::vector<RecvOp*> view_ops_;
  std::size_t recvs_in_flight_ = 0;
  std::size_t sends_in_flight_ = 0;
};

}  // namespace

std::unique_ptr<Datapath> create_iocp_datapath(const DatapathParams& params, std::string* error) {
  auto datapath = std::make_unique<IocpDatapath>(params);
  if (!datapath->init(error)) return nullptr;
  return datapath;
}

}  // namespace volley::engine
#endif  // _WIN32
