// JsonWriter: strings escaped per RFC 8259; control bytes and anything non-ASCII as \u00XX, so
// the output is valid UTF-8 whatever the input bytes were.
#include "volley/support/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace volley::support {

void JsonWriter::separate() {
  if (has_member_.empty()) return;
  if (has_member_.back()) out_ += ',';
  has_member_.back() = true;
  if (layout_ == Layout::kIndented) {
    out_ += '\n';
    out_.append(2 * has_member_.size(), ' ');
  }
}

void JsonWriter::quoted(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out_ += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
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
    out_ += layout_ == Layout::kIndented ? ": " : ":";
  }
}

void JsonWriter::close(char bracket) {
  const bool had_members = !has_member_.empty() && has_member_.back();
  if (!has_member_.empty()) has_member_.pop_back();
  if (layout_ == Layout::kIndented && had_members) {
    out_ += '\n';
    out_.append(2 * has_member_.size(), ' ');
  }
  out_ += bracket;
}

JsonWriter& JsonWriter::begin_object(std::string_view name) {
  key(name);
  out_ += '{';
  has_member_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view name) {
  key(name);
  out_ += '[';
  has_member_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  close(']');
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

JsonWriter& JsonWriter::number(std::string_view name, double value, const char* format) {
  key(name);
  if (!std::isfinite(value)) {
    out_ += "null";
    return *this;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  out_ += buf;
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

}  // namespace volley::support
