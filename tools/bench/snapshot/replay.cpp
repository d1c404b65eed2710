// Replay reader and writer; the format is described in replay.hpp.
#include "replay.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace volley::bench {
namespace {

constexpr std::uint8_t kMagic[4] = {'V', 'S', 'R', 'P'};
constexpr std::size_t kHeaderBytes = 12;

std::string width_name(FieldWidth width) {
  return (width > 0 ? "unsigned " : "signed ") + std::to_string(width > 0 ? width : -width) + " bits";
}

class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t offset() const { return at_; }
  std::size_t left() const { return bytes_.size() - at_; }
  bool u32(std::uint32_t& out) {
    if (left() < 4) return false;
    const std::uint8_t* p = bytes_.data() + at_;
    out = std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
    at_ += 4;
    return true;
  }
  std::uint8_t byte() { return bytes_[at_++]; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 24));
}

std::string check_fields(std::span<const FieldWidth> fields) {
  if (fields.empty() || fields.size() > kReplayMaxFields) {
    return "field count " + std::to_string(fields.size()) + " outside 1.." + std::to_string(kReplayMaxFields);
  }
  for (std::size_t f = 0; f < fields.size(); ++f) {
    if (!snapshot::valid_width(fields[f])) {
      return "field " + std::to_string(f) + " width " + std::to_string(fields[f]) + " outside 1..32 bits";
    }
  }
  return {};
}

// Entity ids strictly increasing and every value within its field; empty string when valid.
std::string check_entities(std::span<const FieldWidth> fields, const RecordedFrame& frame) {
  const std::size_t f_count = fields.size();
  for (std::size_t e = 0; e < frame.ids.size(); ++e) {
    if (e > 0 && frame.ids[e] <= frame.ids[e - 1]) {
      return "entity " + std::to_string(e) + " id " + std::to_string(frame.ids[e]) +
             " not greater than the previous id " + std::to_string(frame.ids[e - 1]);
    }
    for (std::size_t f = 0; f < f_count; ++f) {
      const std::int32_t v = frame.values[e * f_count + f];
      if (!snapshot::fits(fields[f], v)) {
        const std::uint32_t raw = static_cast<std::uint32_t>(v);
        return "entity id " + std::to_string(frame.ids[e]) + " field " + std::to_string(f) + " value " +
               (fields[f] > 0 ? std::to_string(raw) : std::to_string(v)) + " outside " + width_name(fields[f]);
      }
    }
  }
  return {};
}

}  // namespace

std::string validate_replay(const Replay& replay) {
  if (std::string error = check_fields(replay.fields); !error.empty()) return "replay: " + error;
  for (std::size_t i = 0; i < replay.frames.size(); ++i) {
    const RecordedFrame& frame = replay.frames[i];
    const std::string where = "replay: frame " + std::to_string(frame.number) + " (index " + std::to_string(i) + "): ";
    if (frame.values.size() != frame.ids.size() * replay.fields.size()) {
      return where + std::to_string(frame.values.size()) + " values for " + std::to_string(frame.ids.size()) +
             " entities of " + std::to_string(replay.fields.size()) + " fields";
    }
    if (i > 0 && frame.number <= replay.frames[i - 1].number) {
      return where + "frame number not greater than the previous " + std::to_string(replay.frames[i - 1].number);
    }
    if (std::string error = check_entities(replay.fields, frame); !error.empty()) return where + error;
  }
  return {};
}

ReplayResult parse_replay(std::span<const std::uint8_t> bytes) {
  const auto fail = [](std::string message) { return ReplayResult{std::nullopt, "replay: " + message}; };
  if (bytes.size() > kReplayMaxFileBytes) {
    return fail("file of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                std::to_string(kReplayMaxFileBytes));
  }
  if (bytes.size() < kHeaderBytes) {
    return fail("truncated header: " + std::to_string(bytes.size()) + " bytes, need at least " +
                std::to_string(kHeaderBytes));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return fail("bad magic (expected \"VSRP\")");
  Cursor in(bytes.subspan(4));
  std::uint32_t version = 0;
  std::uint32_t field_count = 0;
  in.u32(version);
  in.u32(field_count);
  if (version != kReplayVersion) {
    return fail("unsupported version " + std::to_string(version) + " (expected " + std::to_string(kReplayVersion) + ")");
  }
  if (field_count == 0 || field_count > kReplayMaxFields) {
    return fail("field count " + std::to_string(field_count) + " outside 1.." + std::to_string(kReplayMaxFields));
  }
  if (in.left() < field_count) {
    return fail("truncated field list: " + std::to_string(field_count) + " fields, " + std::to_string(in.left()) +
                " bytes left");
  }
  Replay replay;
  replay.fields.resize(field_count);
  for (auto& width : replay.fields) width = static_cast<FieldWidth>(in.byte());
  if (std::string error = check_fields(replay.fields); !error.empty()) return fail(error);

  const std::size_t entity_bytes = 4 + 4 * std::size_t{field_count};
  while (in.left() > 0) {
    const std::size_t frame_offset = in.offset() + 4;
    const std::string where = "frame " + std::to_string(replay.frames.size()) + " at offset " +
                              std::to_string(frame_offset) + ": ";
    RecordedFrame frame;
    std::uint32_t count = 0;
    if (!in.u32(frame.number) || !in.u32(count)) {
      return fail(where + "truncated frame header (" + std::to_string(in.left()) + " bytes left)");
    }
    if (count > in.left() / entity_bytes) {
      return fail(where + "entity count " + std::to_string(count) + " needs " +
                  std::to_string(count * entity_bytes) + " bytes, " + std::to_string(in.left()) + " left (truncated)");
    }
    if (!replay.frames.empty() && frame.number <= replay.frames.back().number) {
      return fail(where + "frame number " + std::to_string(frame.number) + " not greater than the previous " +
                  std::to_string(replay.frames.back().number));
    }
    frame.ids.resize(count);
    frame.values.resize(std::size_t{count} * field_count);
    for (std::uint32_t e = 0; e < count; ++e) {
      in.u32(frame.ids[e]);
      for (std::uint32_t f = 0; f < field_count; ++f) {
        std::uint32_t raw = 0;
        in.u32(raw);
        frame.values[std::size_t{e} * field_count + f] = static_cast<std::int32_t>(raw);
      }
    }
    if (std::string error = check_entities(replay.fields, frame); !error.empty()) {
      return fail("frame " + std::to_string(frame.number) + " at offset " + std::to_string(frame_offset) + ": " + error);
    }
    replay.frames.push_back(std::move(frame));
  }
  return ReplayResult{std::move(replay), {}};
}

ReplayResult read_replay(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return ReplayResult{std::nullopt, "replay: cannot open '" + path + "'"};
  const std::streamoff size = file.tellg();
  if (size < 0) return ReplayResult{std::nullopt, "replay: cannot read '" + path + "'"};
  if (static_cast<std::uint64_t>(size) > kReplayMaxFileBytes) {
    return ReplayResult{std::nullopt, "replay: '" + path + "' is over the limit of " +
                                          std::to_string(kReplayMaxFileBytes) + " bytes"};
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), size)) {
    return ReplayResult{std::nullopt, "replay: cannot read '" + path + "'"};
  }
  return parse_replay(bytes);
}

std::vector<std::uint8_t> serialize_replay(const Replay& replay, std::string& error) {
  error = validate_replay(replay);
  if (!error.empty()) return {};
  std::vector<std::uint8_t> out(std::begin(kMagic), std::end(kMagic));
  put_u32(out, kReplayVersion);
  put_u32(out, static_cast<std::uint32_t>(replay.fields.size()));
  for (const FieldWidth width : replay.fields) out.push_back(static_cast<std::uint8_t>(width));
  const std::size_t f_count = replay.fields.size();
  for (const RecordedFrame& frame : replay.frames) {
    put_u32(out, frame.number);
    put_u32(out, static_cast<std::uint32_t>(frame.ids.size()));
    for (std::size_t e = 0; e < frame.ids.size(); ++e) {
      put_u32(out, frame.ids[e]);
      for (std::size_t f = 0; f < f_count; ++f) put_u32(out, static_cast<std::uint32_t>(frame.values[e * f_count + f]));
    }
  }
  return out;
}

bool write_replay(const std::string& path, const Replay& replay, std::string& error) {
  const std::vector<std::uint8_t> bytes = serialize_replay(replay, error);
  if (!error.empty()) return false;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file || !file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    error = "replay: cannot write '" + path + "'";
    return false;
  }
  file.close();
  if (!file) {
    error = "replay: cannot write '" + path + "'";
    return false;
  }
  return true;
}

Replay record_demo_scene(const DemoSceneConfig& config, std::size_t frames) {
  return record_scene<DemoScene>(config, frames);
}

}  // namespace volley::bench
