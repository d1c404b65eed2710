// Config → the engine's LoopConfig and the Host's HostConfig, with the validation that makes a
// bad Config a one-line error instead of a broken server.
#pragma once

#include <string>

#include "host.hpp"
#include "volley/engine/loop.hpp"
#include "volley/server/server.hpp"

namespace volley::server {

// The largest datagram the server's loop takes (larger ones are counted truncated and dropped):
// a 1.3.17 sender in CRC mode exceeds its MTU (at most 4096) by 4 bytes; some headroom beyond.
inline constexpr std::size_t kMaxReceivedDatagram = protocol::kMaxMtu + 64;

struct Settings {
  engine::LoopConfig loop;
  HostConfig host;
};

// Fills `out` from `config`; a non-empty result is a one-line error.
std::string make_settings(const Config& config, Settings& out);

}  // namespace volley::server
