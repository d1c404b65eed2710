#include "crowd.hpp"

#include <cmath>

#include "demo_messages_generated.h"
#include "demo_protocol.hpp"
#include "volley/snapshot/session.hpp"

namespace volley::client::app {

Crowd::Crowd(Host& host, const snapshot::Schema& schema, double tick_hz, std::size_t clients)
    : host_(host), schema_(schema), tick_hz_(tick_hz) {
  players_.resize(clients);
}

bool Crowd::connect(const std::string& address, std::string& error) {
  const InterpolationConfig interpolation{.tick_interval = static_cast<TimePoint>(kSecond / tick_hz_)};
  for (std::size_t i = 0; i < players_.size(); ++i) {
    const ConnectResult r = host_.connect(address, static_cast<std::uint32_t>(i));
    if (!r) {
      error = "cannot connect to '" + address + "': " + std::string(connect_error_text(r.error));
      return false;
    }
    players_[i].id = r.connection;
    players_[i].game = std::make_unique<GameConnection>(host_, r.connection, schema_, snapshot::CodecConfig{},
                                                        demo::receiver_config(), interpolation);
  }
  return true;
}

Crowd::Player* Crowd::find(ConnectionId id) {
  // Connections are few per process (a crowd of hundreds): a scan is cheaper than a map here.
  for (Player& p : players_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

void Crowd::close(Player& p, TimePoint now) {
  if (p.connected) {
    if (const auto s = host_.stats(p.id)) {
      p.bytes_in = s->bytes_in;
      p.bytes_out = s->bytes_out;
    }
    p.connected_for = now - p.connected_at;
  }
  p.connected = false;
}

void Crowd::handle(const Event& event) {
  Player* p = find(event.connection);
  if (p == nullptr) return;
  const std::size_t index = static_cast<std::size_t>(p - players_.data());
  switch (event.type) {
    case EventType::kConnected:
      p->connected = true;
      p->ever_connected = true;
      p->connected_at = event.time;
      ++connected_ever_;
      return;
    case EventType::kDisconnected:
      if (p->ever_connected && refused_after_handshake(event.reason, event.data, p->heard)) {
        p->ever_connected = false;  // never admitted: counted failed, as a refusal at CONNECT is
        --connected_ever_;
      }
      if (!p->ever_connected) ++failed_;  // refused or timed out while connecting
      if (p->connected) {
        p->connected = false;  // stats are gone already; keep the last sampled bytes
        p->connected_for = event.time - p->connected_at;
      }
      p->ended = true;
      return;
    case EventType::kReceived:
      p->heard = true;
      if (p->game->handle(event)) {
        if (const snapshot::Frame* f = p->game->frame()) {
          if (f->number < p->newest) ++frame_regressions_;
          p->newest = f->number;
        }
        show_events(index, *p);
      }
      return;
  }
}

void Crowd::show_events(std::size_t index, Player& p) {
  p.game->take_events(events_);
  for (const snapshot::Event& e : events_) {
    if (!p.shown.insert(e.id).second) {
      ++events_duplicated_;
      continue;
    }
    ++events_shown_;
    flatbuffers::Verifier verifier(e.payload.data(), e.payload.size());
    if (e.kind == demo::kEventChat && verifier.VerifyBuffer<demo::fb::Chat>(nullptr)) {
      ++chat_shown_;
      const auto* chat = flatbuffers::GetRoot<demo::fb::Chat>(e.payload.data());
      if (index == 0) {
        chat_lines_.push_back(std::to_string(chat->from() - demo::kFirstPlayerId) + ": " +
                              (chat->text() != nullptr ? chat->text()->str() : std::string()));
      }
    } else if (e.kind == demo::kEventCreated) {
      ++created_shown_;
    } else if (e.kind == demo::kEventDestroyed) {
      ++destroyed_shown_;
    }
  }
}

void Crowd::send_inputs(double t, bool idle) {
  flatbuffers::FlatBufferBuilder fbb(64);
  for (std::size_t i = 0; i < players_.size(); ++i) {
    Player& p = players_[i];
    if (!p.connected) continue;
    // Each player walks its own slow circle and jumps every few seconds.
    const double phase = 0.4 * t + static_cast<double>(i) * 0.7;
    const bool jump = (++p.jump_ticks % static_cast<std::uint64_t>(3 * tick_hz_ + i % 7)) == 0;
    MoveInput input{static_cast<std::int8_t>(std::lround(127 * std::cos(phase))),
                    static_cast<std::int8_t>(std::lround(127 * std::sin(phase))), jump};
    if (idle) input = MoveInput{};
    if (p.steered) {
      input = p.steering;
      p.steering.jump = false;  // a jump goes out once
    }
    fbb.Clear();
    fbb.Finish(demo::fb::CreateInput(fbb, input.x, input.y, input.jump));
    p.game->send_input(Bytes(fbb.GetBufferPointer(), fbb.GetSize()));
  }
}

void Crowd::steer(std::size_t client, MoveInput input) {
  if (client >= players_.size()) return;
  players_[client].steered = true;
  players_[client].steering = input;
}

bool Crowd::send_chat(std::size_t client, const std::string& text) {
  if (client >= players_.size() || !players_[client].connected) return false;
  flatbuffers::FlatBufferBuilder fbb(128);
  fbb.Finish(demo::fb::CreateChat(fbb, 0, fbb.CreateString(text.substr(0, demo::kMaxChatText))));
  const SendResult r = host_.send(players_[client].id, snapshot::kGameChannel,
                                  Bytes(fbb.GetBufferPointer(), fbb.GetSize()), Delivery::kReliable);
  if (r != SendResult::kOk) return false;
  ++chat_sent_;
  return true;
}

void Crowd::disconnect_all(TimePoint now) {
  for (Player& p : players_) {
    if (!p.connected) continue;
    close(p, now);
    host_.disconnect(p.id);
  }
}

void Crowd::sample_rtt(std::vector<std::uint32_t>& out) {
  for (Player& p : players_) {
    if (!p.connected) continue;
    if (const auto s = host_.stats(p.id)) {
      out.push_back(s->rtt_ms);
      p.bytes_in = s->bytes_in;
      p.bytes_out = s->bytes_out;
    }
  }
}

CrowdTotals Crowd::totals(TimePoint now) {
  CrowdTotals t;
  t.clients = players_.size();
  t.connected_ever = connected_ever_;
  t.failed = failed_;
  for (const Player& p : players_) {
    if (p.connected) ++t.connected_now;
    if (p.game) {
      const snapshot::ReceiverCounters& c = p.game->counters();
      t.frames_received += c.received;
      t.frames_applied += c.applied;
      t.dropped_old += c.dropped_old;
      t.dropped_corrupt += c.dropped_corrupt + c.dropped_checksum;
      t.dropped_no_baseline += c.dropped_no_baseline;
    }
    t.bytes_in += p.bytes_in;
    t.bytes_out += p.bytes_out;
    const TimePoint connected = p.connected ? now - p.connected_at : p.connected_for;
    t.client_seconds += static_cast<double>(connected) / kSecond;
  }
  t.frame_regressions = frame_regressions_;
  t.events_shown = events_shown_;
  t.events_duplicated = events_duplicated_;
  t.chat_sent = chat_sent_;
  t.chat_shown = chat_shown_;
  t.created_shown = created_shown_;
  t.destroyed_shown = destroyed_shown_;
  return t;
}

std::pair<std::uint32_t, std::size_t> Crowd::view() const {
  for (const Player& p : players_) {
    if (p.connected && p.game->frame() != nullptr) return {p.game->frame()->number, p.game->frame()->size()};
  }
  return {0, 0};
}

std::vector<std::string> Crowd::take_chat_lines() {
  std::vector<std::string> lines;
  lines.swap(chat_lines_);
  return lines;
}

}  // namespace volley::client::app
