// Hex-line parsing for volley-dump's stdin mode, and hex output for its JSON.
#include "hex_input.hpp"

namespace volley::tools {
namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_separator(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '|' || c == ':' || c == ',' || c == '-';
}

}  // namespace

HexLine parse_hex_line(std::string_view line, std::vector<std::uint8_t>& out) {
  out.clear();
  int high = -1;
  for (const char c : line) {
    if (c == '#') break;
    if (is_separator(c)) continue;
    const int digit = hex_digit(c);
    if (digit < 0) return HexLine::kBad;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + digit));
      high = -1;
    }
  }
  if (high >= 0) return HexLine::kBad;
  return out.empty() ? HexLine::kBlank : HexLine::kDatagram;
}

std::string hex_string(std::span<const std::uint8_t> bytes, std::size_t max_bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = bytes.size() < max_bytes ? bytes.size() : max_bytes;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

}  // namespace volley::tools
