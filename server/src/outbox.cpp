// Outbox: arena bookkeeping. Spans into the arena are built only at emit() time, because the
// arena may grow (and move) while the outbox fills.
#include "outbox.hpp"

namespace volley::server {

Outbox::Outbox() {
  arena_.resize(2 * protocol::kMaxMtu);  // reserve() doubles it to the working size
  entries_.reserve(256);
  out_.reserve(256);
}

MutableBytes Outbox::reserve() {
  if (arena_.size() - used_ < protocol::kMaxMtu) arena_.resize(arena_.size() * 2);
  return MutableBytes(arena_.data() + used_, protocol::kMaxMtu);
}

void Outbox::commit(std::size_t length, const engine::Address& to) {
  entries_.push_back(Entry{used_, length, to});
  used_ += length;
}

std::size_t Outbox::emit(const DatagramSink& sink) {
  const std::size_t count = entries_.size();
  if (count == 0) return 0;
  out_.clear();
  for (const Entry& e : entries_) {
    out_.push_back(engine::OutDatagram{Bytes(arena_.data() + e.offset, e.length), e.to});
  }
  if (sink) sink(out_);
  entries_.clear();
  used_ = 0;
  return count;
}

}  // namespace volley::server
