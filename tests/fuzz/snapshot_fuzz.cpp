// Fuzz target: the snapshot decoder and the client's Receiver on arbitrary bytes, with real
// baselines (frames 100 and 101 of a fixed world) so deltas get past the baseline check, plus
// the input-message decoder of session.hpp on the same bytes. Input: one mode byte (bits 0-1:
// which baseline the Decoder gets — the one the header names, none, frame 100, frame 101;
// bit 2: the Receiver holds only frame 100), then the packet.
// Invariants: a packet the decoder accepts yields the frame the header names, within the limits,
// with ids increasing, and re-encodes (against the same baseline) to a packet that decodes to the
// same frame and events; the Receiver applies a packet at most once; an accepted input message
// points inside the message and re-encodes to the same bytes.
#include <array>
#include <cstring>
#include <vector>

#include "fuzz_target.hpp"
#include "snapshot_fixture.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/session.hpp"

namespace {

using namespace volley;
using namespace volley::snapshot;

struct State {
  fuzz::SnapshotWorld world;
  Encoder encoder{world.schema, world.codec};
  Decoder decoder{world.schema, world.codec};
  std::vector<std::uint8_t> full100;
  std::vector<std::uint8_t> delta101;
  // Re-encoding scratch, reused and not cleared (a fresh zeroed 256 KiB per input cost a fifth of
  // an execution): the checks read only the bytes the encoders report written.
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(256 * 1024);
  std::vector<std::uint8_t> input_buf = std::vector<std::uint8_t>(kInputHeaderBytes + kMaxInputBytes);

  State() {
    full100.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(
                                                  encoder.encode(nullptr, world.base, world.events, buf)));
    delta101.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(
                                                   encoder.encode(&world.base, world.next, world.events, buf)));
    VOLLEY_FUZZ_CHECK(!full100.empty() && !delta101.empty());
  }
};

State& state() {
  static State s;
  return s;
}

void check_decoded(State& s, const Header& header, const Frame* baseline, const Frame& out,
                   const std::vector<Event>& events) {
  VOLLEY_FUZZ_CHECK(out.number == header.frame);
  VOLLEY_FUZZ_CHECK(out.size() <= s.world.codec.max_entities);
  VOLLEY_FUZZ_CHECK(events.size() <= s.world.codec.max_events);
  for (std::size_t i = 0; i < out.size(); ++i) {
    VOLLEY_FUZZ_CHECK(i == 0 || out.id(i - 1) < out.id(i));
    VOLLEY_FUZZ_CHECK(out.type(i) < s.world.schema.type_count());
    VOLLEY_FUZZ_CHECK(out.values(i).size() == s.world.schema.fields(out.type(i)).size());
  }
  for (const Event& e : events) VOLLEY_FUZZ_CHECK(e.payload.size() <= kMaxEventPayload);
  // What the decoder accepted, the encoder must accept and reproduce.
  std::vector<std::uint8_t>& buf = s.buf;
  const std::size_t n = s.encoder.encode(header.delta() ? baseline : nullptr, out, events, buf);
  VOLLEY_FUZZ_CHECK(n > 0);
  Frame again;
  std::vector<Event> again_events;
  VOLLEY_FUZZ_CHECK(s.decoder.decode(std::span(buf.data(), n), baseline, again, again_events) ==
                    DecodeError::kOk);
  VOLLEY_FUZZ_CHECK(again == out);
  VOLLEY_FUZZ_CHECK(again_events == events);
}

void check_input(State& s, std::span<const std::uint8_t> message) {
  const auto input = decode_input(message);
  if (!input) return;
  VOLLEY_FUZZ_CHECK(input->bytes.size() <= kMaxInputBytes);
  VOLLEY_FUZZ_CHECK(input->bytes.empty() ||
                    (input->bytes.data() >= message.data() &&
                     input->bytes.data() + input->bytes.size() <= message.data() + message.size()));
  std::vector<std::uint8_t>& out = s.input_buf;
  const std::size_t n = encode_input(input->ack, input->bytes, out);
  VOLLEY_FUZZ_CHECK(n == message.size());
  VOLLEY_FUZZ_CHECK(std::memcmp(out.data(), message.data(), n) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  State& s = state();
  const std::uint8_t mode = data[0];
  const std::span<const std::uint8_t> packet(data + 1, size - 1);
  check_input(s, packet);

  const auto header = Decoder::peek(packet);
  const Frame* baseline = nullptr;
  switch (mode & 3) {
    case 0: baseline = header ? s.world.by_number(header->baseline) : nullptr; break;
    case 1: baseline = nullptr; break;
    case 2: baseline = &s.world.base; break;
    default: baseline = &s.world.next; break;
  }
  Frame out;
  std::vector<Event> events;
  const DecodeError error = s.decoder.decode(packet, baseline, out, events);
  VOLLEY_FUZZ_CHECK(error < DecodeError::kCount);
  if (error == DecodeError::kOk) {
    VOLLEY_FUZZ_CHECK(header.has_value());
    check_decoded(s, *header, baseline, out, events);
  }

  // The Receiver as a client runs it: a full frame 100 applied (and 101 unless bit 2), then the
  // packet, twice.
  Receiver receiver(s.world.schema, s.world.codec);
  std::vector<Event> fresh;
  VOLLEY_FUZZ_CHECK(receiver.receive(s.full100, fresh) == ReceiveResult::kApplied);
  if ((mode & 4) == 0) {
    VOLLEY_FUZZ_CHECK(receiver.receive(s.delta101, fresh) == ReceiveResult::kApplied);
  }
  const std::uint64_t delivered = receiver.counters().events_delivered;
  fresh.clear();
  DecodeError why = DecodeError::kOk;
  const ReceiveResult first = receiver.receive(packet, fresh, &why);
  VOLLEY_FUZZ_CHECK(why < DecodeError::kCount);
  VOLLEY_FUZZ_CHECK(receiver.counters().events_delivered == delivered + fresh.size());
  if (first == ReceiveResult::kApplied) {
    VOLLEY_FUZZ_CHECK(header && receiver.ack() == header->frame);
    VOLLEY_FUZZ_CHECK(receiver.latest() && receiver.latest()->number == header->frame);
  }
  fresh.clear();
  const ReceiveResult second = receiver.receive(packet, fresh);
  VOLLEY_FUZZ_CHECK(second != ReceiveResult::kApplied || first != ReceiveResult::kApplied);
  if (first == ReceiveResult::kApplied) VOLLEY_FUZZ_CHECK(fresh.empty());
  const ReceiverCounters& c = receiver.counters();
  VOLLEY_FUZZ_CHECK(c.received == c.applied + c.dropped_old + c.dropped_no_baseline +
                                      c.dropped_checksum + c.dropped_corrupt);
  return 0;
}
