// POSIX socket creation and options for the loop's one UDP socket: non-blocking, dual-stack for
// IPv6 binds, buffer sizes requested (FORCE first, which needs CAP_NET_ADMIN, then the plain
// option) and then read back (Linux doubles the request and, without FORCE, clamps it to
// rmem_max/wmem_max, so the granted size is never assumed).
#ifndef _WIN32
#include "os.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace volley::engine::os {

std::string error_text(const char* what, int code) {
  return std::string(what) + ": " + std::strerror(code);
}

std::string last_error_text(const char* what) { return error_text(what, errno); }

void close_socket(SocketHandle handle) noexcept {
  if (handle != kInvalidSocket) ::close(handle);
}

namespace {

int read_int_option(int fd, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0) return -1;
  return value;
}

// Plain SO_RCVBUF/SO_SNDBUF are silently capped at net.core.rmem_max/wmem_max (208 KiB by
// default, too small for a server's connect burst); the FORCE variants bypass the cap but need
// CAP_NET_ADMIN. Try FORCE, fall back to the capped option; callers read back what was granted.
struct BufferOptions {
  int force;
  int plain;
};
#ifdef SO_RCVBUFFORCE
constexpr BufferOptions kRecvBufferOptions{SO_RCVBUFFORCE, SO_RCVBUF};
constexpr BufferOptions kSendBufferOptions{SO_SNDBUFFORCE, SO_SNDBUF};
#else
constexpr BufferOptions kRecvBufferOptions{-1, SO_RCVBUF};
constexpr BufferOptions kSendBufferOptions{-1, SO_SNDBUF};
#endif

bool set_buffer(int fd, BufferOptions options, int bytes) {
  if (options.force >= 0 && ::setsockopt(fd, SOL_SOCKET, options.force, &bytes, sizeof(int)) == 0) {
    return true;
  }
  return ::setsockopt(fd, SOL_SOCKET, options.plain, &bytes, sizeof(int)) == 0;
}

}  // namespace

bool open_udp_socket(const Address& bind, int recv_buffer_bytes, int send_buffer_bytes,
                     OpenedSocket* out, std::string* error) {
  const int family = bind.family() == AddressFamily::kIpv6 ? AF_INET6 : AF_INET;
  if (bind.family() == AddressFamily::kNone) {
    *error = "bind address is empty";
    return false;
  }
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    *error = last_error_text("socket");
    return false;
  }
  auto fail = [&](const char* what) {
    *error = last_error_text(what);
    ::close(fd);
    return false;
  };
  if (family == AF_INET6) {
    const int off = 0;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) {
      return fail("setsockopt(IPV6_V6ONLY)");
    }
  }
  if (recv_buffer_bytes > 0 && !set_buffer(fd, kRecvBufferOptions, recv_buffer_bytes)) {
    return fail("setsockopt(SO_RCVBUF)");
  }
  if (send_buffer_bytes > 0 && !set_buffer(fd, kSendBufferOptions, send_buffer_bytes)) {
    return fail("setsockopt(SO_SNDBUF)");
  }
  if (::bind(fd, static_cast<const sockaddr*>(bind.sockaddr()),
             static_cast<socklen_t>(bind.size())) != 0) {
    return fail(("bind " + bind.to_string()).c_str());
  }
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return fail("getsockname");
  }
  out->handle = fd;
  out->local = Address::from_sockaddr(&local, local_len);
  out->buffers.recv_bytes = read_int_option(fd, SO_RCVBUF);
  out->buffers.send_bytes = read_int_option(fd, SO_SNDBUF);
  return true;
}

}  // namespace volley::engine::os
#endif  // !_WIN32
