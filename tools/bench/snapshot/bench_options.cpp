// Flag parsing for volley-snapshot-bench: "--flag value" and "--flag=value", strict numbers.
#include "bench_options.hpp"

#include <charconv>
#include <cmath>
#include <string_view>
#include <type_traits>

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
    "  --zstd-level L            zstd level (default 3)\n"
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

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

}  // namespace

ParsedBenchOptions parse_bench_options(std::span<const char* const> args) {
  BenchOptions options;
  bool scene_flags = false;
  const auto fail = [](std::string message) { return ParsedBenchOptions{std::nullopt, std::move(message)}; };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const auto take_value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return std::string_view(args[++i]);
      return std::nullopt;
    };
    const auto file = [&](std::optional<std::string>& slot) -> std::string {
      const auto value = take_value();
      if (!value || value->empty()) return std::string(arg) + " needs a file name";
      slot = std::string(*value);
      return {};
    };
    // An integer within [lo, hi].
    const auto integer = [&](auto& slot, std::uint64_t lo, std::uint64_t hi) -> std::string {
      const auto value = take_value();
      std::uint64_t n = 0;
      if (!value || !parse_number(*value, n) || n < lo || n > hi) {
        return std::string(arg) + ": '" + std::string(value.value_or("")) + "' is not an integer in " +
               std::to_string(lo) + ".." + std::to_string(hi);
      }
      slot = static_cast<std::remove_reference_t<decltype(slot)>>(n);
      return {};
    };

    std::string error;
    if (arg == "--replay") {
      error = file(options.replay);
    } else if (arg == "--write-demo-replay") {
      error = file(options.write_demo_replay);
    } else if (arg == "--write-cubes-replay") {
      error = file(options.write_cubes_replay);
    } else if (arg == "--dict") {
      error = file(options.dict);
    } else if (arg == "--train-dict") {
      error = file(options.train_dict);
    } else if (arg == "--baseline-distance") {
      error = integer(options.baseline_distance, 1, 1000);
      options.baseline_distance_given = true;
    } else if (arg == "--hz") {
      const auto value = take_value();
      double hz = 0;
      if (!value || !parse_number(*value, hz) || !std::isfinite(hz) || hz <= 0 || hz > 10000) {
        error = "--hz: '" + std::string(value.value_or("")) + "' is not a rate in (0, 10000]";
      }
      options.hz = hz;
      options.hz_given = true;
    } else if (arg == "--zstd-level") {
      const auto value = take_value();
      int level = 0;
      if (!value || !parse_number(*value, level) || level < -7 || level > 22) {
        error = "--zstd-level: '" + std::string(value.value_or("")) + "' is not a level in -7..22";
      }
      options.zstd_level = level;
    } else if (arg == "--dict-size") {
      error = integer(options.dict_bytes, 256, 1 << 20);
    } else if (arg == "--seed") {
      scene_flags = true;
      error = integer(options.seed, 0, UINT64_MAX);
    } else if (arg == "--frames") {
      scene_flags = true;
      error = integer(options.frames, 1, 100000);
    } else if (arg == "--entities") {
      scene_flags = true;
      error = integer(options.entities, 1, 65536);
    } else if (arg == "--demo-table") {
      options.demo_table = true;
      if (inline_value) error = "--demo-table takes no value";
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      error = "unknown argument '" + std::string(args[i]) + "' (try --help)";
    }
    if (!error.empty()) return fail(error);
  }
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
