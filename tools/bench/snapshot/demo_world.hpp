// The scene pieces the bench shares with the demo game (server/app/demo, library
// volley_demo_world), named in the bench's namespace, and the demo-scene replay recorder.
#pragma once

#include <cstddef>

#include "demo_scene.hpp"
#include "recorded_frame.hpp"
#include "scene_math.hpp"

namespace volley::bench {

using demo::DemoScene;
using demo::DemoSceneConfig;
using demo::FieldWidth;
using demo::RecordedFrame;
namespace scene = demo::scene;

// Runs a fresh demo scene for `frames` ticks and returns the replay of them (replay.hpp).
struct Replay;
Replay record_demo_scene(const DemoSceneConfig& config, std::size_t frames);

}  // namespace volley::bench
