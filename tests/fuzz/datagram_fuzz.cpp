// Fuzz target: the receive path of one datagram — header, CRC32, range-coded body, then every
// command — exactly as a Peer reads an untrusted datagram. Input: one mode byte (bit 0 checksum
// mode, bit 1 compression, bit 2 a non-zero CRC seed, bit 3 a small max packet size), then the
// datagram. Invariants: nothing reads outside the input or the scratch buffer, the reader
// honours its limits, and each decoded command re-encodes to bytes that decode to the same
// bytes again (encode and decode agree on every field).
#include <array>
#include <cstring>

#include "fuzz_target.hpp"
#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace {

using namespace volley::protocol;

bool within(volley::Bytes inner, volley::Bytes outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

volley::Bytes payload_of(const Command& c) {
  if (const auto* p = std::get_if<SendReliable>(&c.body)) return p->payload;
  if (const auto* p = std::get_if<SendUnreliable>(&c.body)) return p->payload;
  if (const auto* p = std::get_if<SendFragment>(&c.body)) return p->payload;
  if (const auto* p = std::get_if<SendUnsequenced>(&c.body)) return p->payload;
  return {};
}

// Scratch buffers, not cleared per input: the checks only read what was written.
std::array<std::uint8_t, 2 * kMaxMtu> first;
std::array<std::uint8_t, 2 * kMaxMtu> second;
std::array<std::uint8_t, kMaxDecompressedBody> scratch;

void check_reencode(const Command& command, bool from_unknown_peer, const CommandLimits& limits) {
  const std::size_t n = encode_command(command, first);
  VOLLEY_FUZZ_CHECK(n == encoded_size(command));
  VOLLEY_FUZZ_CHECK(n > 0);
  CommandReader again(volley::Bytes(first.data(), n), from_unknown_peer, limits);
  Command decoded;
  VOLLEY_FUZZ_CHECK(again.next(decoded));
  VOLLEY_FUZZ_CHECK(!again.next(decoded) && !again.error());
  // `decoded` was overwritten by the failed next(); decode once more to compare.
  CommandReader third(volley::Bytes(first.data(), n), from_unknown_peer, limits);
  VOLLEY_FUZZ_CHECK(third.next(decoded));
  const std::size_t m = encode_command(decoded, second);
  VOLLEY_FUZZ_CHECK(m == n && std::memcmp(first.data(), second.data(), n) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const volley::Bytes datagram(data + 1, size - 1);
  const OpenOptions options{(mode & 1) != 0, (mode & 2) != 0};
  const ChecksumSeed seed = (mode & 4) != 0 ? ChecksumSeed{0x12, 0x34, 0x56, 0x78} : ChecksumSeed{};
  CommandLimits limits;
  if ((mode & 8) != 0) limits.max_packet_size = 64;

  // The header alone in the other checksum mode too: both parses must stay inside the input.
  const auto other = decode_header(datagram, !options.checksum);
  if (other.ok()) VOLLEY_FUZZ_CHECK(within(other.value->body, datagram));

  const auto opened = open_datagram(datagram, options, seed, scratch);
  if (!opened.ok()) {
    VOLLEY_FUZZ_CHECK(opened.error != DecodeError::kCount);
    return 0;
  }
  const HeaderView& view = opened.value->view;
  const volley::Bytes commands = opened.value->commands;
  VOLLEY_FUZZ_CHECK(view.header_size == 2 || view.header_size == 4);
  VOLLEY_FUZZ_CHECK(view.header.session <= 3 && view.header.peer_id <= kMaxPeerId);
  VOLLEY_FUZZ_CHECK(within(commands, datagram) || within(commands, scratch));
  VOLLEY_FUZZ_CHECK(view.header.compressed || within(commands, datagram));

  const bool from_unknown_peer = view.header.peer_id == kMaxPeerId;
  CommandReader reader(commands, from_unknown_peer, limits);
  Command command;
  std::size_t count = 0;
  while (reader.next(command)) {
    ++count;
    VOLLEY_FUZZ_CHECK(count <= limits.max_commands);
    const volley::Bytes payload = payload_of(command);
    VOLLEY_FUZZ_CHECK(within(payload, commands));
    VOLLEY_FUZZ_CHECK(payload.size() <= limits.max_packet_size);
    VOLLEY_FUZZ_CHECK(!from_unknown_peer || command.header.type == CommandType::kConnect);
    check_reencode(command, from_unknown_peer, limits);
  }
  VOLLEY_FUZZ_CHECK(reader.count() == count);
  return 0;
}
