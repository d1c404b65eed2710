// volley-snapshot-bench's flags, declared on CLI11 (volley/support/cli.hpp): "--flag value" and
// "--flag=value", strict numbers, one-line errors; then the checks between flags.
#include "bench_options.hpp"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "volley/support/cli.hpp"

namespace volley::bench {

const char* const kBenchUsage =
    "usage: volley-snapshot-bench --replay FILE [options]\n"
    "       volley-snapshot-bench --demo-table [options]\n"
    "       volley-snapshot-bench --write-demo-replay FILE | --write-cubes-replay FILE [--seed S]\n"
    "                             [--frames N] [--entities N] [--hz H]\n"
    "  --replay FILE             score the codec on a replay (VSRP v1, see docs/snapshot-bench.md)\n"
    "  --baseline-distance K     packet i encodes frame i against frame i-K (default 6; 3 with\n"
    "                            --demo-table); the first K frames have no baseline and are not\n"
    "                            counted as packets (every frame is also measured as a full snapshot)\n"
    "  --hz H                    ticks per second, for kbit/s (default 60; 30 with --demo-table)\n"
    "  --zstd-level L            zstd level (default 1, the codec's)\n"
    "  --dict FILE               a zstd dictionary both ends load\n"
    "  --train-dict OUT          train a dictionary on the replay's packets, write it to OUT, use it\n"
    "  --dict-size BYTES         size of a trained dictionary (default 16384)\n"
    "  --demo-table              bytes per client per second on the demo scene: (a) full snapshot\n"
    "                            without compression, (b) + zstd, (c) + delta, (d) + dictionary\n"
    "  --write-demo-replay FILE  write a replay of the demo scene (default 256 entities, 900 frames)\n"
    "  --write-cubes-replay FILE write a replay of the 901-cube scene (default 1800 frames at 60 Hz)\n"
    "  --seed S, --frames N, --entities N   scene generator settings\n"
    "output: one JSON line, then a table; exit 0, 1 if any packet decodes wrong, 2 on bad usage or\n"
    "a malformed replay\n";

ParsedBenchOptions parse_bench_options(std::span<const char* const> args) {
  BenchOptions options;
  const auto fail = [](std::string message) { return ParsedBenchOptions{std::nullopt, std::move(message)}; };
  std::string replay, write_demo, write_cubes, dict, train_dict;
  CLI::App app("volley-snapshot-bench");
  app.add_option("--replay", replay);
  app.add_option("--write-demo-replay", write_demo);
  app.add_option("--write-cubes-replay", write_cubes);
  app.add_option("--dict", dict);
  app.add_option("--train-dict", train_dict);
  app.add_option("--baseline-distance", options.baseline_distance)->check(CLI::Range(1, 1000));
  app.add_option("--hz", options.hz)->check(CLI::Range(0.001, 10000.0));
  app.add_option("--zstd-level", options.zstd_level)->check(CLI::Range(-7, 22));
  app.add_option("--dict-size", options.dict_bytes)->check(CLI::Range(256, 1 << 20));
  app.add_option("--seed", options.seed);
  app.add_option("--frames", options.frames)->check(CLI::Range(1, 100000));
  app.add_option("--entities", options.entities)->check(CLI::Range(1, 65536));
  app.add_flag("--demo-table", options.demo_table)->disable_flag_override();
  const std::vector<std::string> words(args.begin(), args.end());
  const support::CliOutcome outcome = support::parse_cli(app, words);
  if (outcome.help) {
    options.help = true;
    return ParsedBenchOptions{options, {}};
  }
  if (!outcome.error.empty()) return fail(outcome.error);
  // File flags: given means a non-empty name.
  const std::pair<const char*, std::pair<std::string*, std::optional<std::string>*>> files[] = {
      {"--replay", {&replay, &options.replay}},
      {"--write-demo-replay", {&write_demo, &options.write_demo_replay}},
      {"--write-cubes-replay", {&write_cubes, &options.write_cubes_replay}},
      {"--dict", {&dict, &options.dict}},
      {"--train-dict", {&train_dict, &options.train_dict}}};
  for (const auto& [flag, slot] : files) {
    if (app.count(flag) == 0) continue;
    if (slot.first->empty()) return fail(std::string(flag) + " needs a file name");
    *slot.second = *slot.first;
  }
  options.baseline_distance_given = app.count("--baseline-distance") > 0;
  options.hz_given = app.count("--hz") > 0;
  const bool scene_flags = app.count("--seed") + app.count("--frames") + app.count("--entities") > 0;
  if (options.help) return ParsedBenchOptions{options, {}};
  if (options.replay && options.demo_table) return fail("--replay and --demo-table are separate runs");
  if (!options.replay && !options.demo_table && !options.write_demo_replay && !options.write_cubes_replay) {
    return fail("nothing to do: give --replay FILE, --demo-table or --write-*-replay FILE (try --help)");
  }
  if (options.dict && options.train_dict) return fail("--dict and --train-dict exclude each other");
  if (scene_flags && !options.demo_table && !options.write_demo_replay && !options.write_cubes_replay) {
    return fail("--seed, --frames and --entities set the scene generators; a replay is scored as it is");
  }
  if (options.train_dict && !options.replay) return fail("--train-dict needs --replay");
  if (options.demo_table && options.dict) {
    return fail("--demo-table trains its own dictionary on another seed; --dict does not apply");
  }
  if (!options.baseline_distance_given && options.demo_table) options.baseline_distance = 3;
  if (!options.hz_given && options.demo_table) options.hz = 30;
  return ParsedBenchOptions{options, {}};
}

}  // namespace volley::bench
