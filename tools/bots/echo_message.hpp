// The payload a bot sends to an echo server and checks when it comes back: who sent it, on which
// channel and how, its sequence number in that (channel, delivery) stream, when it was sent, and
// a CRC-32 over every other byte, so a payload changed in flight is caught. Filler bytes up to
// the requested size are a pattern derived from the sequence number (checked by the CRC).
// Layout (little-endian): bot u32, channel u8, delivery u8, 2 zero bytes, sequence u32,
// sent_us u64, crc u32, filler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "volley/vocabulary/delivery.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::bots {

inline constexpr std::size_t kEchoHeaderBytes = 24;

struct EchoMessage {
  std::uint32_t bot = 0;
  std::uint8_t channel = 0;
  Delivery delivery = Delivery::kReliable;
  std::uint32_t sequence = 0;
  TimePoint sent_us = 0;
};

// Writes `m` into all of `out` (at least kEchoHeaderBytes); returns false when `out` is too small.
bool encode_echo(const EchoMessage& m, std::span<std::uint8_t> out) noexcept;
// nullopt when the bytes are short, the CRC does not match or the header is malformed.
std::optional<EchoMessage> decode_echo(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace volley::bots
