// Hex in and out. In: datagrams typed or piped as hex, one per line: "8F FF FA 6B | 82 FF 00 01 ...". Separators
// (spaces, tabs, '|', ':', ',', '-') are ignored and '#' starts a comment, so the byte dumps in
// the protocol document can be pasted as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volley::tools {

enum class HexLine { kDatagram, kBlank, kBad };

// Parses one line into `out` (cleared first). kBlank: nothing but separators or a comment;
// kBad: a character that is not hex or a separator, or an odd number of digits.
HexLine parse_hex_line(std::string_view line, std::vector<std::uint8_t>& out);

// Out: lower-case hex of up to `max_bytes` bytes, no separators.
std::string hex_string(std::span<const std::uint8_t> bytes, std::size_t max_bytes);

}  // namespace volley::tools
