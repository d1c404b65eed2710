#include "demo_scene.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "demo_protocol.hpp"

#include <volley/snapshot/quantize.hpp>

namespace volley::demo {
namespace {

constexpr double kHalfField = 250.0;  // metres; the encoding covers +-512 m
constexpr double kGravity = 9.81;
constexpr double kPi = 3.14159265358979323846;

}  // namespace

std::span<const FieldWidth> DemoScene::fields() { return kEntityFields; }

DemoScene::DemoScene(DemoSceneConfig config) : config_(config), random_(config.seed) {
  entities_.reserve(config_.entities);
  for (std::size_t i = 0; i < config_.entities; ++i) entities_.push_back(spawn());
  // A quarter of them start moving, at staggered points of their walks.
  for (std::size_t i = 0; i < config_.entities / 4; ++i) {
    Entity* e = nullptr;
    do {
      e = &entities_[random_.below(entities_.size())];
    } while (e->move_left > 0);
    start_moving(*e);
    e->move_left *= random_.unit();
    e->move_left = std::max(e->move_left, 1.0 / config_.hz);
  }
}

DemoScene::Entity DemoScene::spawn() {
  Entity e;
  e.id = next_id_++;
  e.position = {random_.range(-kHalfField, kHalfField), random_.range(-kHalfField, kHalfField), 0};
  e.heading = random_.range(-kPi, kPi);
  return e;
}

void DemoScene::start_moving(Entity& e) {
  e.move_left = random_.range(1.0, 6.0);
  const double angle = random_.range(-kPi, kPi);
  const double distance = random_.range(10.0, 60.0);
  e.target = {std::clamp(e.position.x + distance * std::cos(angle), -kHalfField, kHalfField),
              std::clamp(e.position.y + distance * std::sin(angle), -kHalfField, kHalfField), 0};
}

std::size_t DemoScene::moving_count() const {
  return static_cast<std::size_t>(std::count_if(entities_.begin(), entities_.end(),
                                                [](const Entity& e) { return e.move_left > 0; }));
}

void DemoScene::step() {
  const double dt = 1.0 / config_.hz;
  std::size_t stopped = 0;
  for (Entity& e : entities_) {
    const bool airborne = e.position.z > 0 || e.velocity.z > 0;
    if (e.move_left <= 0 && !airborne) continue;
    if (e.move_left > 0) {
      // Steer towards the target at a walking or running speed, with some wobble.
      const scene::Vec3 to_target{e.target.x - e.position.x, e.target.y - e.position.y, 0};
      const double distance = to_target.length();
      const double speed = distance > 1.0 ? 3.0 + 0.5 * static_cast<double>(e.id % 9) : 0.0;
      scene::Vec3 wanted = distance > 1e-9 ? to_target * (speed / distance) : scene::Vec3{};
      wanted += scene::Vec3{random_.range(-0.5, 0.5), random_.range(-0.5, 0.5), 0};
      const double blend = std::min(1.0, 4.0 * dt);
      e.velocity.x += (wanted.x - e.velocity.x) * blend;
      e.velocity.y += (wanted.y - e.velocity.y) * blend;
      if (!airborne && random_.chance(0.2 * dt)) e.velocity.z = random_.range(3.0, 5.0);  // a jump
      if (std::hypot(e.velocity.x, e.velocity.y) > 0.3) e.heading = std::atan2(e.velocity.y, e.velocity.x);
      e.move_left -= dt;
      if (e.move_left <= 0) {
        e.move_left = 0;
        ++stopped;
      }
    }
    if (e.move_left <= 0) e.velocity.x = e.velocity.y = 0;
    e.velocity.z -= airborne || e.velocity.z > 0 ? kGravity * dt : 0;
    e.position += e.velocity * dt;
    if (e.position.z <= 0) {
      e.position.z = 0;
      e.velocity.z = 0;
    }
    e.position.x = std::clamp(e.position.x, -kHalfField, kHalfField);
    e.position.y = std::clamp(e.position.y, -kHalfField, kHalfField);
  }
  // Whoever stopped is replaced by a standing entity starting to move: a quarter keeps moving.
  for (; stopped > 0; --stopped) {
    for (int tries = 0; tries < 64; ++tries) {
      Entity& e = entities_[random_.below(entities_.size())];
      if (e.move_left <= 0 && e.position.z <= 0) {
        start_moving(e);
        break;
      }
    }
  }
  // Now and then a standing entity leaves and a new one appears (fresh id, appended in order).
  // A scene of no entities (--entities 0: the players alone) has none to replace.
  if (!entities_.empty() && random_.chance(config_.respawns_per_second * dt)) {
    for (int tries = 0; tries < 64; ++tries) {
      const std::size_t i = random_.below(entities_.size());
      if (entities_[i].move_left <= 0 && entities_[i].position.z <= 0) {
        entities_.erase(entities_.begin() + static_cast<std::ptrdiff_t>(i));
        entities_.push_back(spawn());
        break;
      }
    }
  }
  ++frame_;
}

void DemoScene::record(RecordedFrame& out) const {
  out.number = frame_;
  out.ids.clear();
  out.values.clear();
  out.ids.reserve(entities_.size());
  out.values.reserve(entities_.size() * kFieldCount);
  for (const Entity& e : entities_) {
    out.ids.push_back(e.id);
    out.values.resize(out.values.size() + kFieldCount);
    // Lean into the run: a small bank about the direction of travel when moving.
    quantize_body(e.position, e.velocity, e.heading, e.move_left > 0 ? 0.15 : 0.0,
                  std::span<std::int32_t, kFieldCount>(out.values.end() - kFieldCount, kFieldCount));
  }
}

void quantize_body(scene::Vec3 position, scene::Vec3 velocity, double heading, double bank,
                   std::span<std::int32_t, DemoScene::kFieldCount> out) {
  const scene::Quat q = scene::Quat::about_axis({0, 0, 1}, heading) * scene::Quat::about_axis({1, 0, 0}, bank);
  namespace s = snapshot;
  const auto o = s::quantize_quaternion({static_cast<float>(q.x), static_cast<float>(q.y), static_cast<float>(q.z),
                                         static_cast<float>(q.w)},
                                        9);
  const auto at = [](double v) { return s::quantize_position(static_cast<float>(v), 1.0f / 64, 32767.0f / 64); };
  const auto speed = [](double v) { return s::quantize_velocity(static_cast<float>(v), 64.0f, 12); };
  const std::int32_t values[DemoScene::kFieldCount] = {at(position.x), at(position.y),
                                                       std::clamp(at(position.z), 0, 4095),
                                                       o[0], o[1], o[2], o[3],
                                                       speed(velocity.x), speed(velocity.y), speed(velocity.z)};
  std::copy(std::begin(values), std::end(values), out.begin());
}

}  // namespace volley::demo
