// The one JSON writer of Volley's tools: a streaming writer whose keys and strings are always
// escaped, so bytes from the network can never break the output. Compact layout is volley-dump's
// one-object-per-line format and the scale tools' reports; the indented layout is the
// volley-server stats file (one member per line, `"key": value`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace volley::support {

class JsonWriter {
 public:
  enum class Layout : std::uint8_t { kCompact, kIndented };

  explicit JsonWriter(Layout layout = Layout::kCompact) : layout_(layout) {}

  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key);
  JsonWriter& end_array();

  JsonWriter& field(std::string_view key, std::string_view value);
  JsonWriter& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonWriter& field(std::string_view key, const std::string& value) { return field(key, std::string_view(value)); }
  JsonWriter& field(std::string_view key, std::uint64_t value);
  JsonWriter& field(std::string_view key, std::uint32_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, std::uint16_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, std::uint8_t value) { return field(key, std::uint64_t{value}); }
  JsonWriter& field(std::string_view key, bool value);
  // printf-style `format` for one double (default "%.6g"); a non-finite value is written as null.
  JsonWriter& number(std::string_view key, double value, const char* format = "%.6g");
  // A number printed as-is (already formatted, e.g. a timestamp with fixed decimals).
  JsonWriter& raw_field(std::string_view key, std::string_view number);
  // An element of the current array.
  JsonWriter& value(std::string_view text);

  const std::string& str() const noexcept { return out_; }

 private:
  void separate();
  void key(std::string_view name);
  void quoted(std::string_view text);
  void close(char bracket);

  Layout layout_;
  std::string out_;
  // One entry per open object/array: whether it already holds a member.
  std::vector<bool> has_member_;
};

}  // namespace volley::support
