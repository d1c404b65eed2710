#include "echo_checker.hpp"

#include <algorithm>

namespace volley::bots {

void EchoCounts::add(const EchoCounts& o) noexcept {
  reliable_sent += o.reliable_sent;
  reliable_received += o.reliable_received;
  reliable_lost += o.reliable_lost;
  reliable_duplicated += o.reliable_duplicated;
  reliable_out_of_order += o.reliable_out_of_order;
  unreliable_sent += o.unreliable_sent;
  unreliable_received += o.unreliable_received;
  unreliable_reordered += o.unreliable_reordered;
  corrupt += o.corrupt;
}

EchoChecker::EchoChecker(std::uint32_t bot, std::size_t channels)
    : bot_(bot), reliable_(channels), unreliable_(channels) {}

EchoMessage EchoChecker::next(std::uint8_t channel, Delivery delivery, TimePoint now) {
  EchoMessage m{.bot = bot_, .channel = channel, .delivery = delivery, .sent_us = now};
  if (delivery == Delivery::kReliable) {
    m.sequence = reliable_.at(channel).next_send++;
    ++counts_.reliable_sent;
  } else {
    m.sequence = unreliable_.at(channel).next_send++;
    ++counts_.unreliable_sent;
  }
  return m;
}

void EchoChecker::unsend(const EchoMessage& m) {
  if (m.delivery == Delivery::kReliable) {
    Reliable& s = reliable_.at(m.channel);
    if (s.next_send != m.sequence + 1) return;  // not the latest: nothing to give back
    --s.next_send;
    --counts_.reliable_sent;
  } else {
    Unreliable& s = unreliable_.at(m.channel);
    if (s.next_send != m.sequence + 1) return;
    --s.next_send;
    --counts_.unreliable_sent;
  }
}

void EchoChecker::on_reliable(Reliable& s, std::uint32_t sequence) {
  if (sequence == s.expected) {
    ++s.expected;
    ++counts_.reliable_received;
    return;
  }
  if (sequence > s.expected) {
    // Arrived past a gap: the skipped ones are missing until they turn up (out of order) or the
    // session ends (lost).
    for (std::uint32_t q = s.expected; q < sequence; ++q) {
      if (s.missing.size() == kMaxMissing) {
        ++counts_.reliable_lost;
        s.missing.erase(s.missing.begin());
      }
      s.missing.push_back(q);
    }
    s.expected = sequence + 1;
    ++counts_.reliable_received;
    return;
  }
  const auto it = std::find(s.missing.begin(), s.missing.end(), sequence);
  if (it != s.missing.end()) {
    s.missing.erase(it);
    ++counts_.reliable_out_of_order;
    ++counts_.reliable_received;
  } else {
    ++counts_.reliable_duplicated;
  }
}

std::optional<TimePoint> EchoChecker::on_echo(std::uint8_t channel, Delivery received,
                                              std::span<const std::uint8_t> bytes, TimePoint now) {
  // An unreliable message too large for one datagram travels (both ways) as unreliable
  // fragments: still the unreliable sequenced stream of its channel.
  const Delivery delivery = received == Delivery::kUnreliableFragment ? Delivery::kUnreliable : received;
  const std::optional<EchoMessage> m = decode_echo(bytes);
  if (!m || m->bot != bot_ || m->channel != channel || m->delivery != delivery || channel >= reliable_.size()) {
    ++counts_.corrupt;
    return std::nullopt;
  }
  if (delivery == Delivery::kReliable) {
    Reliable& s = reliable_[channel];
    if (m->sequence >= s.next_send) {  // never sent: forged or from an earlier session
      ++counts_.corrupt;
      return std::nullopt;
    }
    const EchoCounts before = counts_;
    on_reliable(s, m->sequence);
    if (counts_.reliable_duplicated != before.reliable_duplicated) return std::nullopt;
  } else if (delivery == Delivery::kUnreliable) {
    Unreliable& s = unreliable_[channel];
    if (m->sequence >= s.next_send) {
      ++counts_.corrupt;
      return std::nullopt;
    }
    if (s.newest && m->sequence <= *s.newest) {
      ++counts_.unreliable_reordered;
      return std::nullopt;
    }
    s.newest = m->sequence;
    ++counts_.unreliable_received;
  } else {
    ++counts_.corrupt;  // this checker sends only reliable and unreliable sequenced
    return std::nullopt;
  }
  return now - m->sent_us;
}

std::uint64_t EchoChecker::reliable_outstanding() const noexcept {
  std::uint64_t n = 0;
  for (const Reliable& s : reliable_) n += (s.next_send - s.expected) + s.missing.size();
  return n;
}

EchoCounts EchoChecker::finish() {
  for (Reliable& s : reliable_) {
    counts_.reliable_lost += (s.next_send - s.expected) + s.missing.size();
    s.expected = s.next_send;
    s.missing.clear();
  }
  return counts_;
}

}  // namespace volley::bots
