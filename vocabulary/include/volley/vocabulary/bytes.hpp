// The one byte type on every layer boundary: unsigned 8-bit octets, as the wire codec reads
// them. Engine datagrams, protocol payloads and the server API all pass these spans, so no
// crossing needs a cast.
#pragma once

#include <cstdint>
#include <span>

namespace volley {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

}  // namespace volley
