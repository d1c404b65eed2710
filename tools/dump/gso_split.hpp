// UDP GSO super-packets back into datagrams. A sender with UDP_SEGMENT (Volley's engine does
// this by default: LoopConfig::udp_gso) hands the kernel one buffer holding a run of equal-size
// datagrams to one destination, the last one possibly shorter, and the kernel cuts it up after
// the point where a capture on the sending host (always on loopback) sees it. Such a packet
// decodes as one datagram with garbage after the first; split, every piece decodes.
#pragma once

#include <cstddef>
#include <optional>

#include "packet_parse.hpp"

namespace volley::tools {

// The segment size when `payload` is a run of at least two datagrams of that size (the last may
// be shorter), each decoding cleanly with at least one command (and no peer-level command off
// channel 0xFF), and either every datagram's header carries the first one's sentTime (one
// sender's pass stamps them all alike), or none carries one and every one names the first one's
// peer and session (a run goes to one address), or the payload does not decode cleanly as one
// datagram. The smallest such size; nullopt otherwise,
// and for a range-coded first datagram (no command boundaries to try). Candidate sizes are the
// command ends of the first datagram, up to ENet's largest MTU.
std::optional<std::size_t> gso_segment_size(ByteView payload, bool checksum_mode) noexcept;

// The datagrams of `payload` cut every `segment` bytes (segment > 0): how many, and the i-th
// (0-based), the last one possibly shorter.
std::size_t gso_piece_count(ByteView payload, std::size_t segment) noexcept;
ByteView gso_piece(ByteView payload, std::size_t segment, std::size_t i) noexcept;

}  // namespace volley::tools
