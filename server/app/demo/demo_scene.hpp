// The demo scene (issue 9): the world of the demo game (volley-server --mode demo), which the
// snapshot benches measure too.
// N entities walk a 512 m x 512 m field; a quarter of them move at any time (steering towards
// a target, facing where they go, now and then jumping), the rest stand still; a few despawn
// and are replaced by new ones under fresh ids. Deterministic for a seed.
//
// Fields per entity (the codec's field widths): position x, y in 1/64 m (signed 16 bits),
// height in 1/64 m (unsigned 12 bits), orientation as smallest three (2 + 3 x 9 bits),
// velocity x, y, z within +-64 m/s (signed 12 bits), all through the codec's quantize helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "recorded_frame.hpp"
#include "scene_math.hpp"

namespace volley::demo {

struct DemoSceneConfig {
  std::uint64_t seed = 1;
  std::size_t entities = 256;
  double hz = 30;
  double respawns_per_second = 1.5;  // despawn one standing entity and spawn a fresh one
};

class DemoScene {
 public:
  static constexpr std::size_t kFieldCount = 10;
  static std::span<const FieldWidth> fields();

  explicit DemoScene(DemoSceneConfig config);

  // Advances the world by one tick (1 / hz seconds); the frame number grows by one.
  void step();
  // The quantized world of the current tick.
  void record(RecordedFrame& out) const;
  std::uint32_t frame_number() const { return frame_; }
  std::size_t moving_count() const;

 private:
  struct Entity {
    std::uint32_t id = 0;
    scene::Vec3 position, velocity, target;
    double heading = 0;  // radians about the vertical axis
    double move_left = 0;  // seconds of movement left; 0 = standing
  };

  void start_moving(Entity& e);
  Entity spawn();

  DemoSceneConfig config_;
  scene::Random random_;
  std::vector<Entity> entities_;  // ids increasing
  std::uint32_t next_id_ = 1;
  std::uint32_t frame_ = 1;
};

// The ten quantized fields of a body (kEntityFields): position, orientation from a heading about
// the vertical and a bank about the forward axis, velocity. Players use it like scene entities.
void quantize_body(scene::Vec3 position, scene::Vec3 velocity, double heading, double bank,
                   std::span<std::int32_t, DemoScene::kFieldCount> out);

}  // namespace volley::demo
