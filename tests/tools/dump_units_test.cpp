// volley-dump's pieces in isolation: every supported link type and IP version down to the UDP
// payload, hex-line parsing, JSON escaping, flag errors, and the datagram renderer on the
// protocol document's captured vectors, on malformed datagrams, and on a mutated corpus.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "datagram_dump.hpp"
#include "gso_split.hpp"
#include "hex_input.hpp"
#include "json_check.hpp"
#include "options.hpp"
#include "packet_parse.hpp"
#include "pcap_writer.hpp"
#include "support/seed.hpp"

namespace {

using namespace volley::tools;
using Buffer = std::vector<std::uint8_t>;
using volley::test::JsonCheck;

const Buffer kPayload = {0x80, 0x00, 0xFA, 0x6D, 0x01, 0xFF, 0x00, 0x01,
                         0x00, 0x01, 0xFA, 0x6C, 0x85, 0xFF, 0x00, 0x02};

Buffer ipv4_udp(const Buffer& payload = kPayload) {
  return build_udp_frame(CaptureLink::kRaw, {0x7F000001, 50000}, {0x7F000002, 7777}, 1, payload);
}

Buffer ipv6_udp(const Buffer& payload, bool with_hop_by_hop) {
  Buffer p(40, 0);
  p[0] = 0x60;
  const std::size_t ext = with_hop_by_hop ? 8 : 0;
  const std::size_t length = ext + 8 + payload.size();
  p[4] = static_cast<std::uint8_t>(length >> 8);
  p[5] = static_cast<std::uint8_t>(length);
  p[6] = with_hop_by_hop ? 0 : 17;
  p[7] = 64;
  p[23] = 1;  // source ::1
  p[39] = 2;  // destination ::2
  if (with_hop_by_hop) {
    const Buffer hop = {17, 0, 1, 4, 0, 0, 0, 0};  // next = UDP, 8 bytes, PadN
    p.insert(p.end(), hop.begin(), hop.end());
  }
  const std::size_t udp_length = 8 + payload.size();
  const Buffer udp = {0xC3, 0x50, 0x1E, 0x61, static_cast<std::uint8_t>(udp_length >> 8),
                      static_cast<std::uint8_t>(udp_length), 0, 0};
  p.insert(p.end(), udp.begin(), udp.end());
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

Buffer prefixed(Buffer prefix, const Buffer& rest) {
  prefix.insert(prefix.end(), rest.begin(), rest.end());
  return prefix;
}

Buffer ethernet(std::uint16_t type, const Buffer& ip) {
  Buffer h(12, 0);
  h.push_back(static_cast<std::uint8_t>(type >> 8));
  h.push_back(static_cast<std::uint8_t>(type));
  return prefixed(h, ip);
}

Buffer sll(std::uint16_t protocol, const Buffer& ip) {
  Buffer h = {0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0};
  h.push_back(static_cast<std::uint8_t>(protocol >> 8));
  h.push_back(static_cast<std::uint8_t>(protocol));
  return prefixed(h, ip);
}

Buffer sll2(std::uint16_t protocol, const Buffer& ip) {
  Buffer h = {static_cast<std::uint8_t>(protocol >> 8), static_cast<std::uint8_t>(protocol), 0, 0, 0, 0, 0, 1,
              0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0};
  return prefixed(h, ip);
}

void check_v4(const FrameParse& parsed) {
  REQUIRE(parsed.datagram.has_value());
  const UdpDatagram& d = *parsed.datagram;
  CHECK(to_string(d.src) == "127.0.0.1:50000");
  CHECK(to_string(d.dst) == "127.0.0.2:7777");
  CHECK(Buffer(d.payload.begin(), d.payload.end()) == kPayload);
  CHECK_FALSE(d.truncated);
}

void check_v6(const FrameParse& parsed) {
  REQUIRE(parsed.datagram.has_value());
  const UdpDatagram& d = *parsed.datagram;
  CHECK(to_string(d.src) == "[::1]:50000");
  CHECK(to_string(d.dst) == "[::2]:7777");
  CHECK(Buffer(d.payload.begin(), d.payload.end()) == kPayload);
}

std::string dump_hex(DatagramDumper& dumper, const std::string& hex, std::size_t index = 1) {
  Buffer bytes;
  REQUIRE(parse_hex_line(hex, bytes) == HexLine::kDatagram);
  DatagramOrigin origin;
  origin.index = index;
  origin.line = index;
  const std::string json = dumper.dump(origin, bytes);
  INFO(json);
  CHECK(JsonCheck::is_object(json));
  return json;
}

bool has(const std::string& json, const std::string& needle) { return json.find(needle) != std::string::npos; }

// Appendix B of the protocol document (captured between two libenet 1.3.17 hosts).
const char* const kConnect =
    "8F FF FA 6B | 82 FF 00 01 | 00 00 | FF | FF | 00 00 05 78 | 00 01 00 00 | 00 00 00 02 | 00 00 00 00 |"
    " 00 00 00 00 | 00 00 13 88 | 00 00 00 02 | 00 00 00 02 | 8C 5B CA D0 | 00 00 00 2A";
const char* const kAckPing = "80 00 FA 6D | 01 FF 00 01 00 01 FA 6C | 85 FF 00 02";
const char* const kUnreliableTwice =
    "00 00 | 07 01 00 00 00 01 00 03 61 62 63 | 07 01 00 00 00 02 00 03 61 62 64";
const char* const kCrcConnect =
    "8F FF 40 C7 | 5D C9 91 09 | 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00 00 00 "
    "00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0 00 00 00 2A";
const char* const kCrcVerify =
    "80 00 40 C8 | 70 B1 46 ED | 83 FF 00 01 00 00 00 00 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00 00 00 "
    "00 00 00 00 13 88 00 00 00 02 00 00 00 02 E4 35 DC E0";

}  // namespace

TEST_CASE("dump: every supported link type yields the UDP datagram") {
  const Buffer v4 = ipv4_udp();
  check_v4(parse_frame(LinkType::kRaw, v4));
  check_v4(parse_frame(LinkType::kEthernet, ethernet(0x0800, v4)));
  check_v4(parse_frame(LinkType::kEthernet, ethernet(0x8100, prefixed({0, 1, 0x08, 0x00}, v4))));  // VLAN
  check_v4(parse_frame(LinkType::kLinuxSll, sll(0x0800, v4)));
  check_v4(parse_frame(LinkType::kLinuxSll2, sll2(0x0800, v4)));
  check_v4(parse_frame(LinkType::kNull, prefixed({2, 0, 0, 0}, v4)));  // little-endian host
  check_v4(parse_frame(LinkType::kNull, prefixed({0, 0, 0, 2}, v4)));  // big-endian host
  check_v4(parse_frame(LinkType::kLoop, prefixed({0, 0, 0, 2}, v4)));

  const Buffer v6 = ipv6_udp(kPayload, false);
  check_v6(parse_frame(LinkType::kRaw, v6));
  check_v6(parse_frame(LinkType::kRaw, ipv6_udp(kPayload, true)));
  check_v6(parse_frame(LinkType::kEthernet, ethernet(0x86DD, v6)));
  check_v6(parse_frame(LinkType::kLinuxSll, sll(0x86DD, v6)));
  check_v6(parse_frame(LinkType::kLinuxSll2, sll2(0x86DD, v6)));
  check_v6(parse_frame(LinkType::kNull, prefixed({10, 0, 0, 0}, v6)));
  check_v6(parse_frame(LinkType::kNull, prefixed({0, 0, 0, 30}, v6)));
  check_v6(parse_frame(LinkType::kLoop, prefixed({0, 0, 0, 24}, v6)));

  CHECK(link_type_from_dlt(1) == LinkType::kEthernet);
  CHECK(link_type_from_dlt(113) == LinkType::kLinuxSll);
  CHECK(link_type_from_dlt(276) == LinkType::kLinuxSll2);
  CHECK(link_type_from_dlt(0) == LinkType::kNull);
  CHECK_FALSE(link_type_from_dlt(105).has_value());  // 802.11
}

TEST_CASE("dump: non-UDP, padded, truncated and fragmented frames") {
  Buffer tcp = ipv4_udp();
  tcp[9] = 6;
  CHECK(parse_frame(LinkType::kRaw, tcp).skipped == SkipReason::kNotUdp);
  CHECK(parse_frame(LinkType::kEthernet, ethernet(0x0806, ipv4_udp())).skipped == SkipReason::kNotIp);

  // Ethernet padding after the IP packet is not payload.
  Buffer padded = ethernet(0x0800, ipv4_udp());
  padded.resize(padded.size() + 6, 0xEE);
  check_v4(parse_frame(LinkType::kEthernet, padded));

  // Snap length shorter than the packet: the payload is what was captured, flagged.
  Buffer cut = ipv4_udp();
  cut.resize(cut.size() - 5);
  const FrameParse partial = parse_frame(LinkType::kRaw, cut);
  REQUIRE(partial.datagram.has_value());
  CHECK(partial.datagram->truncated);
  CHECK(partial.datagram->payload.size() == kPayload.size() - 5);

  Buffer later = ipv4_udp();
  later[7] = 0x10;  // fragment offset 16 * 8
  CHECK(parse_frame(LinkType::kRaw, later).skipped == SkipReason::kLaterFragment);
  Buffer first = ipv4_udp();
  first[6] = 0x20;  // more fragments
  REQUIRE(parse_frame(LinkType::kRaw, first).datagram.has_value());
  CHECK(parse_frame(LinkType::kRaw, first).datagram->truncated);

  // Every prefix of every link type parses without reading past the end.
  const std::vector<std::pair<LinkType, Buffer>> frames = {
      {LinkType::kEthernet, ethernet(0x0800, ipv4_udp())}, {LinkType::kLinuxSll, sll(0x86DD, ipv6_udp(kPayload, true))},
      {LinkType::kLinuxSll2, sll2(0x0800, ipv4_udp())},    {LinkType::kNull, prefixed({2, 0, 0, 0}, ipv4_udp())},
      {LinkType::kLoop, prefixed({0, 0, 0, 30}, ipv6_udp(kPayload, false))}};
  for (const auto& [link, frame] : frames) {
    for (std::size_t n = 0; n < frame.size(); ++n) {
      const Buffer prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
      const FrameParse parsed = parse_frame(link, prefix);
      if (parsed.datagram) CHECK(parsed.datagram->payload.size() <= n);
    }
  }
}

// IPv6 followed by `count` destination-options headers (8 bytes each), then UDP with kPayload.
Buffer ipv6_with_options(int count) {
  Buffer p(40, 0);
  p[0] = 0x60;
  const std::size_t length = static_cast<std::size_t>(count) * 8 + 8 + kPayload.size();
  p[4] = static_cast<std::uint8_t>(length >> 8);
  p[5] = static_cast<std::uint8_t>(length);
  p[6] = count > 0 ? 60 : 17;
  p[23] = 1;
  p[39] = 2;
  for (int i = 0; i < count; ++i) {
    const Buffer options = {static_cast<std::uint8_t>(i + 1 < count ? 60 : 17), 0, 1, 4, 0, 0, 0, 0};
    p.insert(p.end(), options.begin(), options.end());
  }
  const Buffer udp = {0xC3, 0x50, 0x1E, 0x61, 0, static_cast<std::uint8_t>(8 + kPayload.size()), 0, 0};
  p.insert(p.end(), udp.begin(), udp.end());
  p.insert(p.end(), kPayload.begin(), kPayload.end());
  return p;
}

TEST_CASE("dump: lengths that point past the packet are malformed, at each edge") {
  // IPv4 header length beyond the captured bytes, with a total length that claims more still.
  Buffer long_header = ipv4_udp();
  long_header[0] = 0x4F;  // 60-byte header, 44 bytes captured
  long_header[2] = 0;
  long_header[3] = 100;
  CHECK(parse_frame(LinkType::kRaw, long_header).skipped == SkipReason::kMalformed);
  // A UDP length under the UDP header's own 8 bytes.
  for (std::uint8_t udp_length : {0, 7}) {
    Buffer short_udp = ipv4_udp();
    short_udp[24] = 0;
    short_udp[25] = udp_length;
    CHECK(parse_frame(LinkType::kRaw, short_udp).skipped == SkipReason::kMalformed);
  }
  Buffer exact_udp = ipv4_udp();
  exact_udp[25] = 8;  // a UDP length of 8: an empty payload
  REQUIRE(parse_frame(LinkType::kRaw, exact_udp).datagram.has_value());
  CHECK(parse_frame(LinkType::kRaw, exact_udp).datagram->payload.empty());
  // Up to 8 IPv6 extension headers are walked; a ninth is refused.
  check_v6(parse_frame(LinkType::kRaw, ipv6_with_options(8)));
  CHECK(parse_frame(LinkType::kRaw, ipv6_with_options(9)).skipped == SkipReason::kMalformed);
  // An extension header one byte longer than what is left (payload length 0 takes all captured).
  Buffer cut = ipv6_with_options(1);
  cut.resize(40 + 7);
  cut[4] = cut[5] = 0;
  CHECK(parse_frame(LinkType::kRaw, cut).skipped == SkipReason::kMalformed);
  cut.push_back(0);  // exactly the header: walked, then too short for UDP
  CHECK(parse_frame(LinkType::kRaw, cut).skipped == SkipReason::kMalformed);
}

TEST_CASE("dump: random frames never crash the link/IP/UDP parser") {
  VOLLEY_SEEDED_RNG(rng, 0xD0);
  const LinkType links[] = {LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2,
                            LinkType::kRaw,      LinkType::kNull,     LinkType::kLoop};
  for (int i = 0; i < 20000; ++i) {
    Buffer frame(rng() % 120);
    for (auto& b : frame) b = static_cast<std::uint8_t>(rng());
    if (!frame.empty() && i % 2 == 0) frame[0] = static_cast<std::uint8_t>(i % 4 == 0 ? 0x45 : 0x60);
    const FrameParse parsed = parse_frame(links[i % 6], frame);
    if (parsed.datagram) CHECK(parsed.datagram->payload.size() <= frame.size());
  }
}

TEST_CASE("dump: hex lines") {
  Buffer out;
  CHECK(parse_hex_line("8F FF | fa:6b,00-01", out) == HexLine::kDatagram);
  CHECK(out == Buffer{0x8F, 0xFF, 0xFA, 0x6B, 0x00, 0x01});
  CHECK(parse_hex_line("   # a comment", out) == HexLine::kBlank);
  CHECK(parse_hex_line("", out) == HexLine::kBlank);
  CHECK(parse_hex_line("8F F", out) == HexLine::kBad);
  CHECK(parse_hex_line("hello", out) == HexLine::kBad);
  CHECK(parse_hex_line("00 00 # trailing comment", out) == HexLine::kDatagram);
  CHECK(out.size() == 2);
}

TEST_CASE("dump: JSON strings are escaped") {
  JsonWriter json;
  json.begin_object().field("k\"ey", std::string_view("a\"b\\c\n\x01\xff", 8)).begin_array("xs").value("1").end_array();
  json.end_object();
  CHECK(json.str() == "{\"k\\\"ey\":\"a\\\"b\\\\c\\n\\u0001\\u00ff\",\"xs\":[\"1\"]}");
  CHECK(JsonCheck::is_object(json.str()));
  CHECK_FALSE(JsonCheck::is_object("{\"a\":1,}"));
  CHECK_FALSE(JsonCheck::is_object("{\"a\":\"\x01\"}"));
  // The last control character is escaped too, and JSON has no infinities: they are null.
  JsonWriter edges;
  edges.begin_object()
      .field("c", std::string_view("\x1f", 1))
      .number("inf", std::numeric_limits<double>::infinity())
      .number("minus_inf", -std::numeric_limits<double>::infinity())
      .end_object();
  CHECK(edges.str() == "{\"c\":\"\\u001f\",\"inf\":null,\"minus_inf\":null}");
  CHECK(JsonCheck::is_object(edges.str()));
}

// The layout of volley-server's stats file (scripts and tests grep `"key": value,`).
TEST_CASE("json writer: indented layout puts one member per line") {
  JsonWriter json(JsonWriter::Layout::kIndented);
  json.begin_object()
      .field("a", std::uint64_t{1})
      .begin_object("o")
      .field("s", "x")
      .end_object()
      .begin_array("e")
      .end_array()
      .number("f", 0.25, "%.3f")
      .number("nan", std::nan(""))
      .end_object();
  CHECK(json.str() == "{\n  \"a\": 1,\n  \"o\": {\n    \"s\": \"x\"\n  },\n  \"e\": [],\n  \"f\": 0.250,\n"
                      "  \"nan\": null\n}");
  CHECK(JsonCheck::is_object(json.str()));
}

TEST_CASE("dump: command-line errors are one line each") {
  const auto parse = [](std::vector<const char*> args) { return parse_dump_options(args); };
  CHECK(parse({"--pcap", "x.pcap", "--port", "7777", "--checksum", "--range-coder"}).options.has_value());
  CHECK(parse({"--port=7777", "--compressed"}).options->port == 7777);
  CHECK(parse({}).options.has_value());
  for (const auto& bad : std::vector<std::vector<const char*>>{
           {"--bogus"}, {"--port"}, {"--port", "0"}, {"--port", "65536"}, {"--port", "77x"},
           {"--pcap"}, {"--checksum=yes"}, {"positional"}}) {
    const ParsedDumpOptions parsed = parse(bad);
    CHECK_FALSE(parsed.options.has_value());
    CHECK_FALSE(parsed.error.empty());
    CHECK(parsed.error.find('\n') == std::string::npos);
  }
}

TEST_CASE("dump: captured vectors decode with every field") {
  DatagramDumper dumper(false);
  const std::string connect = dump_hex(dumper, kConnect);
  CHECK(has(connect, "\"peer_id\":4095"));
  CHECK(has(connect, "\"sent_time\":64107"));
  CHECK(has(connect, "\"command\":\"CONNECT\",\"flags\":[\"acknowledge\"],\"channel\":255,\"reliable_sequence\":1"));
  CHECK(has(connect, "\"mtu\":1400"));
  CHECK(has(connect, "\"connect_id\":\"8c5bcad0\",\"data\":42"));
  const std::string ack_ping = dump_hex(dumper, kAckPing);
  CHECK(has(ack_ping, "\"command\":\"ACKNOWLEDGE\""));
  CHECK(has(ack_ping, "\"received_sent_time\":64108"));
  CHECK(has(ack_ping, "\"command\":\"PING\""));
  const std::string unreliable = dump_hex(dumper, kUnreliableTwice);
  CHECK(has(unreliable, "\"sent_time\":null"));
  CHECK(has(unreliable, "\"unreliable_sequence\":2,\"payload_length\":3,\"payload_hex\":\"616264\""));
  CHECK_FALSE(has(connect + ack_ping + unreliable, "error"));
}

TEST_CASE("dump: CRC32 verified with the connectID learned from the CONNECT") {
  DatagramDumper dumper(true);
  const std::string connect = dump_hex(dumper, kCrcConnect);
  CHECK(has(connect, "\"crc\":\"5dc99109\",\"checksum\":\"ok\""));
  const std::string verify = dump_hex(dumper, kCrcVerify);
  CHECK(has(verify, "\"checksum\":\"ok\""));

  // A datagram for a known peer with no CONNECT in sight cannot be checked.
  DatagramDumper fresh(true);
  CHECK(has(dump_hex(fresh, "00 00 12 34 56 78 85 FF 00 02"), "\"checksum\":\"unverified\""));

  // One flipped bit in the body: reported, and the commands are still shown.
  std::string corrupted = kCrcConnect;
  corrupted.replace(corrupted.size() - 2, 2, "2B");
  const std::string bad = dump_hex(dumper, corrupted);
  CHECK(has(bad, "\"checksum\":\"bad\""));
  CHECK(has(bad, "\"error\":\"bad_checksum\""));
  CHECK(has(bad, "\"command\":\"CONNECT\""));
}

TEST_CASE("dump: malformed datagrams become error objects") {
  DatagramDumper dumper(false);
  CHECK(has(dump_hex(dumper, "8F"), "\"error\":\"truncated_header\""));
  CHECK(has(dump_hex(dumper, "80 00 FA"), "\"error\":\"truncated_header\""));
  CHECK(has(dump_hex(dumper, "00 00 0F 00 00 01"), "\"error\":\"unknown_command\""));
  CHECK(has(dump_hex(dumper, "00 00 07 01 00 00 00 01 00 09 61"), "\"error\":\"payload_past_end\""));
  CHECK(has(dump_hex(dumper, "00 00 82 FF 00 01 00 00"), "\"error\":\"command_truncated\""));
  CHECK(has(dump_hex(dumper, "CF FF 00 01"), "\"error\":\"decompress_failed\""));
  // The commands before the failure are kept.
  const std::string partial = dump_hex(dumper, "00 00 85 FF 00 02 | 0F 00 00 01");
  CHECK(has(partial, "\"command\":\"PING\""));
  CHECK(has(partial, "\"error\":\"unknown_command\""));
  // A CONNECT header with anything else is refused, as libenet refuses it.
  CHECK(has(dump_hex(dumper, "8F FF FA 6B 85 FF 00 02"), "\"error\":\"not_connect\""));
  DatagramDumper crc(true);
  CHECK(has(dump_hex(crc, "8F FF FA 6B 00 00"), "\"error\":\"truncated_checksum\""));
}

Buffer hex_bytes(const char* hex) {
  Buffer bytes;
  REQUIRE(parse_hex_line(hex, bytes) == HexLine::kDatagram);
  return bytes;
}

Buffer joined(std::initializer_list<Buffer> parts) {
  Buffer out;
  for (const Buffer& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TEST_CASE("dump: a GSO packet splits back into its datagrams, and nothing else splits") {
  const Buffer ack_ping = hex_bytes(kAckPing);  // 16 bytes: header, ACK, PING
  const Buffer ping = hex_bytes("80 00 FA 6D 85 FF 00 02");
  const Buffer unreliable = hex_bytes(kUnreliableTwice);
  CHECK(gso_segment_size(joined({ack_ping, ack_ping, ack_ping}), false) == std::optional<std::size_t>(16));
  CHECK(gso_segment_size(joined({ack_ping, ack_ping, ping}), false) == std::optional<std::size_t>(16));
  CHECK(gso_segment_size(joined({unreliable, unreliable}), false) == std::optional<std::size_t>(unreliable.size()));
  // CRC32 sessions: a CONNECT then a shorter VERIFY_CONNECT, the last segment being the short one.
  const Buffer crc_connect = hex_bytes(kCrcConnect);
  CHECK(gso_segment_size(joined({crc_connect, hex_bytes(kCrcVerify)}), true) ==
        std::optional<std::size_t>(crc_connect.size()));

  // A run that also reads as one clean datagram (0x8A, the first byte of each header, is a
  // BANDWIDTH_LIMIT with the ACK flag, 12 bytes long): split, since every header carries the
  // same sentTime, as one sender's pass stamps them.
  const Buffer timed = hex_bytes("8A D1 19 E4 85 FF 00 0A");
  const Buffer run = joined({timed, timed, timed});
  DatagramDumper whole(false);
  DatagramOrigin origin;
  CHECK_FALSE(has(whole.dump(origin, run), "error"));
  CHECK(gso_segment_size(run, false) == std::optional<std::size_t>(8));

  // A run without sentTime (ACKs only) that also reads as one clean datagram: its second header,
  // 06 00, reads as a SEND_RELIABLE whose length field is the ACK's sequence number, 4, which
  // ends it exactly at the end of the packet. Split, since every header names the same peer.
  const Buffer untimed = hex_bytes("06 00 | 01 00 00 04 00 04 12 34");
  const Buffer untimed_run = joined({untimed, untimed});
  CHECK_FALSE(has(whole.dump(origin, untimed_run), "error"));
  CHECK(gso_segment_size(untimed_run, false) == std::optional<std::size_t>(10));
  CHECK(gso_segment_size(joined({untimed, untimed, untimed}), false) == std::optional<std::size_t>(10));

  // Three peers' ACK-only datagrams to one address (bots sharing a socket): read as one, the
  // second header, 0A 11, is a BANDWIDTH_LIMIT on channel 0x11, 12 bytes, after which the third
  // datagram's ACK ends it cleanly. No ENet sender writes a peer-level command off channel 0xFF,
  // so the packet is not a clean datagram by itself and is split.
  const Buffer three_peers = joined({hex_bytes("00 05 | 01 00 00 04 00 04 12 34"),
                                     hex_bytes("0A 11 | 01 00 00 04 00 04 12 34"),
                                     hex_bytes("00 07 | 01 00 00 04 00 04 12 34")});
  CHECK_FALSE(has(whole.dump(origin, three_peers), "error"));
  CHECK(gso_segment_size(three_peers, false) == std::optional<std::size_t>(10));

  // One datagram, valid or not, stays whole.
  CHECK_FALSE(gso_segment_size(hex_bytes("00 00 | 01 00 00 01 00 01 F6 93 | 01 00 00 02 00 02 F6 93"), false));
  // Its ACKs start with the header's two bytes (peer 0x100, session 0, channel 0), so the piece
  // after the first ACK names the same peer; it does not decode, so no split.
  CHECK_FALSE(gso_segment_size(hex_bytes("01 00 | 01 00 00 01 00 01 F6 93 | 01 00 00 02 00 02 F6 93"), false));
  CHECK_FALSE(gso_segment_size(ack_ping, false));
  CHECK_FALSE(gso_segment_size(hex_bytes(kConnect), false));
  CHECK_FALSE(gso_segment_size(hex_bytes("00 00 0F 00 00 01"), false));
  CHECK_FALSE(gso_segment_size(hex_bytes("00 00 85 FF 00 02 | 0F 00 00 01"), false));
  // A run whose last datagram is cut, or a longer one after a shorter, is not a GSO packet.
  Buffer cut = joined({ack_ping, ack_ping, ack_ping});
  cut.resize(cut.size() - 2);
  CHECK_FALSE(gso_segment_size(cut, false));
  CHECK_FALSE(gso_segment_size(joined({ping, ack_ping}), false));
  // A segment must hold a command: a header alone, even with the first one's sentTime, is not a
  // datagram of the run.
  CHECK_FALSE(gso_segment_size(hex_bytes("00 00 00 00 00 00"), false));
  CHECK_FALSE(gso_segment_size(hex_bytes("80 00 FA 6D 85 FF 00 02 80 00 FA 6D"), false));
}

TEST_CASE("dump: a mutated corpus of real datagrams never crashes and stays valid JSON") {
  std::vector<Buffer> corpus;
  for (const char* hex : {kConnect, kAckPing, kUnreliableTwice, kCrcConnect, kCrcVerify}) {
    Buffer bytes;
    REQUIRE(parse_hex_line(hex, bytes) == HexLine::kDatagram);
    corpus.push_back(bytes);
  }
  for (int mode = 0; mode < 2; ++mode) {
    DatagramDumper dumper(mode == 1);
    VOLLEY_SEEDED_RNG(rng, 0xC0 + mode);
    for (std::size_t i = 0; i < 20000; ++i) {
      Buffer d = corpus[i % corpus.size()];
      switch (rng() % 4) {
        case 0:
          d[rng() % d.size()] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
          break;
        case 1:
          d.resize(rng() % (d.size() + 1));
          break;
        case 2:
          d[0] |= 0x40;  // claim compression over an uncompressed body
          break;
        default:
          for (auto& b : d) b = static_cast<std::uint8_t>(rng());
      }
      DatagramOrigin origin;
      origin.index = i + 1;
      const std::string json = dumper.dump(origin, d);
      INFO(json);
      REQUIRE(JsonCheck::is_object(json));
      const Buffer twice = joined({d, d});
      const auto segment = gso_segment_size(twice, mode == 1);
      if (segment) CHECK(*segment < twice.size());
    }
  }
}
