// Packet-loss statistics; see packet_loss.hpp.
#include "packet_loss.hpp"

namespace volley::protocol::detail {

void PacketLoss::update(TimePoint now) noexcept {
  if (!epoch_) {
    epoch_ = now;
    return;
  }
  if (whole_ms(now) - whole_ms(*epoch_) < kPacketLossIntervalMs || sent_ == 0) return;
  const auto loss = static_cast<std::uint32_t>(std::uint64_t{lost_} * kPacketLossScale / sent_);
  const std::uint32_t diff = loss > loss_ ? loss - loss_ : loss_ - loss;
  variance_ = (variance_ * 3 + diff) / 4;
  loss_ = (loss_ * 7 + loss) / 8;
  epoch_ = now;
  sent_ = 0;
  lost_ = 0;
}

}  // namespace volley::protocol::detail
