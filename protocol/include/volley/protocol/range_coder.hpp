// ENet's range coder (libenet compress.c), byte-compatible with
// enet_host_compress_with_range_coder: an adaptive order-2 context model over a 32-bit range
// coder, rebuilt for every datagram body. Algorithm: shared docs/enet-protocol.md Appendix A.
#pragma once

#include <cstddef>

#include "volley/protocol/enet_wire.hpp"

namespace volley::protocol {

// Compresses `in` into `out`. Returns the coded size, or 0 when the result would not fit in
// `out` (callers then send the datagram uncompressed, as libenet does). Empty input codes to 0.
std::size_t range_coder_compress(Bytes in, MutableBytes out) noexcept;

// Decompresses `in` into `out`. Returns the decoded size, or 0 when the input is corrupt or the
// output would exceed `out` (the bound on what a remote peer can make us produce).
std::size_t range_coder_decompress(Bytes in, MutableBytes out) noexcept;

}  // namespace volley::protocol
