// The Host's outbox: the outgoing datagrams of one flush, gathered into one reusable arena so a
// flush costs no allocation once the buffers have grown to the working size. The sink receives them all at
// once (the server hands them to engine::Loop::send, which copies them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "volley/engine/udp.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace volley::server {

using DatagramSink = std::function<void(std::span<const engine::OutDatagram>)>;

class Outbox {
 public:
  // Beyond this many datagrams in one flush the batch is emitted early, bounding memory.
  static constexpr std::size_t kMaxDatagrams = 4096;

  Outbox();
  // Room for one datagram of up to kMaxMtu bytes; commit() with its real length.
  MutableBytes reserve();
  void commit(std::size_t length, const engine::Address& to);
  bool full() const noexcept { return entries_.size() >= kMaxDatagrams; }
  std::size_t size() const noexcept { return entries_.size(); }
  // Hands everything to the sink (if any) and empties the batch; returns how many. Inline when
  // empty: the Host emits after every batch, and half of them (an ACK's) send nothing.
  std::size_t emit(const DatagramSink& sink) { return entries_.empty() ? 0 : emit_all(sink); }

 private:
  std::size_t emit_all(const DatagramSink& sink);

  // Views into arena_, handed to the sink as they are; rebased when the arena grows.
  std::vector<std::uint8_t> arena_;
  std::size_t used_ = 0;
  std::vector<engine::OutDatagram> entries_;
};

}  // namespace volley::server
