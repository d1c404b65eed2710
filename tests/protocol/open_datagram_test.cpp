// The one receive pipeline (open_admitted_datagram): the admitter sees the decoded header before
// anything else is done, names the CRC seed, or refuses; open_datagram is the same pipeline
// with the fixed "0xFFF is seeded with zero" admitter.
#include <doctest/doctest.h>

#include <array>
#include <optional>

#include "volley/protocol/datagram.hpp"

using namespace volley::protocol;

namespace {

constexpr ChecksumSeed kSeed{1, 2, 3, 4};

// A checksum-mode datagram to `peer_id` carrying one PING, its CRC seeded with `seed`.
std::size_t ping_datagram(std::uint16_t peer_id, const ChecksumSeed& seed, MutableBytes out) {
  Header header;
  header.peer_id = peer_id;
  header.sent_time = 100;
  const std::size_t header_bytes = encode_header(header, true, out);
  const Command ping{CommandHeader{CommandType::kPing, true, false, kPeerLevelChannel, 1}, Ping{}};
  const std::size_t command_bytes = encode_command(ping, out.subspan(header_bytes));
  FinishOptions options;
  options.checksum = true;
  options.seed = seed;
  return finish_datagram(out.first(header_bytes + command_bytes), header_bytes - kChecksumSize, options);
}

}  // namespace

TEST_CASE("open_admitted_datagram: the admitter names the seed or refuses, after the header only") {
  std::array<std::uint8_t, 64> buffer{};
  const Bytes datagram(buffer.data(), ping_datagram(5, kSeed, buffer));
  std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
  const OpenOptions options{true, false};

  int calls = 0;
  auto admit_with = [&](std::optional<ChecksumSeed> seed) {
    return [&calls, seed](const Header& seen) {
      ++calls;
      CHECK(seen.peer_id == 5);
      return seed;
    };
  };
  const auto opened = open_admitted_datagram(datagram, options, scratch, admit_with(kSeed));
  REQUIRE(opened.ok());
  CHECK(opened.value->view.header.sent_time == 100);
  CHECK(opened.value->commands.size() == command_size(CommandType::kPing));
  CHECK(calls == 1);

  const auto wrong_seed = open_admitted_datagram(datagram, options, scratch, admit_with(ChecksumSeed{9, 9, 9, 9}));
  CHECK_FALSE(wrong_seed.ok());
  CHECK(wrong_seed.error == DecodeError::kBadChecksum);

  const auto refused = open_admitted_datagram(datagram, options, scratch, admit_with(std::nullopt));
  CHECK_FALSE(refused.ok());
  CHECK(refused.error == DecodeError::kCount);  // the admitter knows (and counts) why

  calls = 0;
  const auto truncated = open_admitted_datagram(datagram.first(1), options, scratch, admit_with(kSeed));
  CHECK(truncated.error == DecodeError::kTruncatedHeader);
  CHECK(calls == 0);  // a header that does not decode is never shown to the admitter
}

TEST_CASE("open_datagram: a known peer is checked with its seed, a CONNECT (0xFFF) with zero") {
  std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
  const OpenOptions options{true, false};
  std::array<std::uint8_t, 64> to_peer{};
  const Bytes known(to_peer.data(), ping_datagram(5, kSeed, to_peer));
  CHECK(open_datagram(known, options, kSeed, scratch).ok());
  CHECK(open_datagram(known, options, ChecksumSeed{}, scratch).error == DecodeError::kBadChecksum);
  std::array<std::uint8_t, 64> to_nobody{};
  const Bytes unknown(to_nobody.data(), ping_datagram(kMaxPeerId, ChecksumSeed{}, to_nobody));
  CHECK(open_datagram(unknown, options, kSeed, scratch).ok());  // the peer seed is ignored
}
