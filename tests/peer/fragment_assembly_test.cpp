// Fragment field checks and reassembly of one packet, without a channel or a Peer.
#include <doctest/doctest.h>

#include <vector>

#include "fragment_assembly.hpp"

using namespace volley::protocol;
using namespace volley::protocol::detail;

namespace {

const std::vector<std::uint8_t> kBytes{1, 2, 3, 4, 5, 6, 7, 8, 9};

SendFragment good() { return SendFragment{7, 3, 1, 9, 3, Bytes(kBytes.data() + 3, 3)}; }

}  // namespace

TEST_CASE("fragment fields: each bound of enet-protocol.md section 8 is checked") {
  const FragmentLimits limits{16, 100};
  CHECK(fragment_fields_ok(good(), limits));
  auto bad = [&](auto change) {
    SendFragment f = good();
    change(f);
    return !fragment_fields_ok(f, limits);
  };
  CHECK(bad([](SendFragment& f) { f.fragment_count = 17; }));                 // above the config
  CHECK(bad([](SendFragment& f) { f.fragment_number = 3; }));                 // number >= count
  CHECK(bad([](SendFragment& f) { f.total_length = 101; f.fragment_offset = 0; }));  // too large
  CHECK(bad([](SendFragment& f) { f.fragment_offset = 9; }));                 // offset past the end
  CHECK(bad([](SendFragment& f) { f.payload = Bytes(kBytes.data(), 7); }));   // runs past the end
  CHECK(bad([](SendFragment& f) { f.payload = Bytes(); }));                   // empty
  CHECK(bad([](SendFragment& f) { f.total_length = 2; f.fragment_offset = 0; f.payload = Bytes(kBytes.data(), 1); }));
  // One byte per fragment, the smallest total libenet takes (totalLength < fragmentCount is refused).
  CHECK(fragment_fields_ok(SendFragment{7, 3, 0, 3, 0, Bytes(kBytes.data(), 1)}, limits));
  CHECK_FALSE(fragment_fields_ok(good(), FragmentLimits{2, 100}));
  CHECK(fragment_fields_ok(good(), FragmentLimits{kMaxFragmentCount, 9}));
}

TEST_CASE("fragment assembly: fragments land at their offsets, once each, and complete the packet") {
  IncomingCommand packet;
  packet.type = CommandType::kSendFragment;
  begin_reassembly(packet, 3, 9);
  CHECK(packet.data == std::vector<std::uint8_t>(9, 0));  // zero-filled before any fragment
  CHECK(packet.fragments_remaining == 3);
  CHECK(same_packet(packet, CommandType::kSendFragment, good()));
  CHECK_FALSE(same_packet(packet, CommandType::kSendUnreliableFragment, good()));
  SendFragment other_count = good();
  other_count.fragment_count = 4;
  CHECK_FALSE(same_packet(packet, CommandType::kSendFragment, other_count));

  CHECK(absorb_fragment(packet, good()) == Absorbed::kPartial);
  CHECK(absorb_fragment(packet, good()) == Absorbed::kDuplicate);
  CHECK(packet.fragments_remaining == 2);
  CHECK(absorb_fragment(packet, SendFragment{7, 3, 2, 9, 6, Bytes(kBytes.data() + 6, 3)}) == Absorbed::kPartial);
  CHECK(absorb_fragment(packet, SendFragment{7, 3, 0, 9, 0, Bytes(kBytes.data(), 3)}) == Absorbed::kComplete);
  CHECK(packet.data == kBytes);
}

TEST_CASE("fragment assembly: numbers beyond 32 use further bitmap words") {
  IncomingCommand packet;
  begin_reassembly(packet, 40, 40);
  CHECK(packet.fragment_bits.size() == 2);
  const std::uint8_t byte = 0xAB;
  for (std::uint32_t n = 0; n < 40; ++n) {
    const Absorbed a = absorb_fragment(packet, SendFragment{0, 40, n, 40, n, Bytes(&byte, 1)});
    CHECK(a == (n == 39 ? Absorbed::kComplete : Absorbed::kPartial));
  }
  CHECK(absorb_fragment(packet, SendFragment{0, 40, 33, 40, 33, Bytes(&byte, 1)}) == Absorbed::kDuplicate);
  CHECK(packet.data == std::vector<std::uint8_t>(40, 0xAB));
}
