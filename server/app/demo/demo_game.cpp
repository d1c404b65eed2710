#include "demo_game.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "demo_messages_generated.h"
#include "demo_protocol.hpp"

namespace volley::demo {
namespace {

constexpr double kPlayerSpeed = 6.0;  // m/s at full input
constexpr double kJumpSpeed = 4.5;
constexpr double kGravity = 9.81;
constexpr double kHalfField = 250.0;

std::uint64_t key(server::PeerHandle peer) {
  return (std::uint64_t{peer.index} << 32) | peer.generation;
}

}  // namespace

DemoGame::DemoGame(server::Server& server, DemoGameConfig config)
    : server_(server),
      config_(config),
      scene_({.seed = config.seed, .entities = config.entities, .hz = config.tick_hz}),
      next_player_id_(kFirstPlayerId),
      events_(config.event_backlog) {}

snapshot::Schema DemoGame::schema() {
  snapshot::Schema schema;
  schema.add_type(kEntityFields);
  return schema;
}

server::Callbacks DemoGame::callbacks() {
  server::Callbacks c;
  c.on_connect = [this](server::PeerHandle peer, std::uint32_t) { join(peer); };
  c.on_disconnect = [this](server::PeerHandle peer, server::DisconnectReason, std::uint32_t) { leave(peer); };
  c.on_receive = [this](const server::Packet& packet) { receive(packet); };
  c.on_input = [this](server::PeerHandle peer, const snapshot::Input& in) { input(peer, in); };
  c.on_tick = [this](std::uint32_t frame, snapshot::Frame& world) { tick(frame, world); };
  return c;
}

void DemoGame::raise_change(std::uint16_t kind, std::uint32_t id, bool player) {
  flatbuffers::FlatBufferBuilder fbb(64);
  fbb.Finish(fb::CreateEntityChange(fbb, id, player));
  raise(kind, Bytes(fbb.GetBufferPointer(), fbb.GetSize()));
}

void DemoGame::raise(std::uint16_t kind, Bytes payload) {
  events_.raise(kind, payload, [this](std::uint16_t k, Bytes p) { return server_.raise_event(k, p) != 0; });
}

void DemoGame::join(server::PeerHandle peer) {
  Player p;
  p.id = next_player_id_++;
  // Spawn points spread on a circle, so a crowd does not stand in one spot; with interest
  // management on a sunflower spiral over the whole field (uniform density, ~230 m radius for
  // 1,000 players), so that each player's neighbourhood holds a few dozen others, not everyone.
  const auto n = static_cast<double>((p.id - kFirstPlayerId) % 1000);
  const double angle = n * 2.39996;
  const double radius = config_.view_cell > 0 ? 7.3 * std::sqrt(n + 0.5) : 20.0;
  p.position = {radius * std::cos(angle), radius * std::sin(angle), 0};
  p.heading = angle;
  players_.emplace(p.id, p);
  if (config_.view_cell > 0) {
    const std::size_t slot = p.id - kFirstPlayerId;
    if (cells_.size() <= slot) cells_.resize(slot + 1);
    cells_[slot] = cell_of(p);
    const std::uint32_t viewer = p.id;
    server_.set_view_filter(peer, [this, viewer](std::uint32_t id, std::uint16_t) { return sees(viewer, id); });
  }
  peer_ids_[key(peer)] = p.id;
  ++counters_.players_joined;
  raise_change(kEventCreated, p.id, true);
}

std::uint32_t DemoGame::cell_of(const Player& p) const noexcept {
  const auto cell = [&](double v) {
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(std::floor((v + kHalfField) / config_.view_cell)) + 0x8000) & 0xFFFF;
  };
  return (cell(p.position.x) << 16) | cell(p.position.y);
}

bool DemoGame::sees(std::uint32_t viewer, std::uint32_t id) const noexcept {
  if (id < kFirstPlayerId) return true;  // the scene: everyone sees all of it
  const std::size_t slot = id - kFirstPlayerId;
  if (slot >= cells_.size()) return false;
  const std::uint32_t a = cells_[viewer - kFirstPlayerId], b = cells_[slot];
  const auto near = [](std::uint32_t x, std::uint32_t y) { return (x > y ? x - y : y - x) <= 1; };
  return near(a >> 16, b >> 16) && near(a & 0xFFFF, b & 0xFFFF);
}

void DemoGame::leave(server::PeerHandle peer) {
  const auto it = peer_ids_.find(key(peer));
  if (it == peer_ids_.end()) return;
  players_.erase(it->second);
  raise_change(kEventDestroyed, it->second, true);
  peer_ids_.erase(it);
  ++counters_.players_left;
}

void DemoGame::input(server::PeerHandle peer, const snapshot::Input& in) {
  const auto it = peer_ids_.find(key(peer));
  if (it == peer_ids_.end()) return;
  flatbuffers::Verifier verifier(in.bytes.data(), in.bytes.size());
  if (in.bytes.empty() || !verifier.VerifyBuffer<fb::Input>(nullptr)) {
    ++counters_.inputs_malformed;
    return;
  }
  const fb::Input* message = flatbuffers::GetRoot<fb::Input>(in.bytes.data());
  Player& p = players_.at(it->second);
  p.move_x = std::clamp(message->move_x() / 127.0, -1.0, 1.0);
  p.move_y = std::clamp(message->move_y() / 127.0, -1.0, 1.0);
  p.jump = p.jump || message->jump();
  ++counters_.inputs;
}

void DemoGame::receive(const server::Packet& packet) {
  if (packet.channel != snapshot::kGameChannel) return;
  const auto it = peer_ids_.find(key(packet.peer));
  if (it == peer_ids_.end()) return;
  flatbuffers::Verifier verifier(packet.bytes.data(), packet.bytes.size());
  if (packet.bytes.empty() || !verifier.VerifyBuffer<fb::Chat>(nullptr)) {
    ++counters_.chat_malformed;
    return;
  }
  Player& player = players_.at(it->second);
  if (player.chat_tokens < 1) {
    ++counters_.chat_rate_limited;
    return;
  }
  player.chat_tokens -= 1;
  const fb::Chat* chat = flatbuffers::GetRoot<fb::Chat>(packet.bytes.data());
  std::string text = chat->text() != nullptr ? chat->text()->str() : std::string();
  if (text.size() > kMaxChatText) text.resize(kMaxChatText);
  ++counters_.chat_received;
  flatbuffers::FlatBufferBuilder fbb(kMaxChatText + 64);
  fbb.Finish(fb::CreateChat(fbb, it->second, fbb.CreateString(text)));
  raise(kEventChat, Bytes(fbb.GetBufferPointer(), fbb.GetSize()));
}

void DemoGame::step_player(Player& p, double dt) {
  p.chat_tokens = std::min(kChatBurst, p.chat_tokens + dt * kChatLinesPerSecond);
  const double length = std::hypot(p.move_x, p.move_y);
  const double scale = length > 1.0 ? kPlayerSpeed / length : kPlayerSpeed;
  p.velocity.x = p.move_x * scale;
  p.velocity.y = p.move_y * scale;
  const bool grounded = p.position.z <= 0 && p.velocity.z <= 0;
  if (grounded && p.jump) p.velocity.z = kJumpSpeed;
  p.jump = false;
  if (!grounded || p.velocity.z > 0) p.velocity.z -= kGravity * dt;
  p.position += p.velocity * dt;
  if (p.position.z <= 0) p.position.z = p.velocity.z = 0;
  p.position.x = std::clamp(p.position.x, -kHalfField, kHalfField);
  p.position.y = std::clamp(p.position.y, -kHalfField, kHalfField);
  if (length > 0.1) p.heading = std::atan2(p.move_y, p.move_x);
}

void DemoGame::tick(std::uint32_t /*frame*/, snapshot::Frame& world) {
  // Last tick's acknowledgements freed room in the sender's window: the oldest held events first.
  events_.drain([this](std::uint16_t k, Bytes p) { return server_.raise_event(k, p) != 0; });
  scene_.step();
  scene_.record(recorded_);
  // Scene entities that left or appeared since the last tick (both id lists increase).
  if (!previous_ids_.empty()) {
    std::size_t a = 0, b = 0;
    const auto& now = recorded_.ids;
    while (a < previous_ids_.size() || b < now.size()) {
      if (b == now.size() || (a < previous_ids_.size() && previous_ids_[a] < now[b])) {
        raise_change(kEventDestroyed, previous_ids_[a++], false);
      } else if (a == previous_ids_.size() || now[b] < previous_ids_[a]) {
        raise_change(kEventCreated, now[b++], false);
      } else {
        ++a, ++b;
      }
    }
  }
  previous_ids_ = recorded_.ids;

  const std::size_t fields = DemoScene::kFieldCount;
  world.reserve(recorded_.size() + players_.size(), (recorded_.size() + players_.size()) * fields);
  for (std::size_t i = 0; i < recorded_.size(); ++i) world.add(recorded_.ids[i], 0, recorded_.entity(i, fields));
  const double dt = 1.0 / config_.tick_hz;
  counters_.player_ticks += players_.size();
  for (auto& [id, p] : players_) {
    step_player(p, dt);
    if (config_.view_cell > 0) cells_[id - kFirstPlayerId] = cell_of(p);
    quantize_body(p.position, p.velocity, p.heading, 0.0,
                  std::span<std::int32_t, DemoScene::kFieldCount>(world.emplace(id, 0, fields).data(), fields));
  }
}

}  // namespace volley::demo
