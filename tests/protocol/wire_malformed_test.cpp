// Every malformed-input class yields its named DecodeError, and commands decoded before the
// failure are kept (libenet keeps their effects). Plus a corpus of mutated real datagrams that
// must never crash the decoder (run under the asan preset in CI).
#include <doctest/doctest.h>

#include <array>

#include "support/hex.hpp"
#include "support/seed.hpp"
#include "volley/protocol/datagram.hpp"
#include "wire_helpers.hpp"

using namespace volley::protocol;
using volley::test::from_hex;
using volley::test::parse;

namespace {

std::optional<DecodeError> open_error(const std::vector<std::uint8_t>& d, OpenOptions options) {
  std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
  const auto r = open_datagram(d, options, ChecksumSeed{1, 2, 3, 4}, scratch);
  if (r.ok()) return std::nullopt;
  return r.error;
}

}  // namespace

TEST_CASE("malformed: header errors") {
  CHECK(parse({}).error == DecodeError::kTruncatedHeader);
  CHECK(parse(from_hex("80")).error == DecodeError::kTruncatedHeader);
  CHECK(parse(from_hex("80 00 12")).error == DecodeError::kTruncatedHeader);  // sent-time flag, 1 byte
  CHECK(parse(from_hex("00 00 12"), true).error == DecodeError::kTruncatedChecksum);
  CHECK(parse(from_hex("80 00 12 34 00 00 00"), true).error == DecodeError::kTruncatedChecksum);
  // A bare header is a valid, empty datagram.
  const auto empty = parse(from_hex("00 00"));
  CHECK_FALSE(empty.error);
  CHECK(empty.commands.empty());
}

TEST_CASE("malformed: command stream errors keep earlier commands") {
  const std::string ping = "85 FF 00 02 ";
  struct Case {
    const char* name;
    std::string hex;
    DecodeError error;
  };
  const Case cases[] = {
      {"trailing bytes", "00 00 " + ping + "85 FF", DecodeError::kTrailingBytes},
      {"command number 0", "00 00 " + ping + "80 FF 00 03", DecodeError::kUnknownCommand},
      {"command number 13", "00 00 " + ping + "8D FF 00 03", DecodeError::kUnknownCommand},
      {"command number 15", "00 00 " + ping + "0F FF 00 03", DecodeError::kUnknownCommand},
      {"fixed part truncated", "00 00 " + ping + "8A FF 00 03 00 00 00 00", DecodeError::kCommandTruncated},
      {"payload past end", "00 00 " + ping + "86 00 00 01 00 64 61 62 63", DecodeError::kPayloadPastEnd},
      {"fragment payload past end",
       "00 00 " + ping + "88 00 00 01 00 01 00 10 00 00 00 01 00 00 00 00 00 00 00 10 00 00 00 00 AA",
       DecodeError::kPayloadPastEnd},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto parsed = parse(from_hex(c.hex));
    CHECK(parsed.error == c.error);
    REQUIRE(parsed.commands.size() == 1);
    CHECK(parsed.commands[0].header.type == CommandType::kPing);
  }
}

TEST_CASE("malformed: limits and the unknown-peer rule") {
  CommandLimits small;
  small.max_packet_size = 10;
  CHECK(parse(from_hex("00 00 86 00 00 01 00 14" + std::string(40, '0')), false, small).error ==
        DecodeError::kPayloadTooLarge);
  CHECK_FALSE(parse(from_hex("00 00 86 00 00 01 00 0A" + std::string(20, '0')), false, small).error);

  std::string many = "00 00";
  for (int i = 0; i < 33; ++i) many += " 85 FF 00 01";
  const auto parsed = parse(from_hex(many));
  CHECK(parsed.error == DecodeError::kTooManyCommands);
  CHECK(parsed.commands.size() == kMaxCommandsPerDatagram);

  // Peer id 0xFFF: only CONNECT is accepted (libenet: peer == NULL && command != CONNECT).
  const auto not_connect = parse(from_hex("0F FF 85 FF 00 01"));
  CHECK(not_connect.error == DecodeError::kNotConnect);
  CHECK(not_connect.commands.empty());
}

TEST_CASE("malformed: open_datagram errors") {
  OpenOptions plain;
  CHECK(open_error(from_hex("4F"), plain) == DecodeError::kTruncatedHeader);
  CHECK(open_error(from_hex("40 00 12 34 56"), plain) == DecodeError::kCompressedNotEnabled);
  OpenOptions coded;
  coded.compression = true;
  CHECK(open_error(from_hex("40 00"), coded) == DecodeError::kDecompressFailed);  // empty body
  OpenOptions crc;
  crc.checksum = true;
  CHECK(open_error(from_hex("00 00 00 00"), crc) == DecodeError::kTruncatedChecksum);
  CHECK(open_error(from_hex("00 00 00 00 00 00 85 FF 00 01"), crc) == DecodeError::kBadChecksum);
  CHECK(decode_error_name(DecodeError::kBadChecksum) == "bad_checksum");
  for (std::size_t i = 0; i < kDecodeErrorCount; ++i) {
    CHECK_FALSE(decode_error_name(static_cast<DecodeError>(i)).empty());
    CHECK(decode_error_name(static_cast<DecodeError>(i)) != "unknown_error");
  }
}

TEST_CASE("mutated real datagrams never crash the decoder") {
  std::vector<std::vector<std::uint8_t>> corpus = {
      from_hex("8F FF FA 6B 82 FF 00 01 00 00 FF FF 00 00 05 78 00 01 00 00 00 00 00 02 00 00 00 00"
               "00 00 00 00 00 00 13 88 00 00 00 02 00 00 00 02 8C 5B CA D0 00 00 00 2A"),
      from_hex("80 00 FA 6D 01 FF 00 01 00 01 FA 6C 85 FF 00 02"),
      from_hex("00 00 07 01 00 00 00 01 00 03 61 62 63 07 01 00 00 00 02 00 03 61 62 64"),
      from_hex("00 00 49 01 00 00 00 01 00 02 78 79"),
      from_hex("80 00 01 76 88 00 00 02 00 02 00 08 00 00 00 03 00 00 00 00 00 00 0B B8 00 00 00 00"
               "01 02 03 04 05 06 07 08"),
      from_hex("80 00 07 55 84 FF 00 08 00 00 00 07 8A FF 00 09 00 00 00 00 00 00 00 00"),
      from_hex("10 00 8B FF 00 03 00 00 13 88 00 00 00 02 00 00 00 02 0C 01 00 00 00 01 00 02 00 00 00 02"
               "00 00 00 01 00 00 00 04 00 00 00 02 AB CD"),
  };
  VOLLEY_SEEDED_RNG(rng, 0x6d757465);
  std::array<std::uint8_t, kMaxDecompressedBody> scratch{};
  std::size_t decoded_commands = 0, errors = 0;
  for (int round = 0; round < 20000; ++round) {
    auto d = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 5) {
        case 0: if (!d.empty()) d[rng() % d.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 1: if (!d.empty()) d[rng() % d.size()] = static_cast<std::uint8_t>(rng()); break;
        case 2: d.resize(rng() % (d.size() + 1)); break;
        case 3: d.insert(d.begin() + static_cast<long>(rng() % (d.size() + 1)), static_cast<std::uint8_t>(rng())); break;
        case 4: d.push_back(static_cast<std::uint8_t>(rng())); break;
      }
    }
    for (const bool checksum : {false, true}) {
      OpenOptions options{checksum, true};
      const auto opened = open_datagram(d, options, ChecksumSeed{}, scratch);
      const Bytes commands = opened.ok() ? opened.value->commands : Bytes{};
      if (!opened.ok()) ++errors;
      const auto header = decode_header(d, checksum);
      const Bytes walk = header.ok() ? header.value->body : Bytes{};
      for (const Bytes stream : {commands, walk}) {
        CommandReader reader(stream, false);
        Command c;
        while (reader.next(c)) {
          ++decoded_commands;
          const Bytes payload = std::visit(
              [](const auto& b) -> Bytes {
                if constexpr (requires { b.payload; }) return b.payload; else return {};
              },
              c.body);
          if (!payload.empty()) {  // every payload lies inside the stream it came from
            CHECK(payload.data() >= stream.data());
            CHECK(payload.data() + payload.size() <= stream.data() + stream.size());
          }
        }
        CHECK(reader.count() <= kMaxCommandsPerDatagram);
      }
    }
  }
  MESSAGE("decoded ", decoded_commands, " commands; ", errors, " datagrams rejected");
  CHECK(decoded_commands > 10000);  // the mutations must leave plenty to decode
  CHECK(errors > 1000);             // and plenty to reject
}
