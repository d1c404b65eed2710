#include "keyboard.hpp"

namespace volley::client::app {

namespace {

constexpr std::uint8_t kEsc = 0x1b;

}  // namespace

void KeyDecoder::decode(Bytes chunk, std::vector<Key>& out) {
  for (const std::uint8_t b : chunk) {
    if (pending_ == 1) {
      if (b == '[' || b == 'O') {
        pending_ = 2;
        continue;
      }
      out.push_back({KeyKind::kEscape});  // ESC then something else: the Escape key, then it
      pending_ = 0;
    } else if (pending_ == 2) {
      if (b >= 0x30 && b <= 0x3f) continue;  // parameters (ESC [ 1 ; 5 C): wait for the final byte
      pending_ = 0;
      switch (b) {
        case 'A': out.push_back({KeyKind::kUp}); break;
        case 'B': out.push_back({KeyKind::kDown}); break;
        case 'C': out.push_back({KeyKind::kRight}); break;
        case 'D': out.push_back({KeyKind::kLeft}); break;
        default: break;  // another key's sequence (Home, F-keys, Delete): ignored
      }
      continue;
    }
    if (b == kEsc) {
      pending_ = 1;
    } else if (b == '\r' || b == '\n') {
      out.push_back({KeyKind::kEnter});
    } else if (b == 0x7f || b == 0x08) {
      out.push_back({KeyKind::kBackspace});
    } else if (b == 0x04) {
      out.push_back({KeyKind::kEndOfInput});
    } else if (b >= 0x20) {
      out.push_back({KeyKind::kChar, b});
    }
  }
  if (pending_ == 1) {  // a lone ESC: terminals send a whole sequence in one write
    out.push_back({KeyKind::kEscape});
    pending_ = 0;
  }
}

void KeyboardControl::move(Axis& axis, std::int8_t value, TimePoint now) {
  axis.value = value;
  axis.pressed_at = now;
}

void KeyboardControl::press(const std::vector<Key>& keys, TimePoint now, std::vector<std::string>& chat) {
  for (const Key& key : keys) {
    if (key.kind == KeyKind::kEndOfInput) {
      quit_ = true;
      continue;
    }
    if (typing_) {
      type(key, chat);
      continue;
    }
    switch (key.kind) {
      case KeyKind::kUp: move(y_, 127, now); break;
      case KeyKind::kDown: move(y_, -127, now); break;
      case KeyKind::kLeft: move(x_, -127, now); break;
      case KeyKind::kRight: move(x_, 127, now); break;
      case KeyKind::kChar:
        switch (key.byte) {
          case 'w': case 'W': move(y_, 127, now); break;
          case 's': case 'S': move(y_, -127, now); break;
          case 'a': case 'A': move(x_, -127, now); break;
          case 'd': case 'D': move(x_, 127, now); break;
          case ' ': jump_ = true; break;
          case '/': case 't': case 'T': typing_ = true; break;
          case 'q': case 'Q': quit_ = true; break;
          default: break;
        }
        break;
      default: break;  // Enter, Backspace, Escape do nothing outside the prompt
    }
  }
}

void KeyboardControl::type(const Key& key, std::vector<std::string>& chat) {
  switch (key.kind) {
    case KeyKind::kChar:
      if (draft_.size() < kMaxLine) draft_.push_back(static_cast<char>(key.byte));
      return;
    case KeyKind::kBackspace:
      // Remove one character: UTF-8 continuation bytes (10xxxxxx), then their lead byte.
      while (!draft_.empty() && (static_cast<std::uint8_t>(draft_.back()) & 0xC0) == 0x80) draft_.pop_back();
      if (!draft_.empty()) draft_.pop_back();
      return;
    case KeyKind::kEnter:
      if (!draft_.empty()) chat.push_back(draft_);
      [[fallthrough]];
    case KeyKind::kEscape:
      draft_.clear();
      typing_ = false;
      return;
    default:
      return;  // arrows while typing: ignored
  }
}

MoveInput KeyboardControl::take_input(TimePoint now) {
  MoveInput input;
  if (x_.value != 0 && now - x_.pressed_at < hold_) input.x = x_.value;
  if (y_.value != 0 && now - y_.pressed_at < hold_) input.y = y_.value;
  input.jump = jump_;
  jump_ = false;
  return input;
}

}  // namespace volley::client::app
