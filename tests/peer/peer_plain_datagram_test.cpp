// The datagrams a CONNECTED peer lives on take short paths, each of which must change nothing
// but the cost; both are held against the general path side by side, on twin connected server
// peers fed the same random input, comparing every event, every byte sent, the counters, the
// stats and the next deadline after each step.
// - Read in place (Peer::Impl::take_plain_commands): ACKs, then at most one SEND_RELIABLE,
//   SEND_UNRELIABLE or PING. The twin's datagrams end in a command that changes no state (a
//   THROTTLE_CONFIGURE repeating the values already set), which sends them down the command walk.
//   Offered a place to hand its packet over at once (Peer::on_datagram_direct), it must hand
//   over exactly the packet the walk would have queued first.
// - Written in one pass (Peer::Impl::assemble_lean): queued ACKs and at most one whole
//   SEND_RELIABLE or SEND_UNRELIABLE. The twin has it switched off.
#include <algorithm>
#include <array>
#include <initializer_list>

#include "peer_impl.hpp"
#include "peer_test_util.hpp"
#include "volley/protocol/byte_io.hpp"

using namespace volley;
using namespace volley::protocol;
using volley::test::connect_pair;
using volley::test::to_hex;

namespace volley::protocol {
// Declared a friend by Peer: the one way a test reaches a Peer's internals.
struct PeerInternals {
  static void set_lean_assembly(Peer& p, bool on) { p.impl_->lean_assembly = on; }
};
}  // namespace volley::protocol

namespace {

constexpr std::uint32_t kChannels = 2;
constexpr std::uint32_t kMaxPacket = 150;
const ThrottleConfigure kThrottle{5000, 2, 2};

struct Twin {
  sim::Harness h;
  explicit Twin(std::uint64_t seed)
      : h([&] {
          sim::HarnessOptions o;
          o.seed = seed;
          // Below the largest payload the datagrams carry, so that the size limit is met too.
          o.server_config.max_packet_size = kMaxPacket;
          return o;
        }()) {
    REQUIRE(connect_pair(h, kChannels));
    h.run_for(sim::kSecond);
  }
  Peer& peer() { return h.server().peer; }
};

struct Output {
  std::vector<std::string> events;
  std::vector<std::string> datagrams;
};

// Everything observable of the twins agrees, but for the counters named in `except`.
void require_same(Peer& a, Peer& b, const Output& out_a, const Output& out_b, std::initializer_list<Counter> except) {
  REQUIRE(out_a.events == out_b.events);
  REQUIRE(out_a.datagrams == out_b.datagrams);
  for (std::size_t c = 0; c < kCounterCount; ++c) {
    const auto counter = static_cast<Counter>(c);
    if (std::find(except.begin(), except.end(), counter) != except.end()) continue;
    INFO("counter " << counter_name(counter));
    REQUIRE(a.counters()[counter] == b.counters()[counter]);
  }
  REQUIRE(a.next_deadline() == b.next_deadline());
  REQUIRE(a.state() == b.state());
  const PeerStats sa = a.stats(), sb = b.stats();
  REQUIRE(sa.rtt_ms == sb.rtt_ms);
  REQUIRE(sa.rtt_variance_ms == sb.rtt_variance_ms);
  REQUIRE(sa.packet_throttle == sb.packet_throttle);
  REQUIRE(sa.packet_loss == sb.packet_loss);
  REQUIRE(sa.reliable_data_in_transit == sb.reliable_data_in_transit);
  REQUIRE(sa.queued_outgoing == sb.queued_outgoing);
  REQUIRE(sa.sent_unacked == sb.sent_unacked);
  REQUIRE(sa.waiting_data == sb.waiting_data);
  REQUIRE(sa.held_commands == sb.held_commands);
}

std::string describe(const PeerEvent& e) {
  return std::to_string(static_cast<int>(e.type)) + "/" + std::to_string(e.channel) + "/" +
         std::to_string(static_cast<int>(e.delivery)) + "/" + to_hex(e.bytes());
}

// `handed`: a packet Peer::on_datagram_direct handed over, which comes before the queue.
Output drain(Peer& p, TimePoint now, const PeerEvent* handed = nullptr) {
  Output out;
  if (handed != nullptr) out.events.push_back(describe(*handed));
  while (const PeerEvent* e = p.peek_event()) {
    out.events.push_back(describe(*e));
    p.pop_event();
  }
  std::array<std::uint8_t, kMaxMtu> buffer{};
  for (int i = 0; i < 64; ++i) {
    const std::size_t n = p.poll_datagram(now, buffer);
    if (n == 0) break;
    out.datagrams.push_back(to_hex(Bytes(buffer.data(), n)));
  }
  return out;
}

std::vector<std::uint8_t> datagram(const Peer& p, std::optional<std::uint16_t> sent_time,
                                   const std::vector<Command>& commands) {
  return volley::test::datagram_to(p, commands, sent_time);
}

// Mostly well-formed everyday commands near the peer's sequences, with the odd wrong flag,
// channel, stale or early sequence, so that both the in-place reader and its refusals run.
struct Sequences {
  std::uint16_t next_reliable = 1;
  std::uint16_t next_usn = 1;
};

std::vector<Command> random_commands(std::mt19937_64& rng, std::array<Sequences, kChannels>& sequences,
                                     std::uint16_t sent_base, const std::vector<std::uint8_t>& bytes) {
  std::vector<Command> out;
  const auto pick = [&](std::uint64_t n) { return rng() % n; };
  const std::size_t acks = pick(4);
  for (std::size_t i = 0; i < acks; ++i) {
    const auto channel = static_cast<std::uint8_t>(pick(8) == 0 ? 0xFF : pick(3));
    const auto rsn = static_cast<std::uint16_t>(pick(40));
    const auto sent = static_cast<std::uint16_t>(sent_base - pick(300) + (pick(10) == 0 ? 2000 : 0));
    out.push_back(Command{CommandHeader{CommandType::kAcknowledge, pick(16) == 0, false, channel, rsn},
                          Acknowledge{rsn, sent}});
  }
  const auto channel = static_cast<std::uint8_t>(pick(10) == 0 ? kChannels : pick(kChannels));
  Sequences& seq = sequences[channel % kChannels];
  std::uint16_t& next_reliable = seq.next_reliable;
  std::uint16_t& next_usn = seq.next_usn;
  // Now and then one past the size limit, refused: the sequences then stay where they are.
  const bool oversize = pick(12) == 0;
  const Bytes payload(bytes.data(), oversize ? kMaxPacket + 1 + pick(bytes.size() - kMaxPacket - 1) : pick(kMaxPacket + 1));
  switch (pick(5)) {
    case 0: {
      auto rsn = next_reliable;
      if (pick(4) != 0 && !oversize) {
        next_reliable = static_cast<std::uint16_t>(next_reliable + 1);
        next_usn = 1;
      } else {
        rsn = static_cast<std::uint16_t>(rsn + pick(5) - 2);
      }
      out.push_back(Command{CommandHeader{CommandType::kSendReliable, pick(12) != 0, false, channel, rsn},
                            SendReliable{payload}});
      break;
    }
    case 1: {
      const auto usn = static_cast<std::uint16_t>(pick(4) == 0 || oversize ? next_usn - pick(3) : next_usn++);
      const auto rsn = static_cast<std::uint16_t>(next_reliable - 1 + (pick(6) == 0 ? 1 : 0));
      out.push_back(Command{CommandHeader{CommandType::kSendUnreliable, pick(12) == 0, false, channel, rsn},
                            SendUnreliable{usn, payload}});
      break;
    }
    case 2:
      out.push_back(Command{CommandHeader{CommandType::kPing, pick(12) != 0, false, 0xFF,
                                          static_cast<std::uint16_t>(pick(100))},
                            Ping{}});
      break;
    default:
      break;  // ACKs only (or nothing)
  }
  return out;
}

}  // namespace

TEST_CASE("plain datagrams: read in place, every effect equals the generic command walk's") {
  std::size_t plain_delivered = 0, acks_taken = 0, compared = 0, handed_over = 0;
  for (std::uint64_t index = 0; index < 40; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    const std::uint64_t harness_seed = rng();
    Twin plain(harness_seed), walked(harness_seed);
    Peer& a = plain.peer();
    Peer& b = walked.peer();
    REQUIRE(a.state() == PeerState::kConnected);
    TimePoint now = plain.h.now();
    // Both take the throttle values the no-op repeats (that first datagram is walked by both).
    const Command configure{CommandHeader{CommandType::kThrottleConfigure, false, false, 0xFF, 0}, kThrottle};
    a.on_datagram(now, datagram(a, std::nullopt, {configure}));
    b.on_datagram(now, datagram(b, std::nullopt, {configure}));
    const std::vector<std::uint8_t> bytes = volley::test::pattern(200, static_cast<std::uint32_t>(index));
    std::array<Sequences, kChannels> sequences{};
    for (int step = 0; step < 300; ++step) {
      now += static_cast<TimePoint>(rng() % 30) * kMillisecond;
      if (rng() % 4 == 0) {
        // Something of ours in flight, for the ACKs to find.
        const auto flags = rng() % 2 == 0 ? PacketFlags::kReliable : PacketFlags::kUnreliable;
        const Bytes payload(bytes.data(), 1 + rng() % 100);
        const auto channel = static_cast<std::uint8_t>(rng() % kChannels);
        CHECK(a.send(channel, payload, flags) == b.send(channel, payload, flags));
      }
      const auto sent_base = static_cast<std::uint16_t>(enet_ms(now));
      std::vector<Command> commands = random_commands(rng, sequences, sent_base, bytes);
      const std::optional<std::uint16_t> sent_time =
          rng() % 10 == 0 ? std::nullopt : std::optional<std::uint16_t>(static_cast<std::uint16_t>(sent_base - rng() % 50));
      // Both stay until their events are read (DatagramLifetime::kUntilDrained).
      const std::vector<std::uint8_t> one = datagram(a, sent_time, commands);
      commands.push_back(configure);
      const std::vector<std::uint8_t> other = datagram(b, sent_time, commands);
      const auto view_a = decode_header(one, false);
      const auto view_b = decode_header(other, false);
      REQUIRE(view_a.ok());
      REQUIRE(view_b.ok());
      const auto acks_before = a.counters()[Counter::kAcksIn];
      // Half the time the in-place reader may hand its packet over at once: it must then be
      // the packet the walk queued first.
      PeerEvent direct;
      const bool offer = rng() % 2 == 0;
      bool handed = false;
      if (offer) handed = a.on_datagram_direct(now, one, *view_a.value, direct);
      else a.on_datagram(now, one, *view_a.value, DatagramLifetime::kUntilDrained);
      b.on_datagram(now, other, *view_b.value, DatagramLifetime::kUntilDrained);
      handed_over += handed ? 1 : 0;
      acks_taken += a.counters()[Counter::kAcksIn] - acks_before;
      if (rng() % 8 == 0) {
        a.on_deadline(now);
        b.on_deadline(now);
      }
      const Output out_a = drain(a, now, handed ? &direct : nullptr);
      const Output out_b = drain(b, now);
      INFO("seed index " << index << ", step " << step << ", datagram " << to_hex(one));
      // The walked datagram is 16 bytes and one command longer.
      require_same(a, b, out_a, out_b, {Counter::kCommandsIn, Counter::kBytesIn});
      plain_delivered += out_a.events.size();
      ++compared;
    }
  }
  // The comparison means something only if the in-place reader ran often: deliveries and ACKs.
  MESSAGE("compared " << compared << " datagrams, " << plain_delivered << " deliveries (" << handed_over
                      << " handed over at once), " << acks_taken << " ACKs");
  CHECK(plain_delivered > 1000);
  CHECK(acks_taken > 2000);
  CHECK(handed_over > 300);
}

TEST_CASE("plain datagrams: commands-in counts every command of a datagram read in place") {
  Twin t(7);
  Peer& p = t.peer();
  const TimePoint now = t.h.now();
  const auto before = p.counters()[Counter::kCommandsIn];
  const std::vector<std::uint8_t> payload(8, 0x42);
  const auto sent = static_cast<std::uint16_t>(enet_ms(now));
  p.on_datagram(now, datagram(p, sent,
                              {Command{CommandHeader{CommandType::kAcknowledge, false, false, 0, 5}, Acknowledge{5, sent}},
                               Command{CommandHeader{CommandType::kAcknowledge, false, false, 1, 6}, Acknowledge{6, sent}},
                               Command{CommandHeader{CommandType::kSendReliable, true, false, 0, 1},
                                       SendReliable{Bytes(payload)}}}));
  CHECK(p.counters()[Counter::kCommandsIn] - before == 3);
  CHECK(p.counters()[Counter::kPacketsIn] >= 1);
}

TEST_CASE("plain datagrams: written in one pass, every effect equals the general assembly's") {
  std::size_t datagrams = 0, reliable_sent = 0;
  for (std::uint64_t index = 0; index < 40; ++index) {
    VOLLEY_SEEDED_RNG(rng, index);
    const std::uint64_t harness_seed = rng();
    Twin lean(harness_seed), general(harness_seed);
    Peer& a = lean.peer();
    Peer& b = general.peer();
    PeerInternals::set_lean_assembly(b, false);
    REQUIRE(a.state() == PeerState::kConnected);
    TimePoint now = lean.h.now();
    const std::vector<std::uint8_t> bytes = volley::test::pattern(3000, static_cast<std::uint32_t>(index));
    std::array<Sequences, kChannels> sequences{};
    for (int step = 0; step < 300; ++step) {
      now += static_cast<TimePoint>(rng() % 60) * kMillisecond;
      // Mostly one packet a step (the one-pass case), now and then several, a fragmented one or
      // an unsequenced one (the general case).
      const int sends = rng() % 6 == 0 ? 2 + static_cast<int>(rng() % 3) : static_cast<int>(rng() % 2);
      for (int i = 0; i < sends; ++i) {
        static constexpr PacketFlags kFlags[] = {PacketFlags::kReliable, PacketFlags::kReliable, PacketFlags::kUnreliable,
                                                 PacketFlags::kUnreliable, PacketFlags::kUnsequenced,
                                                 PacketFlags::kUnreliableFragment};
        const PacketFlags flags = kFlags[rng() % std::size(kFlags)];
        const std::size_t size = rng() % 10 == 0 ? 1300 + rng() % 1700 : rng() % 200;
        const auto channel = static_cast<std::uint8_t>(rng() % kChannels);
        const Bytes payload(bytes.data(), size);
        REQUIRE(a.send(channel, payload, flags) == b.send(channel, payload, flags));
        if (flags == PacketFlags::kReliable) ++reliable_sent;
      }
      if (rng() % 20 == 0) {
        a.ping();
        b.ping();
      }
      if (rng() % 2 == 0) {
        // From the client: ACKs of what we sent (some of them), maybe data to be acked.
        const auto sent_base = static_cast<std::uint16_t>(enet_ms(now));
        std::vector<Command> commands = random_commands(rng, sequences, sent_base, bytes);
        const auto one = datagram(a, sent_base, commands);
        a.on_datagram(now, one);
        b.on_datagram(now, one);
      }
      if (rng() % 30 == 0) {
        // More ACKs queued than one datagram takes (32 commands).
        for (std::uint16_t n = 0; n < 40; ++n) {
          const Command ping{CommandHeader{CommandType::kPing, true, false, 0xFF, n}, Ping{}};
          const auto one = datagram(a, static_cast<std::uint16_t>(enet_ms(now)), {ping});
          a.on_datagram(now, one);
          b.on_datagram(now, one);
        }
      }
      if (rng() % 4 == 0) {
        a.on_deadline(now);
        b.on_deadline(now);
      }
      const Output out_a = drain(a, now);
      const Output out_b = drain(b, now);
      INFO("seed index " << index << ", step " << step);
      require_same(a, b, out_a, out_b, {});
      datagrams += out_a.datagrams.size();
    }
  }
  MESSAGE("compared " << datagrams << " datagrams sent, " << reliable_sent << " reliable packets");
  CHECK(datagrams > 5000);
}

TEST_CASE("plain datagrams: a checksummed peer opens every datagram, and a bad CRC is dropped and counted") {
  sim::HarnessOptions o;
  o.client_config.checksum = o.server_config.checksum = true;
  sim::Harness h(o);
  REQUIRE(connect_pair(h, kChannels));
  h.run_for(sim::kSecond);
  Peer& client = h.client().peer;
  Peer& server = h.server().peer;
  const std::vector<std::uint8_t> payload(32, 0x5A);
  REQUIRE(client.send(0, Bytes(payload), PacketFlags::kReliable) == SendResult::kOk);
  std::array<std::uint8_t, kMaxMtu> buffer{};
  const std::size_t n = client.poll_datagram(h.now(), buffer);
  REQUIRE(n > payload.size());
  std::vector<std::uint8_t> bad(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
  bad[n - 1] ^= 0x01;  // a payload byte: only the CRC can tell
  const auto drops = server.counters()[Counter::kDropBadChecksum];
  server.on_datagram(h.now(), bad);
  CHECK(server.counters()[Counter::kDropBadChecksum] == drops + 1);
  CHECK_FALSE(server.has_events());
  server.on_datagram(h.now(), Bytes(buffer.data(), n));
  REQUIRE(server.has_events());
  CHECK(to_hex(server.peek_event()->bytes()) == to_hex(Bytes(payload)));
}

TEST_CASE("plain datagrams: a packet is handed over at once only with nothing of its peer queued ahead of it") {
  Twin t(11);
  Peer& p = t.peer();
  const TimePoint now = t.h.now();
  const auto sent = static_cast<std::uint16_t>(enet_ms(now));
  const std::vector<std::uint8_t> first(4, 0x01), second(4, 0x02), third(4, 0x03);
  const auto reliable = [](std::uint16_t rsn, const std::vector<std::uint8_t>& payload) {
    return Command{CommandHeader{CommandType::kSendReliable, true, false, 0, rsn}, SendReliable{Bytes(payload)}};
  };
  // Queued: the first packet, left unread.
  const auto one = datagram(p, sent, {reliable(1, first)});
  p.on_datagram(now, one);
  REQUIRE(p.has_events());
  // The second, in order and read in place, must queue behind it rather than overtake it.
  const auto two = datagram(p, sent, {reliable(2, second)});
  const auto view_two = decode_header(two, false);
  REQUIRE(view_two.ok());
  PeerEvent handed;
  CHECK_FALSE(p.on_datagram_direct(now, two, *view_two.value, handed));
  std::vector<std::string> order;
  while (const PeerEvent* e = p.peek_event()) {
    order.push_back(to_hex(e->bytes()));
    p.pop_event();
  }
  CHECK(order == std::vector<std::string>{to_hex(Bytes(first)), to_hex(Bytes(second))});
  // With the queue drained, the third is handed over, and nothing is queued for it.
  const auto three = datagram(p, sent, {reliable(3, third)});
  const auto view_three = decode_header(three, false);
  REQUIRE(view_three.ok());
  REQUIRE(p.on_datagram_direct(now, three, *view_three.value, handed));
  CHECK(to_hex(handed.bytes()) == to_hex(Bytes(third)));
  CHECK_FALSE(p.has_events());
  CHECK(p.stats().waiting_data == 0);
}
