// Deadlines: the arm / move / disarm decisions for one timer per slot.
#include "deadlines.hpp"

namespace volley::server {

Deadlines::Entry& Deadlines::entry(std::uint32_t slot) {
  if (slot >= entries_.size()) entries_.resize(static_cast<std::size_t>(slot) + 1);
  return entries_[slot];
}

void Deadlines::update(std::uint32_t slot, std::optional<TimePoint> next, TimePoint now) {
  Entry& e = entry(slot);
  if (!next) {
    if (e.armed) {
      port_.disarm(e.token);
      e.armed = false;
      ops_.disarmed += 1;
    }
    return;
  }
  if (!e.armed) {
    e.token = port_.arm(slot, *next);
    e.at = *next;
    e.armed = true;
    ops_.armed += 1;
  } else if (*next != e.at) {
    if (*next > e.at && e.at - now > kDeferHorizon) {
      ops_.deferred += 1;
      return;
    }
    port_.move(e.token, *next);
    e.at = *next;
    ops_.moved += 1;
  }
}

void Deadlines::fired(std::uint32_t slot) {
  Entry& e = entry(slot);
  e.armed = false;
  ops_.fired += 1;
}

}  // namespace volley::server
