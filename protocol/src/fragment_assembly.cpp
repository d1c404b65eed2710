// Fragment reassembly; see fragment_assembly.hpp.
#include "fragment_assembly.hpp"

#include <algorithm>
#include <cstring>

#include "buffer_pool.hpp"

namespace volley::protocol::detail {

FragmentCheck check_fragment_fields(const SendFragment& f, const FragmentLimits& limits) noexcept {
  if (f.fragment_count > std::min(limits.max_fragment_count, kMaxFragmentCount)) return FragmentCheck::kCountLimit;
  if (f.total_length > limits.max_packet_size) return FragmentCheck::kLengthLimit;
  const bool ok = f.fragment_number < f.fragment_count && f.fragment_offset < f.total_length &&
                  f.payload.size() <= f.total_length - f.fragment_offset && !f.payload.empty() &&
                  f.total_length >= f.fragment_count;
  return ok ? FragmentCheck::kOk : FragmentCheck::kMalformed;
}

void begin_reassembly(IncomingCommand& target, std::uint32_t fragment_count, std::uint32_t total_length) {
  target.fragment_count = fragment_count;
  target.fragments_remaining = fragment_count;
  target.fragment_bits.assign((fragment_count + 31) / 32, 0);
  target.data = take_zeroed_buffer(total_length);
}

bool same_packet(const IncomingCommand& held, CommandType type, const SendFragment& f) noexcept {
  return held.type == type && held.data.size() == f.total_length && held.fragment_count == f.fragment_count;
}

Absorbed absorb_fragment(IncomingCommand& target, const SendFragment& f) noexcept {
  const std::uint32_t word = f.fragment_number / 32, bit = 1u << (f.fragment_number % 32);
  if (target.fragment_bits[word] & bit) return Absorbed::kDuplicate;
  target.fragment_bits[word] |= bit;
  --target.fragments_remaining;
  const std::size_t length = std::min<std::size_t>(f.payload.size(), target.data.size() - f.fragment_offset);
  std::memcpy(target.data.data() + f.fragment_offset, f.payload.data(), length);
  return target.fragments_remaining == 0 ? Absorbed::kComplete : Absorbed::kPartial;
}

}  // namespace volley::protocol::detail
