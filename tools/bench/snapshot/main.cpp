// volley-snapshot-bench: scores the snapshot codec on recorded frames (a replay file) so that
// anyone can compare it with published results; writes the demo and 901-cube replays; prints the
// issue's (a)-(d) bandwidth table for the demo scene. A benchmark, not a test: it reports, and
// fails (exit 1) only when a packet does not decode to the frame it was made from.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <volley/snapshot/dictionary.hpp>

#include "bench_measure.hpp"
#include "bench_options.hpp"
#include "cube_scene.hpp"
#include "demo_world.hpp"
#include "replay.hpp"

namespace {

using namespace volley::bench;
namespace snapshot = volley::snapshot;

constexpr std::size_t kMaxDictionaryBytes = 1 << 20;
constexpr std::size_t kDemoFrames = 900;
constexpr std::size_t kCubeFrames = 1800;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "volley-snapshot-bench: %s\n", message.c_str());
  return 2;
}

// Reads a whole file of at most `limit` bytes; empty with `error` set on failure.
std::vector<std::uint8_t> read_small_file(const std::string& path, std::size_t limit, std::string& error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = "cannot open '" + path + "'";
    return {};
  }
  std::vector<std::uint8_t> bytes;
  char chunk[4096];
  while (file.read(chunk, sizeof(chunk)) || file.gcount() > 0) {
    bytes.insert(bytes.end(), chunk, chunk + file.gcount());
    if (bytes.size() > limit) {
      error = "'" + path + "' is larger than " + std::to_string(limit) + " bytes";
      return {};
    }
  }
  if (bytes.empty()) error = "'" + path + "' is empty";
  return bytes;
}

bool write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  file.close();
  return static_cast<bool>(file);
}

int write_scene(const std::string& path, const Replay& replay, const char* what) {
  std::string error;
  if (!write_replay(path, replay, error)) return usage_error(error);
  const std::size_t entities = replay.frames.empty() ? 0 : replay.frames.front().size();
  std::fprintf(stderr, "volley-snapshot-bench: wrote %zu frames of the %s (%zu entities, %zu fields) to %s\n",
               replay.frames.size(), what, entities, replay.fields.size(), path.c_str());
  return 0;
}

std::string fixed(double v, int digits = 2) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", digits, v);
  return text;
}

// Trains a dictionary on packets encoded without one at the run's baseline distance.
std::vector<std::uint8_t> train_on(const snapshot::Schema& schema, const BenchOptions& options,
                                   std::span<const snapshot::Frame> frames, std::size_t distance) {
  snapshot::CodecConfig plain;
  plain.zstd_level = options.zstd_level;
  StreamResult samples = measure_stream(schema, plain, frames, distance, true);
  return snapshot::train_dictionary(samples.packets, options.dict_bytes);
}

int run_replay(const BenchOptions& options) {
  const ReplayResult read = read_replay(*options.replay);
  if (!read.replay) return usage_error(read.error);
  const Replay& replay = *read.replay;
  const std::size_t distance = options.baseline_distance;
  if (replay.frames.size() <= distance) {
    return usage_error("replay has " + std::to_string(replay.frames.size()) + " frames; baseline distance " +
                       std::to_string(distance) + " needs at least " + std::to_string(distance + 1));
  }
  snapshot::Schema schema;
  const auto type = schema.add_type(replay.fields);
  if (!type) return usage_error("the codec does not accept this replay's field list");
  const std::vector<snapshot::Frame> frames = to_frames(replay, *type);

  std::vector<std::uint8_t> dictionary;
  std::string dictionary_note = "none";
  if (options.dict) {
    std::string error;
    dictionary = read_small_file(*options.dict, kMaxDictionaryBytes, error);
    if (!error.empty()) return usage_error("--dict: " + error);
    dictionary_note = *options.dict;
  } else if (options.train_dict) {
    dictionary = train_on(schema, options, frames, distance);
    if (dictionary.empty()) return usage_error("--train-dict: zstd could not train a dictionary on this replay");
    if (!write_file(*options.train_dict, dictionary)) return usage_error("--train-dict: cannot write '" + *options.train_dict + "'");
    dictionary_note = "trained on this replay -> " + *options.train_dict;
  }

  snapshot::CodecConfig config;
  config.zstd_level = options.zstd_level;
  config.dictionary = dictionary;
  const StreamResult delta = measure_stream(schema, config, frames, distance, false);
  const StreamResult full = measure_stream(schema, config, frames, 0, false);
  const SizeStats s = size_stats(delta.packet_bytes);
  const SizeStats f = size_stats(full.packet_bytes);
  const SizeStats fb = size_stats(full.body_bytes);
  const std::size_t packets = delta.packet_bytes.size();
  const double entities_mean = static_cast<double>(delta.entities) / static_cast<double>(packets);
  const double bits_per_entity = entities_mean > 0 ? s.mean * 8 / entities_mean : 0;
  const double kbps = s.mean * 8 * options.hz / 1000;
  const std::size_t mismatches = delta.mismatches + full.mismatches;

  std::printf(
      "{\"packets\":%zu,\"baseline_distance\":%zu,\"hz\":%s,\"zstd_level\":%d,\"dictionary_bytes\":%zu,"
      "\"entities_mean\":%s,\"bytes_per_packet_mean\":%s,\"bytes_per_packet_min\":%zu,\"bytes_per_packet_p50\":%zu,"
      "\"bytes_per_packet_p99\":%zu,\"bytes_per_packet_max\":%zu,\"bits_per_entity\":%s,\"kbps\":%s,"
      "\"encode_us\":%s,\"decode_us\":%s,\"full_bytes_mean\":%s,\"full_body_bytes_mean\":%s,"
      "\"full_encode_us\":%s,\"full_decode_us\":%s,\"mismatches\":%zu}\n",
      packets, distance, fixed(options.hz).c_str(), options.zstd_level, dictionary.size(), fixed(entities_mean).c_str(),
      fixed(s.mean).c_str(), s.min, s.p50, s.p99, s.max, fixed(bits_per_entity, 3).c_str(), fixed(kbps).c_str(),
      fixed(delta.encode_us).c_str(), fixed(delta.decode_us).c_str(), fixed(f.mean).c_str(), fixed(fb.mean).c_str(),
      fixed(full.encode_us).c_str(), fixed(full.decode_us).c_str(), mismatches);
  std::printf("replay %s: %zu frames, %zu fields, %.1f entities per frame\n", options.replay->c_str(),
              replay.frames.size(), replay.fields.size(), entities_mean);
  std::printf("packets: %zu (frame i against frame i-%zu; the first %zu frames are the receiver's full snapshots)\n",
              packets, distance, distance);
  std::printf("zstd level %d, dictionary: %s (%zu bytes), %s Hz\n", options.zstd_level, dictionary_note.c_str(),
              dictionary.size(), fixed(options.hz, 1).c_str());
  std::printf("%-28s %10s %8s %8s %8s %8s\n", "bytes per packet", "mean", "min", "p50", "p99", "max");
  std::printf("%-28s %10s %8zu %8zu %8zu %8zu\n", "  delta (measured packets)", fixed(s.mean, 1).c_str(), s.min, s.p50,
              s.p99, s.max);
  std::printf("%-28s %10s %8zu %8zu %8zu %8zu\n", "  full snapshot, zstd", fixed(f.mean, 1).c_str(), f.min, f.p50,
              f.p99, f.max);
  std::printf("%-28s %10s %8zu %8zu %8zu %8zu\n", "  full snapshot, no zstd", fixed(fb.mean, 1).c_str(), fb.min,
              fb.p50, fb.p99, fb.max);
  std::printf("bits per entity %s, %s kbit/s\n", fixed(bits_per_entity, 3).c_str(), fixed(kbps, 1).c_str());
  std::printf("CPU-us per packet: delta encode %s decode %s; full encode %s decode %s\n",
              fixed(delta.encode_us, 1).c_str(), fixed(delta.decode_us, 1).c_str(), fixed(full.encode_us, 1).c_str(),
              fixed(full.decode_us, 1).c_str());
  std::printf("mismatches: %zu\n", mismatches);
  if (mismatches > 0) {
    std::fprintf(stderr, "volley-snapshot-bench: %zu packets did not decode to their frame; first: %s\n", mismatches,
                 (delta.mismatches > 0 ? delta.first_mismatch : full.first_mismatch).c_str());
    return 1;
  }
  return 0;
}

int run_demo_table(const BenchOptions& options) {
  const std::size_t frames_count = options.frames ? options.frames : kDemoFrames;
  const std::size_t distance = options.baseline_distance;
  if (frames_count <= distance) return usage_error("--frames must be larger than the baseline distance");
  DemoSceneConfig scene{.seed = options.seed, .hz = options.hz};
  if (options.entities) scene.entities = options.entities;
  const Replay replay = record_demo_scene(scene, frames_count);
  // The dictionary is trained on another world (another seed), not on the frames measured.
  DemoSceneConfig training = scene;
  training.seed = options.seed + 1000;
  const Replay training_replay = record_demo_scene(training, frames_count);

  snapshot::Schema schema;
  const auto type = schema.add_type(replay.fields);
  if (!type) return usage_error("the codec does not accept the demo scene's field list");
  const std::vector<snapshot::Frame> frames = to_frames(replay, *type);
  const std::vector<snapshot::Frame> training_frames = to_frames(training_replay, *type);
  const std::vector<std::uint8_t> dictionary = train_on(schema, options, training_frames, distance);
  if (dictionary.empty()) return usage_error("zstd could not train a dictionary on the demo scene");

  snapshot::CodecConfig plain;
  plain.zstd_level = options.zstd_level;
  snapshot::CodecConfig with_dictionary = plain;
  with_dictionary.dictionary = dictionary;
  const StreamResult full = measure_stream(schema, plain, frames, 0, false);
  const StreamResult delta = measure_stream(schema, plain, frames, distance, false);
  const StreamResult dict = measure_stream(schema, with_dictionary, frames, distance, false);

  // (a) is the full snapshot's FlatBuffer before compression, plus the packet header: the codec
  // has no switch to turn zstd off, so this is what an uncompressed packet would carry.
  const double a = size_stats(full.body_bytes).mean;
  const double b = size_stats(full.packet_bytes).mean;
  const double c = size_stats(delta.packet_bytes).mean;
  const double d = size_stats(dict.packet_bytes).mean;
  // For reference: every entity's id and fields bit-packed, no framing at all.
  double field_bits = 32;
  for (const FieldWidth w : replay.fields) field_bits += w < 0 ? -w : w;
  double entities = 0;
  for (const auto& frame : replay.frames) entities += static_cast<double>(frame.size());
  const double packed = snapshot::kHeaderBytes + entities / static_cast<double>(replay.frames.size()) * field_bits / 8;
  const std::size_t mismatches = full.mismatches + delta.mismatches + dict.mismatches;
  const double hz = options.hz;

  std::printf(
      "{\"scene\":\"demo\",\"entities\":%zu,\"frames\":%zu,\"hz\":%s,\"baseline_distance\":%zu,\"zstd_level\":%d,"
      "\"dictionary_bytes\":%zu,\"a_full_uncompressed_bytes_per_s\":%s,\"b_full_zstd_bytes_per_s\":%s,"
      "\"c_delta_zstd_bytes_per_s\":%s,\"d_delta_zstd_dict_bytes_per_s\":%s,\"bitpacked_bytes_per_s\":%s,"
      "\"d_over_a\":%s,\"encode_us\":%s,\"decode_us\":%s,\"mismatches\":%zu}\n",
      scene.entities, frames_count, fixed(hz).c_str(), distance, options.zstd_level, dictionary.size(),
      fixed(a * hz).c_str(), fixed(b * hz).c_str(), fixed(c * hz).c_str(), fixed(d * hz).c_str(),
      fixed(packed * hz).c_str(), fixed(d / a, 4).c_str(), fixed(dict.encode_us).c_str(), fixed(dict.decode_us).c_str(),
      mismatches);
  std::printf("demo scene: %zu entities, %zu frames at %s Hz, seed %llu; zstd level %d; delta against frame i-%zu;\n"
              "dictionary of %zu bytes trained on another seed's packets\n",
              scene.entities, frames_count, fixed(hz, 1).c_str(), static_cast<unsigned long long>(options.seed),
              options.zstd_level, distance, dictionary.size());
  std::printf("%-44s %12s %16s %8s\n", "", "bytes/packet", "bytes/client/s", "of (a)");
  const auto row = [&](const char* name, double bytes) {
    std::printf("%-44s %12s %16s %7s%%\n", name, fixed(bytes, 1).c_str(), fixed(bytes * hz, 0).c_str(),
                fixed(100 * bytes / a, 1).c_str());
  };
  row("(a) full snapshot, no compression", a);
  row("(b) full snapshot + zstd", b);
  row("(c) + delta against 3 frames back", c);
  row("(d) + dictionary", d);
  row("    (reference: ids + fields bit-packed)", packed);
  std::printf("CPU-us per packet (d): encode %s decode %s\nmismatches: %zu\n", fixed(dict.encode_us, 1).c_str(),
              fixed(dict.decode_us, 1).c_str(), mismatches);
  if (mismatches > 0) {
    std::fprintf(stderr, "volley-snapshot-bench: %zu packets did not decode to their frame\n", mismatches);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_bench_options(std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)));
  if (!parsed.options) return usage_error(parsed.error);
  const BenchOptions& options = *parsed.options;
  if (options.help) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  if (options.write_demo_replay) {
    DemoSceneConfig scene{.seed = options.seed, .hz = options.hz_given ? options.hz : 30};
    if (options.entities) scene.entities = options.entities;
    const int code = write_scene(*options.write_demo_replay,
                                 record_demo_scene(scene, options.frames ? options.frames : kDemoFrames), "demo scene");
    if (code != 0) return code;
  }
  if (options.write_cubes_replay) {
    CubeSceneConfig scene{.seed = options.seed, .hz = options.hz_given ? options.hz : 60};
    if (options.entities) scene.cubes = options.entities;
    const int code = write_scene(*options.write_cubes_replay,
                                 record_cube_scene(scene, options.frames ? options.frames : kCubeFrames), "cube scene");
    if (code != 0) return code;
  }
  if (options.replay) return run_replay(options);
  if (options.demo_table) return run_demo_table(options);
  return 0;
}
