// volley-flood's pure pieces (docs/attacks.md): the forged source generator stays inside its
// block and is reproducible; a forged CONNECT is one the server's peek_connect accepts; each
// mutation does what its name says, and the mutator's stream is fixed by its seed; bad flags;
// the executable itself: no forged source sends more than --rotate datagrams.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connect_forge.hpp"
#include "forged_sources.hpp"
#include "mutator.hpp"
#include "options.hpp"
#include "cli_run.hpp"
#include "support/seed.hpp"
#include "support/udp_socket.hpp"
#include "volley/protocol/enet_wire.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::attack {
namespace {

using namespace volley::protocol;

TEST_CASE("forged sources: inside 127.0.0.0/8, never the real clients' /16, reproducible and spread") {
  VOLLEY_SEEDED_RNG(rng, 1);
  const std::uint64_t seed = rng();
  ForgedSources a(seed), b(seed), c(seed + 1);
  std::set<std::uint32_t> ips;
  std::set<std::uint32_t> second_octets;
  int same_as_other_seed = 0;
  for (int i = 0; i < 20000; ++i) {
    const Source s = a.next();
    const Source t = b.next();
    const Source u = c.next();
    CHECK(is_forgeable(s));
    CHECK((s.ip >> 24) == 127);
    CHECK(((s.ip >> 16) & 0xFF) != 0);
    CHECK((s.ip & 0xFF) != 0);
    CHECK((s.ip & 0xFF) != 255);
    CHECK(s.port >= 1024);
    CHECK(s.ip == t.ip);
    CHECK(s.port == t.port);
    if (s.ip == u.ip && s.port == u.port) ++same_as_other_seed;
    ips.insert(s.ip);
    second_octets.insert((s.ip >> 16) & 0xFF);
  }
  CHECK(same_as_other_seed < 5);
  CHECK(ips.size() > 19900);          // 16.5 M addresses: almost no repeats in 20,000
  CHECK(second_octets.size() == 255);  // every /16 but 127.0.x.x
  CHECK(Source{(127u << 24) | (1u << 16) | 2, 7000}.text() == "127.1.0.2:7000");
  CHECK_FALSE(is_forgeable(Source{(127u << 24) | 1, 7000}));  // 127.0.0.1
}

TEST_CASE("forged CONNECT: the server reads a CONNECT, and each one is a new handshake") {
  VOLLEY_SEEDED_RNG(seed_rng, 2);
  Rng rng(seed_rng());
  std::set<std::array<std::uint8_t, 4>> ids;
  for (int i = 0; i < 1000; ++i) {
    std::array<std::uint8_t, 256> buf{};
    const std::size_t n = forge_connect(rng, buf);
    REQUIRE(n == kForgedConnectBytes);
    const auto request = peek_connect(Bytes(buf.data(), n), PeerConfig::server_defaults());
    REQUIRE(request.has_value());
    CHECK(request->params.channel_count == 2);
    CHECK(request->params.mtu == kDefaultMtu);
    CHECK(request->params.outgoing_peer_id < kMaxPeerId);
    ids.insert(request->params.connect_id);
  }
  CHECK(ids.size() > 990);
  std::array<std::uint8_t, 16> small{};
  CHECK(forge_connect(rng, small) == 0);
}

// Two real datagrams: a 4-byte-header PING to peer 5 session 1, and a 2-byte-header one.
std::vector<Mutator::Datagram> sample_seeds() {
  std::vector<Mutator::Datagram> seeds;
  for (bool sent_time : {true, false}) {
    std::array<std::uint8_t, 64> buf{};
    Header h;
    h.peer_id = 5;
    h.session = 1;
    if (sent_time) h.sent_time = 0x1234;
    std::size_t n = encode_header(h, false, buf);
    const Command ping{{CommandType::kPing, true, false, kPeerLevelChannel, 3}, Ping{}};
    n += encode_command(ping, MutableBytes(buf).subspan(n));
    const Command reliable{{CommandType::kSendReliable, true, false, 0, 4}, SendReliable{Bytes(buf.data(), 8)}};
    std::array<std::uint8_t, 64> body{};
    const std::size_t m = encode_command(reliable, body);
    seeds.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    seeds.back().insert(seeds.back().end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(m));
  }
  return seeds;
}

int differing_bits(const std::vector<std::uint8_t>& a, const std::uint8_t* b) {
  int bits = 0;
  for (std::size_t i = 0; i < a.size(); ++i) bits += std::popcount(static_cast<unsigned>(a[i] ^ b[i]));
  return bits;
}

TEST_CASE("mutator: each mutation does what it says") {
  VOLLEY_SEEDED_RNG(seed_rng, 3);
  const auto seeds = sample_seeds();
  Mutator m(seed_rng(), seeds);
  std::vector<std::uint8_t> out(4096);
  const SessionBits session = 0x2ABC;  // peer 0xABC, session 2
  for (int i = 0; i < 300; ++i) {
    CAPTURE(i);
    {  // truncation: a strict prefix of a seed
      const std::size_t n = m.make(Mutation::kTruncate, out, std::nullopt);
      const bool prefix = std::any_of(seeds.begin(), seeds.end(), [&](const auto& s) {
        return n < s.size() && std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), s.begin());
      });
      CHECK(prefix);
    }
    {  // bit flips: same length as a seed, 1..8 bits differ from it
      const std::size_t n = m.make(Mutation::kBitFlip, out, std::nullopt);
      const bool flipped = std::any_of(seeds.begin(), seeds.end(), [&](const auto& s) {
        const int d = s.size() == n ? differing_bits(s, out.data()) : 0;
        return d >= 1 && d <= 8;
      });
      CHECK(flipped);
    }
    {  // a session's bits are carried, the flags kept
      const std::size_t n = m.make(Mutation::kBadCrc, out, session);
      REQUIRE(n >= 2);
      CHECK((((out[0] << 8) | out[1]) & 0x3FFF) == session);
    }
    {  // bad peer id: the session's bits are not used (a 1-in-16384 draw may hit them)
      const std::size_t n = m.make(Mutation::kBadPeerId, out, session);
      const auto seed = std::find_if(seeds.begin(), seeds.end(), [&](const auto& s) {
        return s.size() == n && std::equal(out.begin() + 2, out.begin() + static_cast<std::ptrdiff_t>(n), s.begin() + 2);
      });
      CHECK(seed != seeds.end());
    }
    {  // huge fragment: decodes as a SEND_FRAGMENT over ENet's limits, to the session's peer
      const std::size_t n = m.make(Mutation::kHugeFragment, out, session);
      const auto view = decode_header(Bytes(out.data(), n), false);
      REQUIRE(view.ok());
      CHECK(view.value->header.peer_id == 0xABC);
      CHECK(view.value->header.session == 2);
      CommandReader reader(view.value->body, false);
      Command command;
      REQUIRE(reader.next(command));
      REQUIRE(command.header.type == CommandType::kSendFragment);
      const auto& f = std::get<SendFragment>(command.body);
      CHECK((f.fragment_count > kMaxFragmentCount || f.total_length > kDefaultMaxPacketSize));
      CHECK(f.fragment_number < f.fragment_count);
    }
  }
}

TEST_CASE("mutator: the stream is fixed by the seed and covers every mutation") {
  VOLLEY_SEEDED_RNG(seed_rng, 4);
  const std::uint64_t seed = seed_rng();
  Mutator a(seed, sample_seeds()), b(seed, sample_seeds());
  std::vector<std::uint8_t> x(4096), y(4096);
  std::array<int, kMutationCount> kinds{};
  for (int i = 0; i < 2000; ++i) {
    const auto ma = a.next(x, std::optional<SessionBits>(7));
    const auto mb = b.next(y, std::optional<SessionBits>(7));
    REQUIRE(ma.kind == mb.kind);
    REQUIRE(ma.size == mb.size);
    CHECK(std::equal(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(ma.size), y.begin()));
    kinds[static_cast<std::size_t>(ma.kind)] += 1;
  }
  for (std::size_t k = 0; k < kMutationCount; ++k) {
    CAPTURE(mutation_name(static_cast<Mutation>(k)));
    CHECK(kinds[k] > 200);
  }
  CHECK_THROWS(Mutator(1, {}));
  CHECK_THROWS(Mutator(1, {{0x80}}));
}

TEST_CASE("volley-flood flags: one-line errors") {
  const auto error = [](std::vector<std::string> args) { return parse_options(args).error; };
  CHECK(error({"--server", "127.0.0.1:7000"}).empty());
  const Parsed ok = parse_options({"--server", "127.0.0.1:7000", "--mode", "garbage", "--corpus", "x", "--rate", "0"});
  CHECK(ok.error.empty());
  CHECK(ok.options.server_ip == 0x7F000001);
  CHECK(ok.options.server_port == 7000);
  CHECK(ok.options.mode == FloodMode::kGarbage);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {},
           {"--server", "localhost:7000"},
           {"--server", "127.0.0.1"},
           {"--server", "127.0.0.1:0"},
           {"--server", "127.0.0.1:70000"},
           {"--server", "127.0.0.1:7000", "--mode", "spam"},
           {"--server", "127.0.0.1:7000", "--mode", "garbage"},
           {"--server", "127.0.0.1:7000", "--rate", "-1"},
           {"--server", "127.0.0.1:7000", "--seconds", "nan"},
           {"--server", "127.0.0.1:7000", "--sources", "0"},
           {"--server", "127.0.0.1:7000", "--bogus"},
           {"--server", "127.0.0.1:7000", "--report-json="},
           {"--server", "127.0.0.1:7000", "--sessions", "4"},  // connect mode: ignored before
           {"--server", "127.0.0.1:7000", "--session-share", "0.5"},
           {"--server", "127.0.0.1:7000", "--corpus", "x"}}) {
    CAPTURE(bad.size());
    const std::string e = error(bad);
    CHECK_FALSE(e.empty());
    CHECK(e.find('\n') == std::string::npos);
  }
}

TEST_CASE("volley-flood --rotate: no forged source sends more than that many datagrams") {
  // At full rate the flood sends batches of 64 from one socket; each batch used to leave whole,
  // so --rotate below 64 was not honoured (--rotate 1: 64 datagrams a source).
  volley::test::UdpSocket target;
  volley::test::TempDir dir;
  const volley::test::Run r =
      volley::test::run(dir, std::string(VOLLEY_FLOOD_EXE) + " --server 127.0.0.1:" + std::to_string(target.port()) +
                                 " --rotate 2 --sources 4 --rate 0 --seconds 0.2");
  REQUIRE(r.exited);
  CHECK(r.code == 0);
  std::map<std::pair<std::uint32_t, std::uint16_t>, int> per_source;
  int received = 0;
  while (const auto d = target.receive(50)) {
    const auto& from = reinterpret_cast<const sockaddr_in&>(d->from);
    per_source[{ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)}] += 1;
    ++received;
  }
  REQUIRE(received > 100);  // what the receive buffer held: enough batches to tell
  int most = 0;
  for (const auto& [source, count] : per_source) most = std::max(most, count);
  CHECK(most <= 2);
  CHECK(per_source.size() * 2 >= static_cast<std::size_t>(received));
}

}  // namespace
}  // namespace volley::attack
