// Hex-line parsing for volley-dump's stdin mode.
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

}  // namespace volley::tools
