#include "volley/snapshot/receiver.hpp"

#include <algorithm>
#include <utility>

namespace volley::snapshot {

namespace {

CodecConfig capped(CodecConfig codec, const ReceiverConfig& config) {
  if (config.max_entities != 0) codec.max_entities = std::min(codec.max_entities, config.max_entities);
  return codec;
}

}  // namespace

Receiver::Receiver(const Schema& schema, CodecConfig codec, ReceiverConfig config)
    : decoder_(schema, capped(codec, config)), config_(config) {
  if (config_.history == 0) config_.history = 1;
  config_.event_window = ((config_.event_window + 63) / 64) * 64;
  if (config_.event_window == 0) config_.event_window = 64;
  ring_.resize(config_.history);
  seen_bits_.assign(config_.event_window / 64, 0);
}

const Frame* Receiver::frame(std::uint32_t number) const noexcept {
  const Slot& slot = ring_[number % ring_.size()];
  return slot.valid && slot.frame.number == number ? &slot.frame : nullptr;
}

const Frame* Receiver::latest() const noexcept { return newest_ ? frame(*newest_) : nullptr; }

std::optional<std::uint32_t> Receiver::ack() const noexcept { return newest_; }

bool Receiver::seen_before(std::uint64_t id) {
  const std::uint64_t window = config_.event_window;
  const auto bit = [&](std::uint64_t v) -> std::uint64_t& { return seen_bits_[(v % window) / 64]; };
  const auto mask = [&](std::uint64_t v) { return std::uint64_t{1} << (v % 64); };
  if (!newest_event_ || id > *newest_event_) {
    if (!newest_event_ || id - *newest_event_ >= window) {
      std::fill(seen_bits_.begin(), seen_bits_.end(), 0);
    } else {
      // Counted in steps, not up to `id`: at id 2^64 - 1 the loop variable wrapped to 0 and the
      // loop never ended (a hostile server's one event hung the client).
      for (std::uint64_t k = 1; k <= id - *newest_event_; ++k) bit(*newest_event_ + k) &= ~mask(*newest_event_ + k);
    }
    newest_event_ = id;
    bit(id) |= mask(id);
    return false;
  }
  if (*newest_event_ - id >= window) {
    ++counters_.events_too_old;
    return true;
  }
  if ((bit(id) & mask(id)) != 0) {
    ++counters_.events_duplicate;
    return true;
  }
  bit(id) |= mask(id);
  return false;
}

ReceiveResult Receiver::receive(std::span<const std::uint8_t> packet, std::vector<Event>& new_events,
                                DecodeError* error) {
  ++counters_.received;
  const auto reject = [&](DecodeError e, ReceiveResult result) {
    ++counters_.decode_errors[static_cast<std::size_t>(e)];
    if (error != nullptr) *error = e;
    return result;
  };
  const auto header = Decoder::peek(packet);
  if (!header) {
    ++counters_.dropped_corrupt;
    return reject(decoder_.decode(packet, nullptr, scratch_, events_), ReceiveResult::kCorrupt);
  }
  if (newest_ && header->frame <= *newest_) {
    ++counters_.dropped_old;
    if (error != nullptr) *error = DecodeError::kOk;
    return ReceiveResult::kOld;
  }
  const Frame* base = nullptr;
  if (header->delta()) {
    base = frame(header->baseline);
    if (base == nullptr) {
      ++counters_.dropped_no_baseline;
      return reject(DecodeError::kBaselineMismatch, ReceiveResult::kNoBaseline);
    }
  }
  const DecodeError e = decoder_.decode(packet, base, scratch_, events_);
  if (e == DecodeError::kBadChecksum) {
    ++counters_.dropped_checksum;
    return reject(e, ReceiveResult::kBadChecksum);
  }
  if (e != DecodeError::kOk) {
    ++counters_.dropped_corrupt;
    return reject(e, ReceiveResult::kCorrupt);
  }
  Slot& slot = ring_[header->frame % ring_.size()];
  std::swap(slot.frame, scratch_);
  slot.valid = true;
  newest_ = header->frame;
  ++counters_.applied;
  for (Event& ev : events_) {
    if (seen_before(ev.id)) continue;
    if (config_.max_queued_events != 0 && new_events.size() >= config_.max_queued_events) {
      ++counters_.events_dropped_full;
      continue;
    }
    ++counters_.events_delivered;
    new_events.push_back(std::move(ev));
  }
  if (error != nullptr) *error = DecodeError::kOk;
  return ReceiveResult::kApplied;
}

}  // namespace volley::snapshot
