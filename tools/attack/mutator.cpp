#include "mutator.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "volley/protocol/enet_wire.hpp"

namespace volley::attack {

using namespace volley::protocol;

std::string_view mutation_name(Mutation m) noexcept {
  switch (m) {
    case Mutation::kRandom: return "random";
    case Mutation::kBitFlip: return "bit_flip";
    case Mutation::kTruncate: return "truncate";
    case Mutation::kBadPeerId: return "bad_peer_id";
    case Mutation::kBadCrc: return "bad_crc";
    case Mutation::kHugeFragment: return "huge_fragment";
    default: return "?";
  }
}

void set_session_bits(MutableBytes d, SessionBits bits) noexcept {
  const std::uint16_t flags = static_cast<std::uint16_t>(((d[0] << 8) | d[1]) & 0xC000);
  const std::uint16_t word = static_cast<std::uint16_t>(flags | (bits & 0x3FFF));
  d[0] = static_cast<std::uint8_t>(word >> 8);
  d[1] = static_cast<std::uint8_t>(word);
}

Mutator::Mutator(std::uint64_t seed, std::vector<Datagram> seeds) : rng_(seed), seeds_(std::move(seeds)) {
  if (seeds_.empty()) throw std::invalid_argument("no seed datagrams");
  for (const Datagram& d : seeds_) {
    if (d.size() < 2 || d.size() > kMaxMtu) throw std::invalid_argument("a seed datagram is not 2..4096 bytes");
  }
}

std::size_t Mutator::copy_seed(MutableBytes out, std::optional<SessionBits> session) {
  const Datagram& d = seeds_[rng_.between(0, static_cast<std::uint32_t>(seeds_.size() - 1))];
  std::memcpy(out.data(), d.data(), d.size());
  if (session) set_session_bits(out, *session);
  return d.size();
}

Mutator::Made Mutator::next(MutableBytes out, std::optional<SessionBits> session) {
  const auto kind = static_cast<Mutation>(rng_.between(0, kMutationCount - 1));
  return {kind, make(kind, out, session)};
}

std::size_t Mutator::make(Mutation kind, MutableBytes out, std::optional<SessionBits> session) {
  switch (kind) {
    case Mutation::kRandom: {
      const std::size_t n = rng_.between(0, 1400);
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(rng_.next());
      return n;
    }
    case Mutation::kBitFlip: {
      const std::size_t n = copy_seed(out, session);
      const std::uint32_t flips = rng_.between(1, 8);
      std::array<std::uint32_t, 8> chosen{};
      for (std::uint32_t i = 0; i < flips; ++i) {
        // Distinct bits (seeds have >= 16), so the result differs from the seed in exactly `flips`.
        std::uint32_t bit = 0;
        do bit = rng_.between(0, static_cast<std::uint32_t>(n * 8 - 1));
        while (std::find(chosen.begin(), chosen.begin() + i, bit) != chosen.begin() + i);
        chosen[i] = bit;
        out[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      }
      return n;
    }
    case Mutation::kTruncate: {
      const std::size_t n = copy_seed(out, session);
      return rng_.between(0, static_cast<std::uint32_t>(n - 1));
    }
    case Mutation::kBadPeerId: {
      const std::size_t n = copy_seed(out, std::nullopt);
      set_session_bits(out, static_cast<SessionBits>(rng_.between(0, 0x3FFF)));
      return n;
    }
    case Mutation::kBadCrc: {
      std::size_t n = copy_seed(out, session);
      const std::size_t crc_at = (out[0] & 0x80) ? 4 : 2;
      if (n < crc_at + 4) n = crc_at + 4;  // a short seed grows a CRC slot
      for (std::size_t i = crc_at; i < crc_at + 4; ++i) out[i] = static_cast<std::uint8_t>(rng_.next());
      return n;
    }
    case Mutation::kHugeFragment: {
      Header header;
      header.peer_id = session ? static_cast<std::uint16_t>(*session & kMaxPeerId) : kMaxPeerId;
      header.session = session ? static_cast<std::uint8_t>((*session >> 12) & 3) : 0;
      header.sent_time = static_cast<std::uint16_t>(rng_.next());
      std::array<std::uint8_t, 64> payload{};
      for (auto& b : payload) b = static_cast<std::uint8_t>(rng_.next());
      SendFragment f;
      f.start_sequence = static_cast<std::uint16_t>(rng_.next());
      if (rng_.chance(0.5)) {  // more fragments than ENet allows
        f.fragment_count = rng_.between(kMaxFragmentCount + 1, 0xFFFFFFFFu);
        f.total_length = rng_.between(1, 0xFFFFFFFFu);
      } else {  // an allowed count, but a packet far over the size limit
        f.fragment_count = rng_.between(2, kMaxFragmentCount);
        f.total_length = rng_.between(kDefaultMaxPacketSize + 1, 0xFFFFFFFFu);
      }
      f.fragment_number = rng_.between(0, std::min<std::uint32_t>(f.fragment_count - 1, 0xFFFF));
      f.fragment_offset = rng_.between(0, f.total_length - 1);
      f.payload = Bytes(payload.data(), rng_.between(1, payload.size()));
      const Command command{{CommandType::kSendFragment, true, false,
                             static_cast<std::uint8_t>(rng_.between(0, 1)),
                             static_cast<std::uint16_t>(rng_.next())},
                            f};
      const std::size_t head = encode_header(header, false, out);
      return head + encode_command(command, out.subspan(head));
    }
    default: return 0;
  }
}

}  // namespace volley::attack
