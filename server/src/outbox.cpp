// Outbox: arena bookkeeping. The queued datagrams view the arena and are handed to the sink as
// they stand; the arena may grow (and move) while the outbox fills, and then they are rebased.
#include "outbox.hpp"

#include <cstring>

namespace volley::server {

Outbox::Outbox() {
  arena_.resize(2 * protocol::kMaxMtu);  // reserve() doubles it to the working size
  entries_.reserve(256);
}

MutableBytes Outbox::reserve() {
  if (arena_.size() - used_ < protocol::kMaxMtu) {
    // Grown by hand, so that each queued view is rebased while the old arena still exists.
    std::vector<std::uint8_t> grown(arena_.size() * 2);
    std::memcpy(grown.data(), arena_.data(), used_);
    for (engine::OutDatagram& e : entries_) {
      e.bytes = Bytes(grown.data() + (e.bytes.data() - arena_.data()), e.bytes.size());
    }
    arena_.swap(grown);
  }
  return MutableBytes(arena_.data() + used_, protocol::kMaxMtu);
}

void Outbox::commit(std::size_t length, const engine::Address& to) {
  entries_.push_back(engine::OutDatagram{Bytes(arena_.data() + used_, length), to});
  used_ += length;
}

std::size_t Outbox::emit_all(const DatagramSink& sink) {
  const std::size_t count = entries_.size();
  if (sink) sink(entries_);
  entries_.clear();
  used_ = 0;
  return count;
}

}  // namespace volley::server
