// Hex <-> bytes for test vectors written the way the protocol doc prints them ("8F FF | 82 ...").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volley::test {

// Parses hex digit pairs, ignoring spaces, '|' and other separators. "00x4" style repetition is
// not supported: spell bytes out.
inline std::vector<std::uint8_t> from_hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

inline std::string to_hex(const std::uint8_t* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kDigits[data[i] >> 4];
    s += kDigits[data[i] & 15];
  }
  return s;
}

template <class Container>
std::string to_hex(const Container& c) {
  return to_hex(c.data(), c.size());
}

}  // namespace volley::test
