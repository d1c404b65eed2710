// Garbage for the garbage flood: random datagrams and mutations of real ENet datagrams (the
// fuzz corpus's seed-* files: every datagram a client/server Peer pair exchanges, in the four
// checksum/compression modes). Each datagram is one Mutation, chosen at random. With a session
// header (the 14 peer-id and session bits of a connection that completed a real handshake), the
// mutations other than kRandom and kBadPeerId carry it, so they reach that Peer's decoder instead
// of stopping at the routing table.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "rng.hpp"
#include "volley/vocabulary/bytes.hpp"

namespace volley::attack {

enum class Mutation : std::uint8_t {
  kRandom,        // 0..1400 random bytes
  kBitFlip,       // a real datagram with 1..8 bits flipped
  kTruncate,      // a real datagram cut short
  kBadPeerId,     // a real datagram to a random peer id (and session)
  kBadCrc,        // a real datagram whose 4 bytes after the header (the CRC slot) are random
  kHugeFragment,  // a well-formed SEND_FRAGMENT with an absurd fragment count or total length
  kCount
};
inline constexpr std::size_t kMutationCount = static_cast<std::size_t>(Mutation::kCount);
std::string_view mutation_name(Mutation m) noexcept;

// The low 14 bits of a datagram header: peer id | session << 12.
using SessionBits = std::uint16_t;

class Mutator {
 public:
  using Datagram = std::vector<std::uint8_t>;
  // `seeds` must not be empty and each at least 2 bytes (a header).
  Mutator(std::uint64_t seed, std::vector<Datagram> seeds);

  // One datagram of a random kind into `out` (at least 4096 bytes); returns its kind and length.
  struct Made {
    Mutation kind = Mutation::kRandom;
    std::size_t size = 0;
  };
  Made next(MutableBytes out, std::optional<SessionBits> session);
  std::size_t make(Mutation kind, MutableBytes out, std::optional<SessionBits> session);

  const std::vector<Datagram>& seeds() const noexcept { return seeds_; }

 private:
  std::size_t copy_seed(MutableBytes out, std::optional<SessionBits> session);
  Rng rng_;
  std::vector<Datagram> seeds_;
};

// Replaces the peer-id and session bits of the header in `datagram` (>= 2 bytes), keeping its flags.
void set_session_bits(MutableBytes datagram, SessionBits bits) noexcept;

}  // namespace volley::attack
