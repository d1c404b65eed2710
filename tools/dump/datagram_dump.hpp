// One ENet datagram to one JSON object: header fields, checksum verdict, and every command the
// codec decodes, stopping where Volley's decoder (like libenet) would stop. Remembers the
// connectIDs carried by CONNECT / VERIFY_CONNECT so later datagrams' CRC32 can be checked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "packet_parse.hpp"
#include "volley/support/json_writer.hpp"
#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::tools {

using support::JsonWriter;

// Where a datagram came from; everything optional because hex lines carry no addresses.
struct DatagramOrigin {
  std::size_t index = 0;              // 1-based position in the output
  std::optional<std::size_t> line;    // hex mode: input line number
  std::optional<std::string> time;    // pcap mode: "seconds.micros"
  std::optional<Endpoint> src;
  std::optional<Endpoint> dst;
  bool capture_truncated = false;     // the capture holds fewer bytes than were sent
  // Pcap mode: this datagram is segment `gso_segment` (1-based) of a GSO packet of
  // `gso_segments` (gso_split.hpp); 0 when the packet was one datagram.
  std::size_t gso_segment = 0;
  std::size_t gso_segments = 0;
};

// Bytes of each payload shown as hex; the full length is always given.
inline constexpr std::size_t kPayloadHexBytes = 16;

class DatagramDumper {
 public:
  explicit DatagramDumper(bool checksum_mode) noexcept : checksum_mode_(checksum_mode) {}

  // The JSON object for one datagram, without a trailing newline. Never throws on bad bytes.
  std::string dump(const DatagramOrigin& origin, ByteView datagram);

  std::size_t errors() const noexcept { return errors_; }

 private:
  using SessionKey = std::pair<Endpoint, Endpoint>;  // (client, server)

  std::optional<protocol::ChecksumSeed> known_seed(const DatagramOrigin& origin) const;

  bool checksum_mode_;
  std::map<SessionKey, protocol::ChecksumSeed> seeds_;
  std::size_t errors_ = 0;
  std::array<std::uint8_t, protocol::kMaxDecompressedBody> scratch_{};
};

}  // namespace volley::tools
