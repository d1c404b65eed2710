#include "cube_scene.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "replay.hpp"
#include <volley/snapshot/quantize.hpp>

namespace volley::bench {
namespace {

using scene::Quat;
using scene::Vec3;

constexpr std::array<FieldWidth, CubeScene::kFieldCount> kFields = {2, 9, 9, 9, -15, -15, 13, 1};
constexpr double kGravity = 9.81;
constexpr double kFriction = 0.6;
constexpr double kWall = 30.0;  // metres; the encoding covers +-32 m
constexpr int kSubsteps = 2;
constexpr int kContactIterations = 4;
constexpr double kPi = 3.14159265358979323846;

double mass_of(double half) { return 8.0 * half * half * half; }           // density 1
double inertia_of(double half) { return mass_of(half) * 4.0 * half * half / 6.0; }  // solid cube

}  // namespace

std::span<const FieldWidth> CubeScene::fields() { return kFields; }

CubeScene::CubeScene(CubeSceneConfig config) : config_(config), random_(config.seed) {
  bodies_.resize(config_.cubes);
  const std::size_t side = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(config_.cubes))));
  const double spacing = 1.7;
  for (std::size_t i = 0; i < bodies_.size(); ++i) {
    Body& b = bodies_[i];
    if (i == 0) {
      b.half = 1.0;  // the player
      b.position = {0, -kWall + 3, b.half};
    } else {
      const std::size_t cell = i - 1;
      const double offset = (static_cast<double>(side) - 1) * spacing / 2;
      b.position = {static_cast<double>(cell % side) * spacing - offset + random_.range(-0.2, 0.2),
                    static_cast<double>(cell / side) * spacing - offset + random_.range(-0.2, 0.2),
                    b.half + random_.range(0.2, 2.5)};
    }
    // Dropped with a random orientation: the first seconds show the scene settling.
    const Vec3 axis{random_.range(-1, 1), random_.range(-1, 1), random_.range(-1, 1)};
    b.orientation = axis.length() > 1e-3 ? Quat::about_axis(axis, random_.range(-kPi, kPi)) : Quat{};
    b.awake = true;
  }
  const auto warmup_ticks = static_cast<std::size_t>(config_.warmup_seconds * config_.hz);
  for (std::size_t i = 0; i < warmup_ticks; ++i) step();
  frame_ = 1;
}

std::size_t CubeScene::awake_count() const {
  return static_cast<std::size_t>(std::count_if(bodies_.begin(), bodies_.end(), [](const Body& b) { return b.awake; }));
}

void CubeScene::shove(Body& b, Vec3 push, double spin) {
  b.velocity += push;
  b.spin += Vec3{random_.range(-spin, spin), random_.range(-spin, spin), random_.range(-spin, spin)};
  b.awake = true;
  b.quiet_steps = 0;
}

void CubeScene::collide_ground(Body& b) {
  const double inv_mass = 1.0 / mass_of(b.half);
  const double inv_inertia = 1.0 / inertia_of(b.half);
  std::array<Vec3, 8> arms;
  for (int c = 0; c < 8; ++c) {
    arms[c] = b.orientation.rotate({c & 1 ? b.half : -b.half, c & 2 ? b.half : -b.half, c & 4 ? b.half : -b.half});
  }
  for (int iteration = 0; iteration < kContactIterations; ++iteration) {
    for (const Vec3& r : arms) {
      if (b.position.z + r.z > 0) continue;
      const Vec3 contact_velocity = b.velocity + b.spin.cross(r);
      if (contact_velocity.z >= 0) continue;
      // Bounce only off a hard first hit; resting contacts absorb the approach.
      const double restitution = iteration == 0 && contact_velocity.z < -1.5 ? 0.3 : 0.0;
      const Vec3 up{0, 0, 1};
      const double k_normal = inv_mass + inv_inertia * (r.x * r.x + r.y * r.y);
      const double normal = -(1 + restitution) * contact_velocity.z / k_normal;
      b.velocity += up * (normal * inv_mass);
      b.spin += r.cross(up) * (normal * inv_inertia);
      // Coulomb friction against the sliding part of the contact velocity.
      const Vec3 after = b.velocity + b.spin.cross(r);
      const Vec3 slide{after.x, after.y, 0};
      const double slide_speed = slide.length();
      if (slide_speed < 1e-9) continue;
      const Vec3 t = slide * (1.0 / slide_speed);
      const double k_tangent = inv_mass + inv_inertia * r.cross(t).dot(r.cross(t));
      const double friction = std::min(slide_speed / k_tangent, kFriction * normal);
      b.velocity += t * (-friction * inv_mass);
      b.spin += r.cross(t) * (-friction * inv_inertia);
    }
  }
  double lowest = 0;
  for (const Vec3& r : arms) lowest = std::min(lowest, b.position.z + r.z);
  b.position.z -= lowest;  // out of the ground
}

void CubeScene::collide_pair(Body& a, Body& b) {
  constexpr double kRestitution = 0.2;
  constexpr double kWakeSpeed = 0.5;  // m/s a hit must give a sleeping cube to wake it
  const Vec3 gap = b.position - a.position;
  const double reach = a.half + b.half;
  if (std::fabs(gap.y) >= reach || std::fabs(gap.z) >= reach) return;
  const double distance = gap.length();
  if (distance >= reach || distance < 1e-9) return;
  const Vec3 n = gap * (1.0 / distance);
  const double inv_a = 1.0 / mass_of(a.half);
  double inv_b = 1.0 / mass_of(b.half);
  const double closing = (b.velocity - a.velocity).dot(n);
  if (closing < 0) {
    double impulse = -(1 + kRestitution) * closing / (inv_a + inv_b);
    if (!b.awake && impulse * inv_b < kWakeSpeed) {
      inv_b = 0;  // too soft a touch: the sleeper stays put, like a wall
      impulse = -(1 + kRestitution) * closing / inv_a;
    }
    a.velocity += n * (-impulse * inv_a);
    if (inv_b > 0) {
      b.velocity += n * (impulse * inv_b);
      b.awake = true;
      b.quiet_steps = 0;
    }
  }
  // Separate them, the lighter (or the only awake one) moving more.
  const double overlap = reach - distance;
  const double share_a = inv_a / (inv_a + (b.awake ? inv_b : 0));
  a.position += n * (-overlap * share_a);
  if (b.awake) b.position += n * (overlap * (1 - share_a));
}

void CubeScene::collide_bodies() {
  // Sweep along x: only pairs closer in x than the largest reach are looked at.
  double max_half = 0;
  order_.resize(bodies_.size());
  for (std::size_t i = 0; i < bodies_.size(); ++i) {
    order_[i] = static_cast<std::uint32_t>(i);
    max_half = std::max(max_half, bodies_[i].half);
  }
  std::sort(order_.begin(), order_.end(), [&](std::uint32_t l, std::uint32_t r) {
    const double xl = bodies_[l].position.x, xr = bodies_[r].position.x;
    return xl < xr || (xl == xr && l < r);
  });
  for (std::size_t p = 0; p < order_.size(); ++p) {
    for (std::size_t q = p + 1; q < order_.size(); ++q) {
      Body& a = bodies_[order_[p]];
      Body& b = bodies_[order_[q]];
      if (b.position.x - a.position.x >= 2 * max_half) break;
      if (a.awake) {
        collide_pair(a, b);
      } else if (b.awake) {
        collide_pair(b, a);
      }
    }
  }
}

void CubeScene::integrate(Body& b, double dt) {
  if (!b.awake) return;
  b.velocity.z -= kGravity * dt;
  b.position += b.velocity * dt;
  b.orientation = b.orientation.integrated(b.spin, dt);
  b.velocity = b.velocity * (1.0 - 0.05 * dt);
  b.spin = b.spin * (1.0 - 0.4 * dt);
  collide_ground(b);
  for (double* axis : {&b.position.x, &b.position.y}) {
    if (std::fabs(*axis) > kWall - b.half) {
      *axis = std::clamp(*axis, -(kWall - b.half), kWall - b.half);
      double& v = axis == &b.position.x ? b.velocity.x : b.velocity.y;
      v = -0.3 * v;
    }
  }
  // Asleep once slow and lying on a face (three corners on the ground) for a quarter second.
  int grounded = 0;
  for (int c = 0; c < 8; ++c) {
    const Vec3 r = b.orientation.rotate({c & 1 ? b.half : -b.half, c & 2 ? b.half : -b.half, c & 4 ? b.half : -b.half});
    if (b.position.z + r.z < 0.01) ++grounded;
  }
  const bool slow = b.velocity.length() < 0.1 && b.spin.length() < 0.2;
  b.quiet_steps = slow && grounded >= 3 ? b.quiet_steps + 1 : 0;
  if (b.quiet_steps > static_cast<int>(config_.hz * kSubsteps / 4)) {
    b.awake = false;
    b.velocity = {};
    b.spin = {};
    b.quiet_steps = 0;
  }
}

void CubeScene::drive_player(double dt) {
  if (bodies_.empty()) return;
  Body& player = bodies_[0];
  goal_left_ -= dt;
  if (goal_left_ <= 0) {
    goal_left_ = random_.range(1.5, 5.0);
    // Sometimes the player stands still for a while.
    player_goal_ = random_.chance(0.3) ? player.position
                                       : Vec3{random_.range(-kWall + 4, kWall - 4), random_.range(-kWall + 4, kWall - 4), 0};
  }
  const Vec3 to_goal{player_goal_.x - player.position.x, player_goal_.y - player.position.y, 0};
  const double distance = to_goal.length();
  if (distance < 1.0) return;
  const Vec3 direction = to_goal * (1.0 / distance);
  const double along = player.velocity.dot(direction);
  if (along < 5.0) player.velocity += direction * (12.0 * dt);
  player.awake = true;
  player.quiet_steps = 0;
  // The cubes the player runs into are thrown aside.
  const double speed = std::hypot(player.velocity.x, player.velocity.y);
  if (speed < 0.5) return;
  for (std::size_t i = 1; i < bodies_.size(); ++i) {
    Body& b = bodies_[i];
    const Vec3 gap{b.position.x - player.position.x, b.position.y - player.position.y, 0};
    const double reach = player.half + b.half + 0.1;
    const double d = gap.length();
    if (d > reach || d < 1e-6) continue;
    const Vec3 away = gap * (1.0 / d);
    if (b.velocity.dot(away) > speed) continue;  // already moving away faster than the push
    shove(b, away * (speed * 1.2) + Vec3{0, 0, random_.range(0.5, 2.0)}, 3.0);
  }
}

void CubeScene::step() {
  const double dt = 1.0 / (config_.hz * kSubsteps);
  for (int s = 0; s < kSubsteps; ++s) {
    drive_player(dt);
    for (Body& b : bodies_) integrate(b, dt);
    collide_bodies();
  }
  // A blast throws up the cubes around one of them.
  if (bodies_.size() > 1 && random_.chance(config_.blasts_per_second / config_.hz)) {
    const Vec3 center = bodies_[1 + random_.below(bodies_.size() - 1)].position;
    const double radius = random_.range(3.0, 7.0);
    const double up = random_.range(2.0, 6.0);
    for (std::size_t i = 1; i < bodies_.size(); ++i) {
      Body& b = bodies_[i];
      const Vec3 gap{b.position.x - center.x, b.position.y - center.y, 0};
      const double d = gap.length();
      if (d > radius) continue;
      const double strength = 1.0 - d / radius;
      const Vec3 away = d > 1e-6 ? gap * (1.0 / d) : Vec3{};
      shove(b, Vec3{0, 0, up * strength} + away * (3.0 * strength), 6.0 * strength);
    }
  }
  ++frame_;
}

void CubeScene::record(RecordedFrame& out) const {
  out.number = frame_;
  out.ids.clear();
  out.values.clear();
  out.ids.reserve(bodies_.size());
  out.values.reserve(bodies_.size() * kFieldCount);
  for (std::size_t i = 0; i < bodies_.size(); ++i) {
    const Body& b = bodies_[i];
    out.ids.push_back(static_cast<std::uint32_t>(i));
    const Quat& q = b.orientation;
    const auto o = snapshot::quantize_quaternion(
        {static_cast<float>(q.x), static_cast<float>(q.y), static_cast<float>(q.z), static_cast<float>(q.w)}, 9);
    // 1/512 m: x, y within +-16383 units, the height within 0..8191.
    const auto position = [](double v, float limit) {
      return snapshot::quantize_position(static_cast<float>(v), 1.0f / 512, limit / 512);
    };
    const std::int32_t values[kFieldCount] = {o[0], o[1], o[2], o[3],
                                              position(b.position.x, 16383),
                                              position(b.position.y, 16383),
                                              std::clamp(position(b.position.z, 8191), 0, 8191),
                                              snapshot::quantize_bool(b.awake)};
    out.values.insert(out.values.end(), std::begin(values), std::end(values));
  }
}

Replay record_cube_scene(const CubeSceneConfig& config, std::size_t frames) {
  return record_scene<CubeScene>(config, frames);
}

}  // namespace volley::bench
