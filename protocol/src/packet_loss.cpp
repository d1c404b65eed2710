// Packet-loss statistics; see packet_loss.hpp.
#include "packet_loss.hpp"

namespace volley::protocol::detail {

void PacketLoss::update(TimePoint now) noexcept {
  if (!close_at_) {
    begin_epoch(now);
    return;
  }
  if (now < *close_at_ || sent_ == 0) return;
  const auto loss = static_cast<std::uint32_t>(std::uint64_t{lost_} * kPacketLossScale / sent_);
  const std::uint32_t diff = loss > loss_ ? loss - loss_ : loss_ - loss;
  variance_ = (variance_ * 3 + diff) / 4;
  loss_ = (loss_ * 7 + loss) / 8;
  begin_epoch(now);
  sent_ = 0;
  lost_ = 0;
}

void PacketLoss::begin_epoch(TimePoint now) noexcept {
  close_at_ = from_ms(whole_ms(now) + kPacketLossIntervalMs);
}

}  // namespace volley::protocol::detail
