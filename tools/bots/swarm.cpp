#include "swarm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "demo_messages_generated.h"
#include "demo_protocol.hpp"
#include "volley/snapshot/session.hpp"
#include "volley/support/stepped_rate.hpp"

namespace volley::bots {
namespace {

// After the end (and before a churned game bot leaves), chat stops this long before the
// session ends, and only lines sent at least this long before a session's end must be shown.
constexpr TimePoint kChatSettle = 1'500'000;
// A session must show only the lines sent this long after it started (the server adds a
// player on its next tick).
constexpr TimePoint kChatJoinGrace = 1'000'000;
// A game session this long that applied no snapshot is a violation: the demo sends one every
// tick, or every few under load (its stride).
constexpr TimePoint kStarvedAfter = 2'000'000;
// A churned echo bot waits this long at most for its reliable echoes before it leaves.
constexpr TimePoint kChurnDrain = 2'000'000;

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

struct Swarm::Bot {
  enum class State : std::uint8_t { kIdle, kConnecting, kConnected, kDraining, kLeaving, kGone };
  State state = State::kIdle;
  bool ever_connected = false;
  bool churned = false;     // this session ends by churn (it rejoins)
  bool in_session = false;  // connected and counted in connected_, checks running
  bool rejoined = false;    // this session's connect counted as a churn rejoin
  bool heard = false;       // this session received a packet
  TimePoint session_start = 0, leave_at = 0;
  std::unique_ptr<EchoChecker> echo;
  std::unique_ptr<GameChecker> game;
  std::vector<std::uint32_t> chat_shown_ms;  // send times of this session's chat lines shown
  std::uint32_t chat_seq = 0;
  TimePoint next_chat = 0;
};

Swarm::Swarm(SwarmConfig config, Transport& transport)
    : config_(config), transport_(transport), bots_(config.bots), rng_(config.seed) {
  scratch_.resize(std::max<std::size_t>(config_.size, kEchoHeaderBytes));
  totals_.bots = config_.bots;
}

Swarm::~Swarm() = default;

void Swarm::start(TimePoint now) {
  start_ = last_sample_ = last_integrate_ = last_due_ = now;
  tick(now);
}

void Swarm::start_session(std::size_t i, TimePoint now) {
  Bot& b = bots_[i];
  if (!transport_.connect(i)) {
    ++totals_.failed;
    b.state = Bot::State::kGone;
    return;
  }
  b.state = Bot::State::kConnecting;
  b.churned = false;
  ++live_;
  (void)now;
}

void Swarm::end_session(Bot& b, TimePoint now) {
  if (!b.in_session) return;
  b.in_session = false;
  --connected_;
  if (b.echo) totals_.echo.add(b.echo->finish());
  if (b.game) {
    GameCounts counts = b.game->counts();
    if (counts.frames_applied == 0 && now - b.session_start >= kStarvedAfter) counts.sessions_without_snapshots = 1;
    totals_.game.add(counts);
    // Every line sent while this session could see it must have been shown exactly once. After
    // the run, every line up to the stop counts (settled() waited for them); a bot leaving
    // mid-run is not judged on lines younger than the settle time.
    const ChatTally t = chat_tally(b, stopped_ ? stop_ : now - kChatSettle);
    if (t.sent > t.shown) totals_.chat_missed += t.sent - t.shown;
  }
  b.echo.reset();
  b.game.reset();
  b.chat_shown_ms = {};
}

Swarm::ChatTally Swarm::chat_tally(const Bot& b, TimePoint until) const {
  const TimePoint from = b.session_start + kChatJoinGrace - start_;
  const TimePoint to = until - start_;
  if (to <= from) return {};
  const auto lo = static_cast<std::uint32_t>(from / 1000), hi = static_cast<std::uint32_t>(to / 1000);
  ChatTally t;
  t.sent = static_cast<std::uint64_t>(std::upper_bound(chat_sent_ms_.begin(), chat_sent_ms_.end(), hi) -
                                      std::lower_bound(chat_sent_ms_.begin(), chat_sent_ms_.end(), lo));
  t.shown = static_cast<std::uint64_t>(
      std::count_if(b.chat_shown_ms.begin(), b.chat_shown_ms.end(), [&](std::uint32_t ms) { return ms >= lo && ms <= hi; }));
  return t;
}

void Swarm::tick(TimePoint now) {
  // Connected bot-seconds, for the per-bot bandwidth: while the bots send (echo bots stop at the
  // end of --seconds; counting their settle and leave made the rate look 2x lower).
  if (!stopped_ || config_.behavior == Behavior::kGame) {
    bot_seconds_ += static_cast<double>(connected_) * static_cast<double>(now - last_integrate_) * 1e-6;
  }
  last_integrate_ = now;
  if (!stopped_) {
    const double elapsed = static_cast<double>(now - start_) * 1e-6;
    const std::uint64_t connects_due =
        config_.ramp_per_s > 0 ? std::min<std::uint64_t>(config_.bots, static_cast<std::uint64_t>(elapsed * config_.ramp_per_s) + 1)
                               : config_.bots;
    while (connects_started_ < connects_due) start_session(connects_started_++, now);
    if (config_.churn_per_s > 0) churn(now);
  }
  // Churned bots leave once their echoes are back (or the drain limit passed).
  for (std::size_t k = 0; k < leaving_.size();) {
    Bot& b = bots_[leaving_[k]];
    const bool echoes_back = b.echo == nullptr || b.echo->reliable_outstanding() == 0;
    if (b.state != Bot::State::kDraining || now >= b.leave_at || (config_.behavior == Behavior::kEcho && echoes_back)) {
      if (b.state == Bot::State::kDraining) {
        // Judged up to here, as leave_all() does: the disconnect may take seconds (a lost ACK of
        // it ends only by timeout, the server having let the peer go), and lines sent
        // meanwhile were counted missed (806 under 30 % loss with churn).
        end_session(b, now);
        b.state = Bot::State::kLeaving;
        transport_.disconnect(leaving_[k]);
      }
      leaving_[k] = leaving_.back();
      leaving_.pop_back();
    } else {
      ++k;
    }
  }
  // Sends, paced: the bots take turns, evenly spread over each period, without long bursts to
  // catch up after a stall (late turns beyond the slack below are skipped, not doubled).
  if (stopped_ && config_.behavior == Behavior::kEcho) return;
  const auto n = static_cast<std::uint64_t>(config_.bots);
  if (now > last_due_) {
    sends_due_ += static_cast<double>(now - std::max(last_due_, start_)) * 1e-6 * rate_at(now) * static_cast<double>(n);
    last_due_ = now;
  }
  const auto due = static_cast<std::uint64_t>(sends_due_);
  // After a stall, sends owed beyond one turn of every bot or 20 ms of the rate (whichever is
  // more: at high per-bot rates one turn is shorter than a scheduling hiccup) are skipped.
  const auto slack = std::max(n, static_cast<std::uint64_t>(0.02 * rate_at(now) * static_cast<double>(n)));
  if (due > sends_done_ + slack) sends_done_ = due - slack;
  for (; sends_done_ < due; ++sends_done_) {
    const std::size_t i = static_cast<std::size_t>(sends_done_ % n);
    if (bots_[i].state == Bot::State::kConnected || (bots_[i].state == Bot::State::kDraining && config_.behavior == Behavior::kGame)) {
      send_tick(i, sends_done_ / n, now);
    }
  }
}

double Swarm::rate_at(TimePoint now) const {
  const double elapsed_s = static_cast<double>(now - start_) * 1e-6;
  return volley::support::stepped_rate(config_.rate_hz, elapsed_s, config_.double_after_s, config_.double_every_s);
}

void Swarm::churn(TimePoint now) {
  const auto due = static_cast<std::uint64_t>(static_cast<double>(now - start_) * 1e-6 * config_.churn_per_s);
  for (; churn_done_ < due; ++churn_done_) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::size_t i = static_cast<std::size_t>(splitmix(rng_) % config_.bots);
      Bot& b = bots_[i];
      if (b.state != Bot::State::kConnected) continue;
      b.state = Bot::State::kDraining;
      b.churned = true;
      b.leave_at = now + (config_.behavior == Behavior::kGame ? kChatSettle : kChurnDrain);
      leaving_.push_back(static_cast<std::uint32_t>(i));
      ++totals_.churn_leaves;
      break;
    }
  }
}

void Swarm::send_echo(std::size_t i, std::uint8_t channel, Delivery delivery, TimePoint now) {
  Bot& b = bots_[i];
  const EchoMessage m = b.echo->next(channel, delivery, now);
  encode_echo(m, std::span<std::uint8_t>(scratch_.data(), config_.size));
  // An unreliable message over one datagram (--size past ~1,370 B) would go as reliable
  // fragments (libenet's rule, which the Peer keeps) and come back reliable; asked for unreliable
  // fragments it stays unreliable. The flag changes nothing for a message that fits one datagram.
  const Delivery how = delivery == Delivery::kUnreliable ? Delivery::kUnreliableFragment : delivery;
  if (transport_.send(i, channel, Bytes(scratch_.data(), config_.size), how) != SendResult::kOk) {
    b.echo->unsend(m);
    ++totals_.send_errors;
    return;
  }
  ++totals_.packets_out;
  totals_.bytes_out += config_.size;
}

void Swarm::send_tick(std::size_t i, std::uint64_t tick, TimePoint now) {
  Bot& b = bots_[i];
  if (config_.behavior == Behavior::kEcho) {
    const auto channel = static_cast<std::uint8_t>(tick % config_.channels);
    const bool reliable = config_.mix == EchoMix::kReliable || (config_.mix == EchoMix::kMixed && tick % 2 == 0);
    send_echo(i, channel, reliable ? Delivery::kReliable : Delivery::kUnreliable, now);
    return;
  }
  // The game: an input every tick (a slow circle, a jump now and then), chat now and then.
  flatbuffers::FlatBufferBuilder& fbb = input_fbb_;
  fbb.Clear();
  const double phase = 0.4 * static_cast<double>(now - start_) * 1e-6 + static_cast<double>(i) * 0.7;
  const bool jump = (tick + i) % 97 == 0;
  fbb.Finish(demo::fb::CreateInput(fbb, static_cast<std::int8_t>(std::lround(127 * std::cos(phase))),
                                   static_cast<std::int8_t>(std::lround(127 * std::sin(phase))), jump));
  if (transport_.send_input(i, Bytes(fbb.GetBufferPointer(), fbb.GetSize())) == SendResult::kOk) {
    ++totals_.inputs_sent;
    ++totals_.packets_out;
    totals_.bytes_out += fbb.GetSize() + snapshot::kInputHeaderBytes;
  } else {
    ++totals_.send_errors;
  }
  if (stopped_ || b.state != Bot::State::kConnected || config_.chat_every_s <= 0 || now < b.next_chat) return;
  b.next_chat = now + static_cast<TimePoint>(config_.chat_every_s * 1e6);
  const auto sent_ms = static_cast<std::uint32_t>((now - start_) / 1000);
  char text[96];
  std::snprintf(text, sizeof text, "vb %08x %zu %u #%u", config_.nonce, i, sent_ms, b.chat_seq++);
  flatbuffers::FlatBufferBuilder chat(128);
  chat.Finish(demo::fb::CreateChat(chat, 0, chat.CreateString(text)));
  if (transport_.send(i, snapshot::kGameChannel, Bytes(chat.GetBufferPointer(), chat.GetSize()), Delivery::kReliable) ==
      SendResult::kOk) {
    ++totals_.chat_sent;
    ++totals_.packets_out;
    totals_.bytes_out += chat.GetSize();
    chat_sent_ms_.push_back(sent_ms);
  } else {
    ++totals_.send_errors;
  }
}

void Swarm::stop(TimePoint now) {
  stopped_ = true;
  stop_ = now;
  // Churned bots still draining leave now (their checks end with the run's).
  for (std::uint32_t i : leaving_) {
    if (bots_[i].state == Bot::State::kDraining) bots_[i].state = Bot::State::kConnected;
  }
  leaving_.clear();
}

bool Swarm::settled(TimePoint now, TimePoint limit) const {
  if (now >= stop_ + limit) return true;
  if (config_.behavior == Behavior::kGame) {
    // Until every bot in a session has shown every chat line sent before the stop (or the limit):
    // a slow server is waited for, not reported as missed lines.
    for (const Bot& b : bots_) {
      if (!b.in_session || !b.game) continue;
      const ChatTally t = chat_tally(b, stop_);
      if (t.shown < t.sent) return false;
    }
    return true;
  }
  for (const Bot& b : bots_) {
    if (b.state == Bot::State::kConnected && b.echo && b.echo->reliable_outstanding() != 0) return false;
  }
  // Unreliable echoes still on their way back would count as lost (4 % of a 5 s run at 100 ms
  // RTT on a perfect link): wait about two round trips after the stop (twice the p99 so far plus
  // 20 ms; half a second before any came back).
  if (config_.mix != EchoMix::kReliable) {
    const TimePoint grace = rtt_.count() > 0 ? 2 * rtt_.percentile(99) + 20'000 : 500'000;
    if (now < stop_ + grace) return false;
  }
  return true;
}

void Swarm::leave_all(TimePoint now) {
  for (std::size_t i = 0; i < bots_.size(); ++i) {
    Bot& b = bots_[i];
    if (b.state == Bot::State::kConnected || b.state == Bot::State::kDraining) {
      end_session(b, now);  // the checks end here; what arrives while leaving is not judged
      b.state = Bot::State::kLeaving;
      transport_.disconnect(i);
    } else if (b.state == Bot::State::kConnecting) {
      if (!b.ever_connected) ++totals_.failed;  // the run ended before its first connect did
      b.state = Bot::State::kLeaving;
      transport_.disconnect(i);
    }
  }
}

void Swarm::finish(TimePoint now) {
  for (Bot& b : bots_) {
    end_session(b, now);
    if (b.state == Bot::State::kConnecting && !b.ever_connected) ++totals_.failed;
    b.state = Bot::State::kGone;
  }
  live_ = 0;
  totals_.bot_seconds = bot_seconds_;
}

void Swarm::on_connected(std::size_t i, TimePoint now) {
  Bot& b = bots_[i];
  if (b.state != Bot::State::kConnecting) return;
  b.state = Bot::State::kConnected;
  b.session_start = now;
  b.rejoined = b.ever_connected;
  b.heard = false;
  if (!b.ever_connected) {
    b.ever_connected = true;
    ++totals_.connected;
    totals_.connect_time_s = std::max(totals_.connect_time_s, static_cast<double>(now - start_) * 1e-6);
  } else {
    ++totals_.churn_rejoins;
  }
  ++connected_;
  b.in_session = true;
  if (config_.behavior == Behavior::kEcho) {
    b.echo = std::make_unique<EchoChecker>(static_cast<std::uint32_t>(i), config_.channels);
  } else {
    b.game = std::make_unique<GameChecker>();
    // Spread the first chat lines over one interval.
    b.next_chat = now + static_cast<TimePoint>(config_.chat_every_s * 1e6 * static_cast<double>(i % 1024 + 1) / 1025.0);
  }
}

void Swarm::on_disconnected(std::size_t i, TimePoint now, DisconnectReason reason, std::uint32_t data) {
  Bot& b = bots_[i];
  switch (b.state) {
    case Bot::State::kConnecting:
      if (!stopped_) ++totals_.failed;  // refused or timed out while connecting
      b.state = Bot::State::kGone;
      break;
    case Bot::State::kConnected:
    case Bot::State::kDraining:
      if (refused_after_handshake(reason, data, b.heard)) {
        // Never admitted: its connect is taken back and it failed, as a refusal at CONNECT does;
        // what it sent meanwhile was never the server's to echo.
        if (b.rejoined) {
          --totals_.churn_rejoins;
        } else {
          --totals_.connected;
          b.ever_connected = false;
        }
        ++totals_.failed;
        b.echo.reset();
        b.game.reset();
        end_session(b, now);
        b.state = Bot::State::kGone;
        break;
      }
      ++totals_.dropped;  // we did not ask to leave
      end_session(b, now);
      b.state = Bot::State::kGone;
      break;
    case Bot::State::kLeaving:
      end_session(b, now);
      if (b.churned && !stopped_) {
        --live_;
        start_session(i, now);  // rejoin at once
        return;
      }
      b.state = Bot::State::kGone;
      break;
    default:
      return;
  }
  --live_;
}

void Swarm::record_rtt(TimePoint us) {
  rtt_.record(us);
  rtt_second_.record(us);
}

void Swarm::on_received(std::size_t i, std::uint8_t channel, Delivery delivery, Bytes bytes, TimePoint now) {
  ++totals_.packets_in;
  totals_.bytes_in += bytes.size();
  Bot& b = bots_[i];
  b.heard = true;
  if (b.echo == nullptr) return;  // game messages other than snapshots, or after the checks ended
  if (const std::optional<TimePoint> rtt = b.echo->on_echo(channel, delivery, bytes, now)) record_rtt(*rtt);
}

void Swarm::show_chat(Bot& b, const snapshot::Event& e) {
  flatbuffers::Verifier verifier(e.payload.data(), e.payload.size());
  if (!verifier.VerifyBuffer<demo::fb::Chat>(nullptr)) return;
  const auto* chat = flatbuffers::GetRoot<demo::fb::Chat>(e.payload.data());
  if (chat->text() == nullptr) return;
  unsigned nonce = 0, ms = 0;
  std::size_t bot = 0;
  if (std::sscanf(chat->text()->c_str(), "vb %x %zu %u", &nonce, &bot, &ms) != 3 || nonce != config_.nonce) return;
  ++totals_.chat_shown;
  b.chat_shown_ms.push_back(ms);
}

void Swarm::on_snapshot(std::size_t i, snapshot::ReceiveResult result, std::size_t bytes,
                        const snapshot::Frame* latest, std::span<const snapshot::Event> shown, TimePoint now) {
  (void)now;
  bots_[i].heard = true;
  ++totals_.packets_in;
  totals_.bytes_in += bytes;
  ++totals_.snapshots_received;
  switch (result) {
    case snapshot::ReceiveResult::kApplied: ++totals_.snapshots_applied; break;
    case snapshot::ReceiveResult::kOld: ++totals_.snapshots_dropped_old; break;
    case snapshot::ReceiveResult::kNoBaseline: ++totals_.snapshots_dropped_no_baseline; break;
    case snapshot::ReceiveResult::kBadChecksum:
    case snapshot::ReceiveResult::kCorrupt: ++totals_.snapshots_dropped_corrupt; break;
  }
  Bot& b = bots_[i];
  if (b.game == nullptr) return;
  if (result == snapshot::ReceiveResult::kApplied && latest != nullptr) b.game->on_frame(latest->number);
  for (const snapshot::Event& e : shown) {
    if (b.game->on_event(e.id) && e.kind == demo::kEventChat) show_chat(b, e);
  }
}

Sample Swarm::sample(TimePoint now) {
  if (config_.behavior == Behavior::kGame) {
    // No echo to time: the transport's smoothed RTT of every connected bot, once a second.
    for (std::size_t i = 0; i < bots_.size(); ++i) {
      if (bots_[i].state != Bot::State::kConnected) continue;
      if (const std::optional<TimePoint> r = transport_.rtt(i)) record_rtt(*r);
    }
  }
  Sample s;
  const double dt = std::max(1e-6, static_cast<double>(now - last_sample_) * 1e-6);
  s.t_s = static_cast<double>(now - start_) * 1e-6;
  s.connected = connected_;
  s.pps_in = static_cast<double>(totals_.packets_in - packets_in_mark_) / dt;
  s.pps_out = static_cast<double>(totals_.packets_out - packets_out_mark_) / dt;
  s.rtt_p50_us = rtt_second_.percentile(50);
  s.rtt_p99_us = rtt_second_.percentile(99);
  Totals t = totals();
  s.errors = t.violations() + t.failed;
  rtt_second_.clear();
  packets_in_mark_ = totals_.packets_in;
  packets_out_mark_ = totals_.packets_out;
  last_sample_ = now;
  return s;
}

Totals Swarm::totals() const {
  // Sessions still open add what they saw so far (their losses are only known at the end).
  Totals t = totals_;
  for (const Bot& b : bots_) {
    if (b.echo) t.echo.add(b.echo->counts());
    if (b.game) t.game.add(b.game->counts());
  }
  if (t.bot_seconds == 0) t.bot_seconds = bot_seconds_;
  return t;
}

}  // namespace volley::bots
