// Input messages; layout in volley/snapshot/session.hpp. Little-endian like the snapshot header.
#include "volley/snapshot/session.hpp"

#include <cstring>

namespace volley::snapshot {

namespace {
constexpr std::uint8_t kMagic0 = 'V';
constexpr std::uint8_t kMagic1 = 'I';
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kFlagHasAck = 0x01;
}  // namespace

std::size_t encode_input(std::optional<std::uint32_t> ack, std::span<const std::uint8_t> game,
                         std::span<std::uint8_t> out) noexcept {
  const std::size_t size = kInputHeaderBytes + game.size();
  if (game.size() > kMaxInputBytes || out.size() < size) return 0;
  const std::uint32_t frame = ack.value_or(0);
  out[0] = kMagic0;
  out[1] = kMagic1;
  out[2] = kVersion;
  out[3] = ack ? kFlagHasAck : 0;
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(frame >> (8 * i));
  if (!game.empty()) std::memcpy(out.data() + kInputHeaderBytes, game.data(), game.size());
  return size;
}

std::optional<Input> decode_input(std::span<const std::uint8_t> message) noexcept {
  if (message.size() < kInputHeaderBytes || message.size() > kInputHeaderBytes + kMaxInputBytes) {
    return std::nullopt;
  }
  if (message[0] != kMagic0 || message[1] != kMagic1 || message[2] != kVersion ||
      (message[3] & ~kFlagHasAck) != 0) {
    return std::nullopt;
  }
  std::uint32_t frame = 0;
  for (int i = 0; i < 4; ++i) frame |= std::uint32_t{message[4 + i]} << (8 * i);
  Input input;
  if (message[3] & kFlagHasAck) {
    input.ack = frame;
  } else if (frame != 0) {
    return std::nullopt;  // the frame field is zero without an ack: one encoding per message
  }
  input.bytes = message.subspan(kInputHeaderBytes);
  return input;
}

}  // namespace volley::snapshot
