// The duplicate filter of unsequenced packets (protocol.c enet_protocol_handle_send_unsequenced,
// enet-protocol.md 4.6): a 1024-group bitmap whose base moves forward by whole blocks; groups
// more than 32 blocks ahead (i.e. behind, after wrap) are too old. The bitmap is allocated by
// the first unsequenced packet: most peers never send one and keep these 128 B off their
// footprint.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "seq.hpp"

namespace volley::protocol::detail {

class UnsequencedWindow {
 public:
  enum class Verdict : std::uint8_t { kNew, kOld, kDuplicate };

  // Classifies `group`, moving the base to its block first when it lies in a later one (which
  // forgets the old block). A kNew group is not yet marked: call mark() once it is consumed.
  Verdict admit(std::uint16_t group);
  void mark(std::uint16_t group) noexcept;
  void reset() noexcept;

  std::uint16_t base() const noexcept { return base_; }

 private:
  using Bits = std::array<std::uint32_t, kUnsequencedWindowWords>;

  std::uint16_t base_ = 0;
  std::unique_ptr<Bits> bits_;
};

}  // namespace volley::protocol::detail
