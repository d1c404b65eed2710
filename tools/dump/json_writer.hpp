// A minimal streaming JSON writer for volley-dump's one-object-per-line output. Keys and string
// values are escaped, so bytes from the network can never break the line format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volley::tools {

class JsonWriter {
 public:
  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key);
  JsonWriter& end_array();

  JsonWriter& field(std::string_view key, std::string_view value);
  JsonWriter& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonWriter& field(std::string_view key, std::uint64_t value);
  JsonWriter& field(std::string_view key, std::uint32_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, std::uint16_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, std::uint8_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, bool value);
  // A number printed as-is (already formatted, e.g. a timestamp with fixed decimals).
  JsonWriter& raw_field(std::string_view key, std::string_view number);
  // An element of the current array.
  JsonWriter& value(std::string_view text);

  const std::string& str() const noexcept { return out_; }

 private:
  void separate();
  void key(std::string_view name);
  void quoted(std::string_view text);

  std::string out_;
  // One entry per open object/array: whether it already holds a member.
  std::vector<bool> has_member_;
};

// Lower-case hex of up to `max_bytes` bytes, no separators.
std::string hex_string(std::span<const std::uint8_t> bytes, std::size_t max_bytes);

}  // namespace volley::tools
