// Winsock socket creation for the loop's one UDP socket: an overlapped socket (the IOCP backend
// associates it with its port), dual-stack for IPv6 binds, buffer sizes requested and read back.
// WSAStartup is reference-counted by Winsock itself, so each socket takes and drops one reference.
#ifdef _WIN32
#include "os.hpp"

namespace volley::engine::os {

std::string error_text(const char* what, int code) {
  char text[256] = {};
  const DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                 nullptr, static_cast<DWORD>(code), 0, text, sizeof(text), nullptr);
  std::string message(text, n);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.pop_back();
  }
  return std::string(what) + ": error " + std::to_string(code) + " " + message;
}

std::string last_error_text(const char* what) { return error_text(what, WSAGetLastError()); }

void close_socket(SocketHandle handle) noexcept {
  if (handle != kInvalidSocket) {
    ::closesocket(handle);
    WSACleanup();
  }
}

namespace {

int read_int_option(SOCKET s, int name) {
  int value = 0;
  int len = sizeof(value);
  if (::getsockopt(s, SOL_SOCKET, name, reinterpret_cast<char*>(&value), &len) != 0) return -1;
  return value;
}

}  // namespace

bool open_udp_socket(const Address& bind, int recv_buffer_bytes, int send_buffer_bytes,
                     OpenedSocket* out, std::string* error) {
  if (bind.family() == AddressFamily::kNone) {
    *error = "bind address is empty";
    return false;
  }
  WSADATA data;
  if (const int rc = WSAStartup(MAKEWORD(2, 2), &data); rc != 0) {
    *error = error_text("WSAStartup", rc);
    return false;
  }
  const int family = bind.family() == AddressFamily::kIpv6 ? AF_INET6 : AF_INET;
  SOCKET s = WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) {
    *error = last_error_text("WSASocket");
    WSACleanup();
    return false;
  }
  auto fail = [&](const std::string& what) {
    *error = last_error_text(what.c_str());
    close_socket(s);
    return false;
  };
  if (family == AF_INET6) {
    DWORD off = 0;
    if (::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&off),
                     sizeof(off)) != 0) {
      return fail("setsockopt(IPV6_V6ONLY)");
    }
  }
  if (recv_buffer_bytes > 0 &&
      ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&recv_buffer_bytes),
                   sizeof(int)) != 0) {
    return fail("setsockopt(SO_RCVBUF)");
  }
  if (send_buffer_bytes > 0 &&
      ::setsockopt(s, SOL_SOCKET, SO_SNDBUF, reinterpret_cast<const char*>(&send_buffer_bytes),
                   sizeof(int)) != 0) {
    return fail("setsockopt(SO_SNDBUF)");
  }
  if (::bind(s, static_cast<const sockaddr*>(bind.sockaddr()), static_cast<int>(bind.size())) != 0) {
    return fail("bind " + bind.to_string());
  }
  sockaddr_storage local{};
  int local_len = sizeof(local);
  if (::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return fail("getsockname");
  }
  out->handle = s;
  out->local = Address::from_sockaddr(&local, static_cast<std::size_t>(local_len));
  out->buffers.recv_bytes = read_int_option(s, SO_RCVBUF);
  out->buffers.send_bytes = read_int_option(s, SO_SNDBUF);
  return true;
}

}  // namespace volley::engine::os
#endif  // _WIN32
