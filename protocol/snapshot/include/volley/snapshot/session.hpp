// How a game session uses ENet channels, and the input message a client sends every tick. Both
// the server's snapshot sender and the client library (and protocol-level bots) use these, so
// the layout is defined once. Input: "VI", version, flags, the newest applied frame (the
// acknowledgement the server deltas against), then the game's own input bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace volley::snapshot {

// ENet channels of a game session (a client connects with kSessionChannels).
inline constexpr std::uint8_t kGameChannel = 0;      // reliable game messages (chat, commands)
inline constexpr std::uint8_t kSnapshotChannel = 1;  // one snapshot per tick, unsequenced
inline constexpr std::uint8_t kInputChannel = 2;     // inputs, unreliable sequenced
inline constexpr std::uint8_t kSessionChannels = 3;

inline constexpr std::size_t kInputHeaderBytes = 8;
inline constexpr std::size_t kMaxInputBytes = 1024;  // the game's bytes per input message

struct Input {
  std::optional<std::uint32_t> ack;  // newest applied frame; nullopt before the first
  std::span<const std::uint8_t> bytes;  // the game's input (points into the message)
};

// Writes an input message into `out`; returns its size, or 0 if `game` is over kMaxInputBytes
// or `out` is too small.
std::size_t encode_input(std::optional<std::uint32_t> ack, std::span<const std::uint8_t> game,
                         std::span<std::uint8_t> out) noexcept;
// nullopt for anything that is not a well-formed input message (wrong magic, version or flags,
// a frame number without the ack flag, short, or game bytes over kMaxInputBytes).
std::optional<Input> decode_input(std::span<const std::uint8_t> message) noexcept;

}  // namespace volley::snapshot
