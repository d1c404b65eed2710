// volley-snapshot-bench's command line, parsed apart from main so the tests can reach every
// error path (each bad flag is one line on stderr and exit code 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace volley::bench {

struct BenchOptions {
  std::optional<std::string> replay;        // bench this replay
  bool demo_table = false;                  // the (a)-(d) table on the demo scene
  std::optional<std::string> write_demo_replay;
  std::optional<std::string> write_cubes_replay;
  std::size_t baseline_distance = 6;        // --demo-table: 3 unless given
  bool baseline_distance_given = false;
  double hz = 60;                           // --demo-table: 30 unless given
  bool hz_given = false;
  int zstd_level = 1;  // the codec's default
  std::optional<std::string> dict;          // load this dictionary
  std::optional<std::string> train_dict;    // train one from the replay, write it here, use it
  std::size_t dict_bytes = 16 * 1024;
  std::uint64_t seed = 1;                   // scene generators
  std::size_t frames = 0;                   // scene generators; 0 = the scene's default
  std::size_t entities = 0;                 // scene generators; 0 = the scene's default
  bool help = false;
};

struct ParsedBenchOptions {
  std::optional<BenchOptions> options;
  std::string error;  // one line, when options is empty
};

ParsedBenchOptions parse_bench_options(std::span<const char* const> args);

extern const char* const kBenchUsage;

}  // namespace volley::bench
