// The little vector algebra and the seeded random source the scene generators share. Plain
// doubles and a fixed generator keep every scene identical for a given seed on this platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace volley::demo::scene {

struct Vec3 {
  double x = 0, y = 0, z = 0;
  Vec3 operator+(Vec3 o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(Vec3 o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  Vec3& operator+=(Vec3 o) { return *this = *this + o; }
  double dot(Vec3 o) const { return x * o.x + y * o.y + z * o.z; }
  Vec3 cross(Vec3 o) const { return {y * o.z - z * o.y, z * o.x - x * o.z, x * o.y - y * o.x}; }
  double length() const { return std::sqrt(dot(*this)); }
};

struct Quat {
  double w = 1, x = 0, y = 0, z = 0;
  Quat operator*(Quat o) const {
    return {w * o.w - x * o.x - y * o.y - z * o.z, w * o.x + x * o.w + y * o.z - z * o.y,
            w * o.y - x * o.z + y * o.w + z * o.x, w * o.z + x * o.y - y * o.x + z * o.w};
  }
  Quat normalized() const {
    const double n = std::sqrt(w * w + x * x + y * y + z * z);
    return {w / n, x / n, y / n, z / n};
  }
  Vec3 rotate(Vec3 v) const {
    const Vec3 u{x, y, z};
    const Vec3 t = u.cross(v) * 2.0;
    return v + t * w + u.cross(t);
  }
  // The orientation after turning at angular velocity `omega` (rad/s, world frame) for `dt`.
  Quat integrated(Vec3 omega, double dt) const {
    const Quat spin{0, omega.x, omega.y, omega.z};
    const Quat d = spin * *this;
    return Quat{w + 0.5 * dt * d.w, x + 0.5 * dt * d.x, y + 0.5 * dt * d.y, z + 0.5 * dt * d.z}.normalized();
  }
  static Quat about_axis(Vec3 axis, double angle) {
    const double s = std::sin(angle / 2) / axis.length();
    return Quat{std::cos(angle / 2), axis.x * s, axis.y * s, axis.z * s};
  }
};

// Uniform doubles from a fixed generator without std::uniform_real_distribution, whose output
// is left to the standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double range(double lo, double hi) { return lo + (hi - lo) * unit(); }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : engine_() % n; }
  bool chance(double p) { return unit() < p; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace volley::demo::scene
