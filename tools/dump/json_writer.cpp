// JSON output for volley-dump: compact, one object per line, strings escaped per RFC 8259.
#include "json_writer.hpp"


namespace volley::tools {

void JsonWriter::separate() {
  if (has_member_.empty()) return;
  if (has_member_.back()) out_ += ',';
  has_member_.back() = true;
}

void JsonWriter::quoted(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out_ += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        // Control bytes and anything non-ASCII are escaped so the output is valid UTF-8
        // whatever the input file contains.
        if (u < 0x20 || u >= 0x7F) {
          out_ += "\\u00";
          out_ += kDigits[u >> 4];
          out_ += kDigits[u & 15];
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
}

void JsonWriter::key(std::string_view name) {
  separate();
  if (!name.empty()) {
    quoted(name);
    out_ += ':';
  }
}

JsonWriter& JsonWriter::begin_object(std::string_view name) {
  key(name);
  out_ += '{';
  has_member_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_ += '}';
  if (!has_member_.empty()) has_member_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view name) {
  key(name);
  out_ += '[';
  has_member_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_ += ']';
  if (!has_member_.empty()) has_member_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view text) {
  key(name);
  quoted(text);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::uint64_t number) {
  key(name);
  out_ += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, bool flag) {
  key(name);
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::raw_field(std::string_view name, std::string_view number) {
  key(name);
  out_ += number;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  separate();
  quoted(text);
  return *this;
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
