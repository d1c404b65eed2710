#include "echo_message.hpp"

#include <cstring>

#include "volley/protocol/crc32.hpp"

namespace volley::bots {
namespace {

constexpr std::size_t kCrcAt = 20;

void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}

// CRC of everything but the CRC field itself.
std::uint32_t payload_crc(std::span<const std::uint8_t> bytes) {
  std::uint32_t state = protocol::crc32_update(protocol::kCrc32Init, bytes.first(kCrcAt));
  state = protocol::crc32_update(state, bytes.subspan(kCrcAt + 4));
  return protocol::crc32_final(state);
}

}  // namespace

bool encode_echo(const EchoMessage& m, std::span<std::uint8_t> out) noexcept {
  if (out.size() < kEchoHeaderBytes) return false;
  std::uint8_t* p = out.data();
  put32(p, m.bot);
  p[4] = m.channel;
  p[5] = static_cast<std::uint8_t>(m.delivery);
  p[6] = p[7] = 0;
  put32(p + 8, m.sequence);
  const auto sent = static_cast<std::uint64_t>(m.sent_us);
  put32(p + 12, static_cast<std::uint32_t>(sent));
  put32(p + 16, static_cast<std::uint32_t>(sent >> 32));
  // The filler changes with the sequence, so a payload swapped for an older one is caught too.
  for (std::size_t i = kEchoHeaderBytes; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(m.sequence * 31u + i * 7u + m.bot);
  }
  put32(p + kCrcAt, payload_crc(out));
  return true;
}

std::optional<EchoMessage> decode_echo(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() < kEchoHeaderBytes) return std::nullopt;
  const std::uint8_t* p = bytes.data();
  if (get32(p + kCrcAt) != payload_crc(bytes)) return std::nullopt;
  if (p[5] >= static_cast<std::uint8_t>(Delivery::kCount) || p[6] != 0 || p[7] != 0) return std::nullopt;
  EchoMessage m;
  m.bot = get32(p);
  m.channel = p[4];
  m.delivery = static_cast<Delivery>(p[5]);
  m.sequence = get32(p + 8);
  m.sent_us = static_cast<TimePoint>(std::uint64_t{get32(p + 12)} | (std::uint64_t{get32(p + 16)} << 32));
  return m;
}

}  // namespace volley::bots
