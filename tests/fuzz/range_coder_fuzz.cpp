// Fuzz target: ENet's range coder. Input: one byte choosing the output capacity, then the data.
// The data is decompressed as an untrusted datagram body (the result must fit the capacity and
// equal what libenet 1.3.17's decoder produces from the same bytes), and compressed then
// decompressed (the round trip must return the data, and the coded bytes must equal libenet's).
#include <enet/enet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "fuzz_target.hpp"
#include "volley/protocol/range_coder.hpp"

namespace {

using namespace volley::protocol;

void* enet_context() {
  static void* context = enet_range_coder_create();
  return context;
}

std::size_t enet_compress(volley::Bytes in, std::uint8_t* out, std::size_t limit) {
  ENetBuffer buffer;
  buffer.data = const_cast<std::uint8_t*>(in.data());
  buffer.dataLength = in.size();
  return enet_range_coder_compress(enet_context(), &buffer, 1, in.size(), out, limit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Capacities from 0 to kMaxMtu, with the full datagram limit the most common.
  const std::size_t capacity = data[0] >= 0xF0 ? static_cast<std::size_t>(data[0] - 0xF0) * 273 : kMaxMtu;
  const volley::Bytes in(data + 1, std::min<std::size_t>(size - 1, kMaxMtu));

  // Guard bytes right after the output window catch a write past it in builds without ASan.
  constexpr std::size_t kGuard = 16;
  std::array<std::uint8_t, kMaxMtu + kGuard> ours;
  std::array<std::uint8_t, kMaxMtu> theirs;
  std::memset(ours.data() + capacity, 0xA5, kGuard);
  const std::size_t decoded = range_coder_decompress(in, volley::MutableBytes(ours.data(), capacity));
  VOLLEY_FUZZ_CHECK(decoded <= capacity);
  for (std::size_t i = 0; i < kGuard; ++i) VOLLEY_FUZZ_CHECK(ours[capacity + i] == 0xA5);
  const std::size_t reference =
      enet_range_coder_decompress(enet_context(), in.data(), in.size(), theirs.data(), capacity);
  VOLLEY_FUZZ_CHECK(decoded == reference);
  VOLLEY_FUZZ_CHECK(std::memcmp(ours.data(), theirs.data(), decoded) == 0);

  if (in.empty()) return 0;
  std::array<std::uint8_t, kMaxMtu> coded;
  std::array<std::uint8_t, kMaxMtu> coded_ref;
  const std::size_t limit = std::min(capacity, coded.size());
  const std::size_t n = range_coder_compress(in, volley::MutableBytes(coded.data(), limit));
  VOLLEY_FUZZ_CHECK(n <= limit);
  const std::size_t n_ref = enet_compress(in, coded_ref.data(), limit);
  VOLLEY_FUZZ_CHECK(n == n_ref);
  VOLLEY_FUZZ_CHECK(std::memcmp(coded.data(), coded_ref.data(), n) == 0);
  if (n == 0) return 0;
  std::array<std::uint8_t, kMaxMtu> back;
  const std::size_t m = range_coder_decompress(volley::Bytes(coded.data(), n), back);
  VOLLEY_FUZZ_CHECK(m == in.size());
  VOLLEY_FUZZ_CHECK(std::memcmp(back.data(), in.data(), m) == 0);
  return 0;
}
