// A received packet held by a receive channel until it can be delivered: whole, or being
// reassembled from fragments (fragment_bits marks the fragment numbers already copied into
// `data`). Shared by receive_channel.hpp and fragment_assembly.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol::detail {

struct IncomingCommand {
  CommandType type = CommandType::kSendReliable;
  std::uint16_t reliable_sequence = 0;
  std::uint16_t unreliable_sequence = 0;
  std::uint32_t fragment_count = 0;
  std::uint32_t fragments_remaining = 0;
  std::vector<std::uint32_t> fragment_bits;
  std::vector<std::uint8_t> data;
};

// Clears a held command for reuse as a spare list node (buffer_pool.hpp NodePool): its data
// buffer goes back to the buffer pool, the fragment bitmap keeps its capacity when small, so
// reassembling the next packet allocates nothing.
void reset_incoming(IncomingCommand& command) noexcept;

// Outcome of a receive step: libenet's 0 (keep parsing) or -1 (stop the datagram).
enum class Handled : std::uint8_t { kOk, kStop };

}  // namespace volley::protocol::detail
