// The replay file the snapshot bench reads (issue 9), little-endian:
//   "VSRP", u32 version = 1, u32 field count F, F x i8 field widths (see FieldWidth),
//   then frames until end of file: u32 frame number, u32 entity count N, N x (u32 id, F x i32).
// The reader trusts nothing: every count is checked against the bytes left before anything is
// allocated, so memory stays within a small multiple of the file size, and each defect is
// reported as one line naming the frame and byte offset.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "demo_world.hpp"

namespace volley::bench {

inline constexpr std::uint32_t kReplayVersion = 1;
inline constexpr std::uint32_t kReplayMaxFields = snapshot::kMaxFieldsPerType;  // the codec's limit
// The reader refuses larger files (a replay of 901 bodies x 8 fields at 60 Hz is ~2 MB/min).
inline constexpr std::size_t kReplayMaxFileBytes = std::size_t{1} << 30;

struct Replay {
  std::vector<FieldWidth> fields;
  std::vector<RecordedFrame> frames;  // frame numbers strictly increasing

  bool operator==(const Replay&) const = default;
};

// Runs a fresh scene (any type with fields(), record(frame) and step()) for `frames` ticks and
// returns the replay of them.
template <class Scene, class Config>
Replay record_scene(const Config& config, std::size_t frames) {
  Replay replay;
  replay.fields.assign(Scene::fields().begin(), Scene::fields().end());
  replay.frames.reserve(frames);
  Scene scene(config);
  for (std::size_t i = 0; i < frames; ++i) {
    replay.frames.emplace_back();
    scene.record(replay.frames.back());
    scene.step();
  }
  return replay;
}

struct ReplayResult {
  std::optional<Replay> replay;
  std::string error;  // one line, when replay is empty
};

// Checks the same rules the reader enforces (used by the writer); empty string when valid.
std::string validate_replay(const Replay& replay);

ReplayResult parse_replay(std::span<const std::uint8_t> bytes);
ReplayResult read_replay(const std::string& path);

// Serialises a valid replay; returns an empty vector and sets `error` when it is not valid.
std::vector<std::uint8_t> serialize_replay(const Replay& replay, std::string& error);
// Writes the file; false with a one-line `error` on an invalid replay or an I/O failure.
bool write_replay(const std::string& path, const Replay& replay, std::string& error);

}  // namespace volley::bench
