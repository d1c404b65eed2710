// Decode a whole datagram into values and encode values back, for codec tests.
#pragma once

#include <optional>
#include <vector>

#include "volley/protocol/enet_wire.hpp"

namespace volley::test {

struct Parsed {
  protocol::HeaderView view;
  std::vector<protocol::Command> commands;
  std::optional<protocol::DecodeError> error;  // header or command-stream error
};

inline Parsed parse(const std::vector<std::uint8_t>& datagram, bool checksum_mode = false,
                    protocol::CommandLimits limits = {}) {
  Parsed parsed;
  const auto header = protocol::decode_header(datagram, checksum_mode);
  if (!header.ok()) {
    parsed.error = header.error;
    return parsed;
  }
  parsed.view = *header.value;
  protocol::CommandReader reader(parsed.view.body, parsed.view.header.peer_id == protocol::kMaxPeerId,
                                 limits);
  protocol::Command command;
  while (reader.next(command)) parsed.commands.push_back(command);
  parsed.error = reader.error();
  return parsed;
}

// Header + commands back to bytes (uncompressed; CRC filled in when a seed is given).
inline std::vector<std::uint8_t> encode(const protocol::Header& header,
                                        const std::vector<protocol::Command>& commands,
                                        const protocol::ChecksumSeed* seed = nullptr) {
  std::vector<std::uint8_t> out(70000);
  std::size_t n = protocol::encode_header(header, seed != nullptr, out);
  const std::size_t header_size = n - (seed ? protocol::kChecksumSize : 0);
  for (const auto& c : commands) {
    const std::size_t m = protocol::encode_command(c, std::span(out).subspan(n));
    if (m == 0) return {};
    n += m;
  }
  out.resize(n);
  if (seed) protocol::write_checksum(out, header_size, *seed);
  return out;
}

}  // namespace volley::test
