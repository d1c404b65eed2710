// Fragment reassembly of one packet (protocol.c enet_protocol_handle_send_fragment and
// _send_unreliable_fragment, enet-protocol.md 4.1 and 8): the field checks that bound memory
// before anything is allocated, and the copy of one fragment into its buffer. Which buffer a
// fragment belongs to is the receive channel's business (receive_channel.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "incoming_command.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol::detail {

struct FragmentLimits {
  std::uint32_t max_fragment_count = kMaxFragmentCount;
  std::uint32_t max_packet_size = kDefaultMaxPacketSize;
};

// The enet-protocol.md section 8 field checks; anything but kOk = error, no ack. Beyond 1.3.17
// empty fragments and totalLength < fragmentCount are rejected too, as upstream does after
// 1.3.18. The two configured limits are told apart from malformed fields, for the counters.
enum class FragmentCheck : std::uint8_t { kOk, kMalformed, kCountLimit, kLengthLimit };
FragmentCheck check_fragment_fields(const SendFragment& f, const FragmentLimits& limits) noexcept;
inline bool fragment_fields_ok(const SendFragment& f, const FragmentLimits& limits) noexcept {
  return check_fragment_fields(f, limits) == FragmentCheck::kOk;
}

// Sizes an empty reassembly buffer: zero-filled, so no uninitialised byte is ever delivered.
void begin_reassembly(IncomingCommand& target, std::uint32_t fragment_count, std::uint32_t total_length);

// A held packet the fragment claims to belong to must agree on kind, length and count.
bool same_packet(const IncomingCommand& held, CommandType type, const SendFragment& f) noexcept;

enum class Absorbed : std::uint8_t { kDuplicate, kPartial, kComplete };

// Copies one checked fragment into the buffer of its packet.
Absorbed absorb_fragment(IncomingCommand& target, const SendFragment& f) noexcept;

}  // namespace volley::protocol::detail
