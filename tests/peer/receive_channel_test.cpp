// ReceiveChannel on its own, without a Peer: in-order reliable delivery, the receive window,
// unreliable epochs, the waiting-data budget, DISCONNECT_LATER discards and fragment
// reassembly through the channel.
#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "receive_channel.hpp"

using namespace volley::protocol;
using detail::Handled;
using detail::ReceiveChannel;

namespace {

struct Rig {
  Counters counters;
  detail::Fifo<PeerEvent> events;
  detail::ReceiveBudget budget = [] {
    detail::ReceiveBudget b;
    b.set_limits(1 << 20, 1 << 20, nullptr);
    return b;
  }();
  detail::ReceiveContext ctx{counters, events, budget, detail::FragmentLimits{}, 3, false};
  ReceiveChannel channel;
  std::vector<std::uint8_t> scratch;

  Handled reliable(std::uint16_t r, std::uint8_t tag) {
    scratch.assign(1, tag);
    return channel.receive(ctx, CommandType::kSendReliable, r, 0, scratch);
  }
  Handled unreliable(std::uint16_t r, std::uint16_t usn, std::uint8_t tag) {
    scratch.assign(1, tag);
    return channel.receive(ctx, CommandType::kSendUnreliable, r, usn, scratch);
  }
  // Tags of the delivered packets, in order; drains the queue.
  std::vector<int> delivered() {
    std::vector<int> tags;
    while (!events.empty()) {
      const PeerEvent& e = events.front();
      CHECK(e.channel == 3);
      tags.push_back(e.payload.empty() ? -1 : e.payload[0]);
      events.pop_front();
    }
    return tags;
  }
};

}  // namespace

TEST_CASE("receive channel: reliable packets are delivered once, in order, gaps held") {
  Rig rig;
  CHECK(rig.reliable(1, 1) == Handled::kOk);
  CHECK(rig.delivered() == std::vector<int>{1});
  rig.reliable(3, 3);
  rig.reliable(4, 4);
  CHECK(rig.delivered().empty());
  CHECK(rig.channel.held() == 2);
  rig.reliable(3, 3);  // duplicate of a held packet
  rig.reliable(1, 1);  // duplicate of a delivered one
  CHECK(rig.counters[Counter::kDropDuplicate] == 2);
  rig.reliable(2, 2);
  CHECK(rig.delivered() == std::vector<int>{2, 3, 4});
  CHECK(rig.channel.incoming_reliable_sequence() == 4);
  CHECK(rig.channel.held() == 0);
  CHECK(rig.counters[Counter::kPacketsIn] == 4);
  CHECK(rig.budget.bytes() == 4);  // the budget is returned when the app polls, not here
}

TEST_CASE("receive channel: the receive window accepts 6 windows ahead and withholds acks for 7-8") {
  Rig rig;
  CHECK(rig.reliable(6 * 4096 + 100, 9) == Handled::kOk);
  CHECK(rig.channel.held() == 1);
  CHECK(rig.reliable(7 * 4096, 9) == Handled::kOk);
  CHECK(rig.counters[Counter::kDropOutsideWindow] == 1);
  CHECK(rig.channel.held() == 1);
  CHECK_FALSE(rig.channel.ack_withheld(6 * 4096 + 100));
  CHECK(rig.channel.ack_withheld(7 * 4096));
  CHECK(rig.channel.ack_withheld(8 * 4096 + 4095));
  CHECK_FALSE(rig.channel.ack_withheld(9 * 4096));  // behind: acked (a duplicate) again
}

TEST_CASE("receive channel: unreliable packets follow their reliable epoch and never go back") {
  Rig rig;
  rig.unreliable(0, 2, 20);
  rig.unreliable(0, 1, 10);  // older than what was delivered: stale
  CHECK(rig.delivered() == std::vector<int>{20});
  CHECK(rig.counters[Counter::kDropStaleUnreliable] == 1);
  rig.unreliable(1, 1, 11);  // the epoch of reliable 1, which has not arrived
  CHECK(rig.delivered().empty());
  rig.reliable(1, 1);
  CHECK(rig.delivered() == std::vector<int>{1, 11});
  CHECK(rig.channel.incoming_unreliable_sequence() == 1);
  // Held packets of an epoch that a reliable delivery skips are abandoned and their bytes freed.
  rig.unreliable(2, 5, 25);
  rig.reliable(3, 3);
  const std::size_t before = rig.budget.bytes();
  rig.reliable(2, 2);
  CHECK(rig.delivered() == std::vector<int>{2, 3});  // 25 belonged to the skipped epoch of 2
  CHECK(rig.counters[Counter::kDropAbandonedUnreliable] == 1);
  CHECK(rig.budget.bytes() == before);  // +1 for packet 2, -1 for the abandoned one
}

TEST_CASE("receive channel: the waiting-data budget stops the datagram, DISCONNECT_LATER discards") {
  Rig rig;
  rig.budget.set_limits(2, 1 << 20, nullptr);
  CHECK(rig.reliable(1, 1) == Handled::kOk);
  CHECK(rig.reliable(2, 2) == Handled::kOk);
  CHECK(rig.reliable(3, 3) == Handled::kStop);
  CHECK(rig.counters[Counter::kDropWaitingDataLimit] == 1);
  CHECK(rig.delivered() == std::vector<int>{1, 2});
  rig.budget.give_back(2);  // the app polled
  rig.ctx.discard = true;
  CHECK(rig.reliable(3, 3) == Handled::kOk);
  CHECK(rig.counters[Counter::kDropDisconnectLater] == 1);
  CHECK(rig.delivered().empty());
  CHECK(rig.channel.incoming_reliable_sequence() == 2);
}

TEST_CASE("receive channel: fragments reassemble into one delivery, in any order") {
  Rig rig;
  std::vector<std::uint8_t> packet(10);
  std::iota(packet.begin(), packet.end(), std::uint8_t{40});
  auto fragment = [&](std::uint32_t number) {
    const std::uint32_t offset = number * 4;
    const std::uint32_t length = std::min<std::uint32_t>(4, 10 - offset);
    return SendFragment{1, 3, number, 10, offset, Bytes(packet.data() + offset, length)};
  };
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendFragment, 3, fragment(2)) == Handled::kOk);
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendFragment, 1, fragment(0)) == Handled::kOk);
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendFragment, 1, fragment(0)) == Handled::kOk);
  CHECK(rig.counters[Counter::kDropDuplicate] == 1);
  CHECK(rig.events.empty());
  CHECK(rig.budget.bytes() == 10);  // the whole packet is charged when its first fragment arrives
  // A fragment that disagrees with the held packet's length is an error.
  SendFragment liar = fragment(1);
  liar.total_length = 12;
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendFragment, 2, liar) == Handled::kStop);
  CHECK(rig.counters[Counter::kDropBadFragment] == 1);
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendFragment, 2, fragment(1)) == Handled::kOk);
  REQUIRE(rig.events.size() == 1);
  CHECK(rig.events.front().payload == packet);
  CHECK(rig.events.front().delivery == Delivery::kReliable);
  CHECK(rig.channel.incoming_reliable_sequence() == 3);  // the start plus count - 1
}

TEST_CASE("receive channel: an incomplete unreliable fragment set is dropped when a newer packet wins") {
  Rig rig;
  std::vector<std::uint8_t> bytes(8, 1);
  const SendFragment first_half{1, 2, 0, 8, 0, Bytes(bytes.data(), 4)};
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendUnreliableFragment, 0, first_half) == Handled::kOk);
  CHECK(rig.budget.bytes() == 8);
  rig.unreliable(0, 2, 22);
  CHECK(rig.delivered() == std::vector<int>{22});
  CHECK(rig.counters[Counter::kDropAbandonedUnreliable] == 1);
  CHECK(rig.budget.bytes() == 1);  // the abandoned 8 bytes are returned
  CHECK(rig.channel.held() == 0);
  // Its second half now arrives too late.
  const SendFragment second_half{1, 2, 1, 8, 4, Bytes(bytes.data(), 4)};
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendUnreliableFragment, 0, second_half) == Handled::kOk);
  CHECK(rig.counters[Counter::kDropStaleUnreliable] == 1);
  // A fragment set numbered like the packet just delivered (USN 2) is stale too.
  const SendFragment same_usn{2, 2, 0, 8, 0, Bytes(bytes.data(), 4)};
  CHECK(rig.channel.receive_fragment(rig.ctx, CommandType::kSendUnreliableFragment, 0, same_usn) == Handled::kOk);
  CHECK(rig.counters[Counter::kDropStaleUnreliable] == 2);
  CHECK(rig.channel.held() == 0);
}

// A held packet that the byte budget then refuses is not held: its place goes back, so refused
// packets cannot use up the held-commands limit.
TEST_CASE("receive channel: a packet the byte budget refuses gives its held place back") {
  Rig rig;
  rig.budget.set_limits(1, 8, nullptr);
  CHECK(rig.reliable(3, 3) == Handled::kOk);  // held: 2 is missing
  CHECK(rig.budget.held() == 1);
  CHECK(rig.reliable(4, 4) == Handled::kStop);  // no byte left for it
  CHECK(rig.counters[Counter::kDropWaitingDataLimit] == 1);
  CHECK(rig.budget.held() == 1);
}
