// Helpers shared by the peer tests: hex vectors, byte spans, and small drivers for a
// client-role / server-role pair on the simulated network.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "sim/harness.hpp"
#include "support/seed.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::test {

inline std::vector<std::uint8_t> hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  int nibble = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (nibble < 0) nibble = v;
    else { out.push_back(static_cast<std::uint8_t>(nibble * 16 + v)); nibble = -1; }
  }
  return out;
}

inline std::string to_hex(protocol::Bytes bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) s += ' ';
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  return s;
}

inline protocol::Bytes bytes_of(const std::vector<std::uint8_t>& v) { return {v.data(), v.size()}; }

inline std::vector<std::uint8_t> pattern(std::size_t size, std::uint32_t salt) {
  std::vector<std::uint8_t> v(size);
  std::uint32_t x = salt * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return v;
}

// A datagram from the remote to `p`'s slot (its peer id and session), with `sent_time` in the
// header and then `commands` as they come, neither checksummed nor range-coded.
inline std::vector<std::uint8_t> datagram_to(const protocol::Peer& p, const std::vector<protocol::Command>& commands,
                                             std::optional<std::uint16_t> sent_time = 0x1234) {
  std::vector<std::uint8_t> out(70000);
  protocol::Header header;
  header.peer_id = p.incoming_peer_id();
  header.session = p.incoming_session_id() & 3;
  header.sent_time = sent_time;
  std::size_t n = protocol::encode_header(header, false, out);
  for (const auto& c : commands) n += protocol::encode_command(c, protocol::MutableBytes(out).subspan(n));
  out.resize(n);
  return out;
}

// A connected pair (or a failure reported through doctest).
inline bool connect_pair(sim::Harness& h, std::uint32_t channels = 2, std::uint32_t data = 42,
                         sim::TimePoint within = 40 * sim::kSecond) {
  h.connect(channels, data);
  return h.drive_until(
      [&] {
        return h.client().peer.state() == protocol::PeerState::kConnected &&
               h.server().peer.state() == protocol::PeerState::kConnected;
      },
      within);
}

inline std::vector<protocol::PeerEvent> received(const sim::Endpoint& e) {
  std::vector<protocol::PeerEvent> out;
  for (const auto& ev : e.events)
    if (ev.type == protocol::PeerEvent::Type::kReceive) out.push_back(ev);
  return out;
}

inline const protocol::PeerEvent* last_disconnect(const sim::Endpoint& e) {
  for (auto it = e.events.rbegin(); it != e.events.rend(); ++it)
    if (it->type == protocol::PeerEvent::Type::kDisconnect) return &*it;
  return nullptr;
}

}  // namespace volley::test
