// A strict little JSON validator for the tests: volley-dump promises one well-formed JSON object
// per line, and a substring search alone would not notice a broken escape or a missing comma.
#pragma once

#include <cctype>
#include <cstddef>
#include <string_view>

namespace volley::test {

class JsonCheck {
 public:
  // True when `text` is exactly one JSON object (surrounding whitespace allowed).
  static bool is_object(std::string_view text) {
    JsonCheck check(text);
    check.skip_space();
    if (check.peek() != '{' || !check.value(0)) return false;
    check.skip_space();
    return check.pos_ == text.size();
  }

 private:
  static constexpr int kMaxDepth = 64;

  explicit JsonCheck(std::string_view text) : text_(text) {}

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool eat(char c) {
    skip_space();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool value(int depth) {
    if (depth > kMaxDepth) return false;
    skip_space();
    const char c = peek();
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return string();
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return number();
    return literal("true") || literal("false") || literal("null");
  }

  bool object(int depth) {
    ++pos_;
    if (eat('}')) return true;
    do {
      skip_space();
      if (!string() || !eat(':') || !value(depth + 1)) return false;
    } while (eat(','));
    return eat('}');
  }

  bool array(int depth) {
    ++pos_;
    if (eat(']')) return true;
    do {
      if (!value(depth + 1)) return false;
    } while (eat(','));
    return eat(']');
  }

  bool string() {
    if (peek() != '"') return false;
    ++pos_;
    while (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        const char e = peek();
        ++pos_;
        if (e == 'u') {
          for (int i = 0; i < 4; ++i, ++pos_) {
            if (!std::isxdigit(static_cast<unsigned char>(peek()))) return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }

  bool number() {
    const std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    if (peek() == '.') {
      ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) return false;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
    }
    return pos_ > start;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace volley::test
