// The unsequenced duplicate window on its own: new, duplicate and too-old groups, the base
// moving by whole 1024-group blocks, and the 16-bit wrap.
#include <doctest/doctest.h>

#include "unsequenced_window.hpp"

using volley::protocol::detail::UnsequencedWindow;
using Verdict = UnsequencedWindow::Verdict;

TEST_CASE("unsequenced window: a group is new once, then a duplicate") {
  UnsequencedWindow w;
  CHECK(w.admit(5) == Verdict::kNew);
  CHECK(w.admit(5) == Verdict::kNew);  // admitted but not consumed: still new
  w.mark(5);
  CHECK(w.admit(5) == Verdict::kDuplicate);
  CHECK(w.admit(6) == Verdict::kNew);
  w.mark(1023);
  CHECK(w.admit(1023) == Verdict::kDuplicate);
  w.reset();
  CHECK(w.admit(5) == Verdict::kNew);
}

TEST_CASE("unsequenced window: a later block moves the base and forgets the old one") {
  UnsequencedWindow w;
  w.mark(3);  // before the first admit nothing is held yet
  CHECK(w.admit(3) == Verdict::kNew);
  w.mark(3);
  CHECK(w.admit(1024 + 3) == Verdict::kNew);
  CHECK(w.base() == 1024);
  w.mark(1024 + 3);
  CHECK(w.admit(1024 + 3) == Verdict::kDuplicate);
  // Group 3 is now behind the base by less than 32 blocks the other way round: too old.
  CHECK(w.admit(3) == Verdict::kOld);
  // Up to 31 blocks ahead is accepted; 32 is not.
  CHECK(w.admit(1024 + 31 * 1024) == Verdict::kNew);
  CHECK(w.base() == 32 * 1024);
  CHECK(w.admit(static_cast<std::uint16_t>(32 * 1024 + 32 * 1024)) == Verdict::kOld);
}

TEST_CASE("unsequenced window: groups wrap at 2^16") {
  UnsequencedWindow w;
  CHECK(w.admit(63 * 1024 + 10) == Verdict::kOld);  // more than 31 blocks ahead of base 0
  CHECK(w.admit(31 * 1024) == Verdict::kNew);        // the base moves in steps of <= 31 blocks
  CHECK(w.admit(62 * 1024) == Verdict::kNew);
  CHECK(w.admit(63 * 1024 + 10) == Verdict::kNew);
  CHECK(w.base() == 63 * 1024);
  w.mark(63 * 1024 + 10);
  CHECK(w.admit(4) == Verdict::kNew);  // the block after the last one: 0
  CHECK(w.base() == 0);
  w.mark(4);
  CHECK(w.admit(4) == Verdict::kDuplicate);
  CHECK(w.admit(63 * 1024 + 10) == Verdict::kOld);
}
