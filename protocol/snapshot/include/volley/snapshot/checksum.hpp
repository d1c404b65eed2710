// The 32-bit checksum carried in every snapshot header: a hash of the reconstructed quantized
// state (frame number, ids, types, values) and of the events, so a codec or baseline mismatch is
// caught, not only wire corruption. Not cryptographic.
#pragma once

#include <cstdint>
#include <span>

#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"

namespace volley::snapshot {

std::uint32_t state_checksum(const Frame& frame, std::span<const Event> events) noexcept;

}  // namespace volley::snapshot
