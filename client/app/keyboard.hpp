// volley-client's keyboard mode, the pure part: bytes read from a raw-mode terminal become keys
// (KeyDecoder), and keys become the player's input and chat lines (KeyboardControl). No terminal
// or clock here: main.cpp owns the termios state and passes `now`, so the tests drive it freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "volley/vocabulary/bytes.hpp"
#include "volley/vocabulary/time.hpp"

namespace volley::client::app {

// One tick's movement, as the demo's Input message carries it (-127..127 per axis).
struct MoveInput {
  std::int8_t x = 0;
  std::int8_t y = 0;
  bool jump = false;
  bool operator==(const MoveInput&) const = default;
};

enum class KeyKind : std::uint8_t { kChar, kUp, kDown, kLeft, kRight, kEnter, kBackspace, kEscape, kEndOfInput };

struct Key {
  KeyKind kind = KeyKind::kChar;
  std::uint8_t byte = 0;  // kChar: the byte (printable ASCII, or part of a UTF-8 sequence)
  bool operator==(const Key&) const = default;
};

// Terminal bytes to keys: arrows as ESC [ A..D or ESC O A..D (a sequence split across reads is
// completed by the next read), Enter as CR or LF, Backspace as DEL or BS, Ctrl-D as end of
// input. A lone ESC at the end of a read is the Escape key; other control bytes are ignored.
class KeyDecoder {
 public:
  void decode(Bytes chunk, std::vector<Key>& out);

 private:
  std::uint8_t pending_ = 0;  // 0, 1 after ESC, 2 after ESC [ or ESC O
};

// Keys to the player's input and chat. Not typing: W/A/S/D or the arrows move (a terminal sends
// no key-up, so a press holds its axis for `hold`, longer than the usual auto-repeat delay, and
// a held key's repeats keep it held), Space jumps (once, on the next tick), `/` or `t` opens the
// chat prompt, `q` or Ctrl-D quits. Typing: characters build the line, Backspace deletes, Enter
// sends it (an empty line is not sent), Escape cancels.
class KeyboardControl {
 public:
  static constexpr TimePoint kDefaultHold = 600 * kMillisecond;
  static constexpr std::size_t kMaxLine = 200;

  explicit KeyboardControl(TimePoint hold = kDefaultHold) : hold_(hold) {}

  // Keys pressed at `now`; completed chat lines are appended to `chat`.
  void press(const std::vector<Key>& keys, TimePoint now, std::vector<std::string>& chat);
  // The input for the tick at `now` (a pending jump is reported once).
  MoveInput take_input(TimePoint now);

  bool quit() const { return quit_; }
  bool typing() const { return typing_; }
  const std::string& draft() const { return draft_; }

 private:
  struct Axis {
    std::int8_t value = 0;
    TimePoint pressed_at = 0;
  };
  void move(Axis& axis, std::int8_t value, TimePoint now);
  void type(const Key& key, std::vector<std::string>& chat);

  TimePoint hold_;
  Axis x_, y_;
  bool jump_ = false;
  bool typing_ = false;
  bool quit_ = false;
  std::string draft_;
};

}  // namespace volley::client::app
