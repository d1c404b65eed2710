// The one internal header that includes OS socket headers, and the small socket API the loop
// needs (create/bind/configure/close one UDP socket). Implemented per OS in socket_posix.cpp
// and socket_win.cpp so no other shared file carries #ifdefs for sockets.
#pragma once

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <cstdint>
#include <string>

#include "volley/engine/loop.hpp"
#include "volley/engine/udp.hpp"

namespace volley::engine::os {

#ifdef _WIN32
using SocketHandle = SOCKET;
inline constexpr SocketHandle kInvalidSocket = INVALID_SOCKET;
#else
using SocketHandle = int;
inline constexpr SocketHandle kInvalidSocket = -1;
#endif

struct OpenedSocket {
  SocketHandle handle = kInvalidSocket;
  Address local;
  SocketBuffers buffers;
};

// Creates a UDP socket bound to `bind` (IPv6 sockets are dual-stack), non-blocking on POSIX,
// with the requested buffer sizes (0 = OS default); reads back what the kernel granted.
bool open_udp_socket(const Address& bind, int recv_buffer_bytes, int send_buffer_bytes,
                     OpenedSocket* out, std::string* error);
void close_socket(SocketHandle handle) noexcept;
// Text for the last socket error on this thread (errno or WSAGetLastError).
std::string last_error_text(const char* what);
std::string error_text(const char* what, int code);

}  // namespace volley::engine::os
