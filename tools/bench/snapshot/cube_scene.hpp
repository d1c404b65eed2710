// A 901-rigid-body scene in the manner of the published snapshot compression challenge: a
// 30 x 30 grid of 1 m cubes plus one larger "player" cube (id 0) that wanders and shoves the
// cubes it reaches, and now and then a blast throws a group up. Cubes fall under gravity,
// bounce and tumble on the ground plane (impulses at the corners with friction) and fall asleep
// once settled, so most of the scene rests most of the time. Cubes push each other as spheres
// (their inscribed spheres: cheap, and enough to keep thrown cubes from landing inside others);
// a hard enough hit wakes a sleeping cube. Deterministic for a seed.
//
// Fields, quantized like the challenge: orientation smallest three (largest index 2 bits,
// a, b, c unsigned 9 bits), position x, y in 1/512 m (signed 15 bits: +-16383), height in
// 1/512 m (unsigned 13 bits: 0..8191), and one "interacting" bit (the cube is awake).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "demo_world.hpp"

namespace volley::bench {

struct CubeSceneConfig {
  std::uint64_t seed = 1;
  std::size_t cubes = 901;
  double hz = 60;
  double blasts_per_second = 2.0;
  double warmup_seconds = 3;  // simulated before the first frame: the drop has mostly settled
};

class CubeScene {
 public:
  static constexpr std::size_t kFieldCount = 8;
  static std::span<const FieldWidth> fields();

  explicit CubeScene(CubeSceneConfig config);

  void step();  // one tick of 1 / hz seconds
  void record(RecordedFrame& out) const;
  std::uint32_t frame_number() const { return frame_; }
  std::size_t awake_count() const;

 private:
  struct Body {
    scene::Vec3 position, velocity, spin;
    scene::Quat orientation;
    double half = 0.5;  // half edge, metres
    int quiet_steps = 0;
    bool awake = false;
  };

  void integrate(Body& b, double dt);
  void collide_ground(Body& b);
  void collide_bodies();
  void collide_pair(Body& awake, Body& other);
  void shove(Body& b, scene::Vec3 push, double spin);
  void drive_player(double dt);

  CubeSceneConfig config_;
  scene::Random random_;
  std::vector<Body> bodies_;  // index = entity id
  std::vector<std::uint32_t> order_;  // bodies by x, for the collision sweep
  scene::Vec3 player_goal_;
  double goal_left_ = 0;
  std::uint32_t frame_ = 1;
};

struct Replay;
Replay record_cube_scene(const CubeSceneConfig& config, std::size_t frames);

}  // namespace volley::bench
