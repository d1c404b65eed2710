// volley-snapshot-bench end to end: exit code 2 and one stderr line for every bad flag and
// malformed replay; exit 0, a JSON first line with the promised keys and 0 mismatches on small
// generated replays (demo and cube scenes, with and without a trained dictionary).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli_run.hpp"
#include "json_check.hpp"
#include "replay.hpp"

namespace {

using volley::test::JsonCheck;
using volley::test::Run;
using volley::test::TempDir;
using volley::test::read_file;
using volley::test::run;

std::string bench() { return VOLLEY_SNAPSHOT_BENCH_EXE; }

void check_usage_error(const Run& r, const std::string& expect) {
  INFO("stderr: ", r.err);
  CHECK(r.exited);
  CHECK(r.code == 2);
  CHECK(r.lines.empty());
  CHECK(r.err.find(expect) != std::string::npos);
  // Exactly one line.
  CHECK(r.err.find('\n') == r.err.size() - 1);
}

// The number after "key": in a JSON line; -1 when absent.
double json_number(const std::string& line, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  const auto at = line.find(quoted);
  if (at == std::string::npos) return -1;
  return std::stod(line.substr(at + quoted.size()));
}

void check_bench_json(const Run& r) {
  INFO("stderr: ", r.err);
  REQUIRE(r.exited);
  CHECK(r.code == 0);
  REQUIRE_FALSE(r.lines.empty());
  const std::string& first = r.lines.front();
  INFO("first line: ", first);
  CHECK(JsonCheck::is_object(first));
  for (const char* key : {"packets", "bytes_per_packet_mean", "bytes_per_packet_min", "bytes_per_packet_p50",
                          "bytes_per_packet_p99", "bytes_per_packet_max", "bits_per_entity", "kbps", "encode_us",
                          "decode_us", "mismatches"}) {
    CHECK_MESSAGE(json_number(first, key) >= 0, key);
  }
  CHECK(json_number(first, "mismatches") == 0);
  CHECK(json_number(first, "bytes_per_packet_min") <= json_number(first, "bytes_per_packet_p50"));
  CHECK(json_number(first, "bytes_per_packet_p50") <= json_number(first, "bytes_per_packet_p99"));
  CHECK(json_number(first, "bytes_per_packet_p99") <= json_number(first, "bytes_per_packet_max"));
  CHECK(r.lines.size() > 3);  // the human table follows
}

}  // namespace

TEST_CASE("snapshot bench: bad flags are one line on stderr and exit code 2") {
  TempDir dir;
  check_usage_error(run(dir, bench()), "nothing to do");
  check_usage_error(run(dir, bench() + " --bogus"), "not expected: --bogus");
  check_usage_error(run(dir, bench() + " --replay"), "--replay: 1 required TEXT missing");
  check_usage_error(run(dir, bench() + " --demo-table --baseline-distance 0"), "--baseline-distance: Value 0 not in range");
  check_usage_error(run(dir, bench() + " --demo-table --baseline-distance=x"), "--baseline-distance: expected an integer, got 'x'");
  check_usage_error(run(dir, bench() + " --demo-table --hz -1"), "--hz: Value -1 not in range");
  check_usage_error(run(dir, bench() + " --demo-table --hz nan"), "--hz: expected a number, got 'nan'");
  check_usage_error(run(dir, bench() + " --demo-table --zstd-level 23"), "--zstd-level: Value 23 not in range");
  check_usage_error(run(dir, bench() + " --demo-table=1"), "demo-table was given a disallowed flag override");
  check_usage_error(run(dir, bench() + " --demo-table --dict x"), "--dict does not apply");
  check_usage_error(run(dir, bench() + " --replay a --dict b --train-dict c"), "exclude each other");
  check_usage_error(run(dir, bench() + " --train-dict c"), "nothing to do");
  check_usage_error(run(dir, bench() + " --demo-table --train-dict c"), "--train-dict needs --replay");
  check_usage_error(run(dir, bench() + " --replay '" + dir.file("missing") + "'"), "cannot open");
  check_usage_error(run(dir, bench() + " --replay x --seed 3"), "a replay is scored as it is");
}

TEST_CASE("snapshot bench: a malformed replay is one line on stderr and exit code 2") {
  TempDir dir;
  std::string error;
  REQUIRE(run(dir, bench() + " --write-demo-replay '" + dir.file("good") + "' --frames 12 --entities 16").code == 0);
  const std::string good = read_file(dir.file("good"));
  REQUIRE(good.size() > 100);
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.file(name), std::ios::binary) << bytes;
    return dir.file(name);
  };
  std::string magic = good;
  magic[0] = 'X';
  check_usage_error(run(dir, bench() + " --replay '" + write("magic", magic) + "'"), "bad magic");
  std::string version = good;
  version[4] = 9;
  check_usage_error(run(dir, bench() + " --replay '" + write("version", version) + "'"), "unsupported version 9");
  check_usage_error(run(dir, bench() + " --replay '" + write("cut", good.substr(0, good.size() - 3)) + "'"),
                    "truncated");
  std::string width = good;
  width[12] = 40;  // the first field's width
  check_usage_error(run(dir, bench() + " --replay '" + write("width", width) + "'"), "width 40");
  check_usage_error(run(dir, bench() + " --replay '" + dir.file("good") + "' --baseline-distance 12"),
                    "replay has 12 frames; baseline distance 12 needs at least 13");
  check_usage_error(run(dir, bench() + " --replay '" + write("empty", "") + "'"), "truncated header");
  check_usage_error(run(dir, bench() + " --replay '" + dir.file("good") + "' --dict '" + write("nodict", "") + "'"),
                    "is empty");
}

TEST_CASE("snapshot bench: scores a small demo replay with 0 mismatches, with and without a dictionary") {
  TempDir dir;
  const std::string replay = dir.file("demo.vsrp");
  const Run written = run(dir, bench() + " --write-demo-replay '" + replay + "' --frames 60 --entities 48 --seed 5");
  REQUIRE(written.code == 0);
  const auto parsed = volley::bench::read_replay(replay);
  REQUIRE_MESSAGE(parsed.replay.has_value(), parsed.error);
  CHECK(parsed.replay->frames.size() == 60);
  CHECK(parsed.replay->frames.front().size() == 48);

  const Run plain = run(dir, bench() + " --replay '" + replay + "'");
  check_bench_json(plain);
  CHECK(json_number(plain.lines.front(), "packets") == 60 - 6);
  CHECK(json_number(plain.lines.front(), "baseline_distance") == 6);

  const Run near = run(dir, bench() + " --replay '" + replay + "' --baseline-distance 1 --hz 30 --zstd-level 1");
  check_bench_json(near);
  CHECK(json_number(near.lines.front(), "packets") == 59);
  CHECK(json_number(near.lines.front(), "hz") == 30);

  const Run trained = run(dir, bench() + " --replay '" + replay + "' --train-dict '" + dir.file("dict") + "'");
  check_bench_json(trained);
  const std::string dictionary = read_file(dir.file("dict"));
  CHECK(!dictionary.empty());
  CHECK(json_number(trained.lines.front(), "dictionary_bytes") == static_cast<double>(dictionary.size()));
  const Run loaded = run(dir, bench() + " --replay '" + replay + "' --dict '" + dir.file("dict") + "'");
  check_bench_json(loaded);
  CHECK(json_number(loaded.lines.front(), "bytes_per_packet_mean") ==
        json_number(trained.lines.front(), "bytes_per_packet_mean"));
}

TEST_CASE("snapshot bench: scores a short 901-cube replay with 0 mismatches") {
  TempDir dir;
  const std::string replay = dir.file("cubes.vsrp");
  REQUIRE(run(dir, bench() + " --write-cubes-replay '" + replay + "' --frames 20").code == 0);
  const Run r = run(dir, bench() + " --replay '" + replay + "'");
  check_bench_json(r);
  CHECK(json_number(r.lines.front(), "packets") == 14);
  CHECK(json_number(r.lines.front(), "entities_mean") == 901);
}

TEST_CASE("snapshot bench: the demo table prints (a)-(d) with 0 mismatches") {
  TempDir dir;
  const Run r = run(dir, bench() + " --demo-table --frames 60 --entities 64");
  INFO("stderr: ", r.err);
  REQUIRE(r.code == 0);
  REQUIRE_FALSE(r.lines.empty());
  const std::string& first = r.lines.front();
  CHECK(JsonCheck::is_object(first));
  CHECK(json_number(first, "hz") == 30);
  CHECK(json_number(first, "baseline_distance") == 3);
  CHECK(json_number(first, "mismatches") == 0);
  const double a = json_number(first, "a_full_uncompressed_bytes_per_s");
  const double d = json_number(first, "d_delta_zstd_dict_bytes_per_s");
  CHECK(a > 0);
  CHECK(d > 0);
  CHECK(json_number(first, "d_over_a") == doctest::Approx(d / a).epsilon(0.01));
  for (const char* row : {"(a)", "(b)", "(c)", "(d)"}) {
    bool found = false;
    for (const auto& line : r.lines) found = found || line.starts_with(row);
    CHECK_MESSAGE(found, row);
  }
}

TEST_CASE("snapshot bench: a frame the codec cannot carry fails the run with exit code 1") {
  // More entities than the codec's default max_entities (65536): the encoder refuses the frame,
  // and the bench must count that as a mismatch rather than report a size for it.
  TempDir dir;
  volley::bench::Replay replay;
  replay.fields = {1};
  for (std::uint32_t number = 1; number <= 3; ++number) {
    volley::bench::RecordedFrame frame;
    frame.number = number;
    for (std::uint32_t id = 0; id < 70000; ++id) frame.ids.push_back(id);
    frame.values.assign(frame.ids.size(), static_cast<std::int32_t>(number & 1));
    replay.frames.push_back(std::move(frame));
  }
  std::string error;
  REQUIRE_MESSAGE(volley::bench::write_replay(dir.file("big.vsrp"), replay, error), error);
  const Run r = run(dir, bench() + " --replay '" + dir.file("big.vsrp") + "' --baseline-distance 1");
  INFO("stderr: ", r.err);
  CHECK(r.exited);
  CHECK(r.code == 1);
  REQUIRE_FALSE(r.lines.empty());
  CHECK(JsonCheck::is_object(r.lines.front()));
  CHECK(json_number(r.lines.front(), "mismatches") > 0);
  CHECK(r.err.find("the encoder refused the frame") != std::string::npos);
}
