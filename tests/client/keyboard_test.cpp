// volley-client's keyboard mode without a terminal: bytes to keys (KeyDecoder) and keys to the
// player's input and chat lines (KeyboardControl), in virtual time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "keyboard.hpp"

using namespace volley::client::app;
using volley::kMillisecond;
using volley::TimePoint;

namespace {

std::vector<Key> decode(KeyDecoder& decoder, const std::string& bytes) {
  std::vector<Key> keys;
  decoder.decode(volley::Bytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), keys);
  return keys;
}

// Types `bytes` at `now` and returns the chat lines completed.
std::vector<std::string> type(KeyDecoder& decoder, KeyboardControl& control, const std::string& bytes,
                              TimePoint now) {
  std::vector<std::string> chat;
  control.press(decode(decoder, bytes), now, chat);
  return chat;
}

}  // namespace

TEST_CASE("keyboard: terminal bytes to keys") {
  KeyDecoder d;
  CHECK(decode(d, "\x1b[A\x1b[B\x1b[C\x1b[D") ==
        std::vector<Key>{{KeyKind::kUp}, {KeyKind::kDown}, {KeyKind::kRight}, {KeyKind::kLeft}});
  CHECK(decode(d, "\x1bOA") == std::vector<Key>{{KeyKind::kUp}});  // application cursor mode
  CHECK(decode(d, "\x1b[1;5C") == std::vector<Key>{{KeyKind::kRight}});  // Ctrl-Right: parameters
  // A sequence split across reads completes on the next read.
  CHECK(decode(d, "\x1b[").empty());
  CHECK(decode(d, "D") == std::vector<Key>{{KeyKind::kLeft}});
  // A lone ESC at the end of a read is Escape; ESC then another byte is Escape and that byte.
  CHECK(decode(d, "\x1b") == std::vector<Key>{{KeyKind::kEscape}});
  CHECK(decode(d, "\x1bw") == std::vector<Key>{{KeyKind::kEscape}, {KeyKind::kChar, 'w'}});
  CHECK(decode(d, "\x1b[3~x") == std::vector<Key>{{KeyKind::kChar, 'x'}});  // Delete: ignored
  CHECK(decode(d, "\r\n\x7f\x08\x04") ==
        std::vector<Key>{{KeyKind::kEnter}, {KeyKind::kEnter}, {KeyKind::kBackspace}, {KeyKind::kBackspace},
                         {KeyKind::kEndOfInput}});
  CHECK(decode(d, "\x01\x02 a") == std::vector<Key>{{KeyKind::kChar, ' '}, {KeyKind::kChar, 'a'}});
}

TEST_CASE("keyboard: W/A/S/D and arrows move, a press holds its axis, Space jumps once") {
  KeyDecoder d;
  KeyboardControl k(600 * kMillisecond);
  CHECK(k.take_input(0) == MoveInput{});
  CHECK(type(d, k, "w", 1000 * kMillisecond).empty());
  CHECK(k.take_input(1000 * kMillisecond) == MoveInput{0, 127, false});
  CHECK(k.take_input(1599 * kMillisecond) == MoveInput{0, 127, false});
  CHECK(k.take_input(1600 * kMillisecond) == MoveInput{});  // released: no key-up, the hold ran out
  type(d, k, "d", 2000 * kMillisecond);
  type(d, k, "s", 2100 * kMillisecond);
  CHECK(k.take_input(2200 * kMillisecond) == MoveInput{127, -127, false});  // both axes
  type(d, k, "a", 2300 * kMillisecond);
  CHECK(k.take_input(2300 * kMillisecond) == MoveInput{-127, -127, false});  // the latest press wins
  // A held key's auto-repeat keeps the axis held past the first press's hold.
  for (TimePoint t = 3000; t < 4000; t += 33) type(d, k, "\x1b[A", t * kMillisecond);
  CHECK(k.take_input(4000 * kMillisecond).y == 127);
  type(d, k, "\x1b[B\x1b[D\x1b[C", 5000 * kMillisecond);
  CHECK(k.take_input(5000 * kMillisecond) == MoveInput{127, -127, false});
  type(d, k, " ", 6000 * kMillisecond);
  CHECK(k.take_input(6000 * kMillisecond).jump);
  CHECK_FALSE(k.take_input(6033 * kMillisecond).jump);  // once
  // Upper case (Caps Lock) moves too; other keys do nothing.
  type(d, k, "xzW", 7000 * kMillisecond);
  CHECK(k.take_input(7000 * kMillisecond) == MoveInput{0, 127, false});
  CHECK_FALSE(k.quit());
  type(d, k, "q", 8000 * kMillisecond);
  CHECK(k.quit());
  KeyboardControl k2;
  type(d, k2, "\x04", 0);  // Ctrl-D
  CHECK(k2.quit());
}

TEST_CASE("keyboard: / or t opens a chat line, Enter sends, Backspace deletes, Escape cancels") {
  KeyDecoder d;
  KeyboardControl k;
  CHECK(type(d, k, "/", 0).empty());
  CHECK(k.typing());
  // While typing, movement keys are text and do not move.
  CHECK(type(d, k, "wasd q", 0).empty());
  CHECK(k.draft() == "wasd q");
  CHECK_FALSE(k.quit());
  CHECK(k.take_input(0) == MoveInput{});
  CHECK(type(d, k, "\x7f\x7f!", 0).empty());
  CHECK(k.draft() == "wasd!");
  CHECK(type(d, k, "\r", 0) == std::vector<std::string>{"wasd!"});
  CHECK_FALSE(k.typing());
  CHECK(k.draft().empty());
  // t opens it too; several lines in one read; an empty line is not sent.
  CHECK(type(d, k, "thello\rt\rTbye\n", 0) == std::vector<std::string>{"hello", "bye"});
  // Escape cancels; the next w moves again.
  CHECK(type(d, k, "/never sent\x1b", 0).empty());
  CHECK_FALSE(k.typing());
  type(d, k, "w", 0);
  CHECK(k.take_input(0).y == 127);
  // Backspace removes a whole UTF-8 character; the line is capped.
  type(d, k, "/\xc3\xa9", 0);
  CHECK(k.draft() == "\xc3\xa9");
  type(d, k, "\x7f", 0);
  CHECK(k.draft().empty());
  type(d, k, std::string(KeyboardControl::kMaxLine + 50, 'x'), 0);
  CHECK(k.draft().size() == KeyboardControl::kMaxLine);
}
