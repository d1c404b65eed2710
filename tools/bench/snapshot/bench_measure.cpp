#include "bench_measure.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace volley::bench {
namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Nearest-rank percentile of sorted sizes.
std::size_t percentile(const std::vector<std::size_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

SizeStats size_stats(std::vector<std::size_t> sizes) {
  SizeStats s;
  if (sizes.empty()) return s;
  std::sort(sizes.begin(), sizes.end());
  s.mean = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0})) /
           static_cast<double>(sizes.size());
  s.min = sizes.front();
  s.p50 = percentile(sizes, 50);
  s.p99 = percentile(sizes, 99);
  s.max = sizes.back();
  return s;
}

std::vector<snapshot::Frame> to_frames(const Replay& replay, std::uint16_t type) {
  const std::size_t fields = replay.fields.size();
  std::vector<snapshot::Frame> frames(replay.frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const RecordedFrame& recorded = replay.frames[i];
    snapshot::Frame& frame = frames[i];
    frame.number = recorded.number;
    frame.reserve(recorded.size(), recorded.values.size());
    for (std::size_t e = 0; e < recorded.size(); ++e) frame.add(recorded.ids[e], type, recorded.entity(e, fields));
  }
  return frames;
}

StreamResult measure_stream(const snapshot::Schema& schema, const snapshot::CodecConfig& config,
                            std::span<const snapshot::Frame> frames, std::size_t distance, bool keep_packets) {
  StreamResult result;
  const std::size_t first = distance;  // the first measured frame
  if (frames.size() <= first) return result;
  const std::size_t count = frames.size() - first;
  const auto note = [&](std::size_t i, const std::string& what) {
    if (result.mismatches++ == 0) result.first_mismatch = "frame " + std::to_string(frames[i].number) + ": " + what;
  };

  snapshot::Encoder encoder(schema, config);
  snapshot::Decoder decoder(schema, config);
  std::vector<std::uint8_t> scratch(config.max_packet_bytes);
  std::vector<snapshot::Event> events;
  std::vector<snapshot::Frame> decoded(frames.size());

  // The receiver's first frames arrive as full snapshots (not measured).
  for (std::size_t i = 0; i < first; ++i) {
    const std::size_t n = encoder.encode(nullptr, frames[i], {}, scratch);
    if (n == 0) {
      note(i, "the encoder refused the frame (receiver's first full snapshot)");
      continue;
    }
    const auto error = decoder.decode(std::span(scratch).first(n), nullptr, decoded[i], events);
    if (error != snapshot::DecodeError::kOk) {
      note(i, "decode error " + std::string(snapshot::decode_error_name(error)) + " (receiver's first full snapshot)");
    } else if (!(decoded[i] == frames[i])) {
      note(i, "decoded frame differs from the original (receiver's first full snapshot)");
    }
  }

  // Encode: every packet appended to one buffer; the append is part of the measured loop. The
  // loop runs twice and only the second pass is timed, so first-touch page faults of the buffers
  // and the codec's one-time allocations are not charged to the packets (steady state).
  std::vector<std::uint8_t> stream;
  std::vector<std::size_t> ends(count, 0);
  result.packet_bytes.resize(count);
  result.body_bytes.resize(count);
  for (int pass = 0; pass < 2; ++pass) {
    stream.clear();
    const double encode_start = thread_cpu_us();
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = first + k;
      const snapshot::Frame* baseline = distance == 0 ? nullptr : &frames[i - distance];
      const std::size_t n = encoder.encode(baseline, frames[i], {}, scratch);
      result.packet_bytes[k] = n;
      result.body_bytes[k] = n == 0 ? 0 : snapshot::kHeaderBytes + encoder.last_body().size();
      stream.insert(stream.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
      ends[k] = stream.size();
    }
    result.encode_us = (thread_cpu_us() - encode_start) / static_cast<double>(count);
  }

  // Decode each packet from the receiver's own decoded copy of its baseline, nothing else; two
  // passes as above, the second timed.
  std::vector<snapshot::DecodeError> errors(count, snapshot::DecodeError::kOk);
  for (int pass = 0; pass < 2; ++pass) {
    const double decode_start = thread_cpu_us();
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t i = first + k;
      const std::size_t begin = k == 0 ? 0 : ends[k - 1];
      const snapshot::Frame* baseline = distance == 0 ? nullptr : &decoded[i - distance];
      errors[k] = decoder.decode(std::span(stream).subspan(begin, ends[k] - begin), baseline, decoded[i], events);
    }
    result.decode_us = (thread_cpu_us() - decode_start) / static_cast<double>(count);
  }

  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = first + k;
    result.entities += frames[i].size();
    if (result.packet_bytes[k] == 0) {
      note(i, "the encoder refused the frame");
    } else if (errors[k] != snapshot::DecodeError::kOk) {
      note(i, "decode error " + std::string(snapshot::decode_error_name(errors[k])));
    } else if (!(decoded[i] == frames[i])) {
      note(i, "decoded frame differs from the original");
    }
    if (keep_packets) {
      const std::size_t begin = k == 0 ? 0 : ends[k - 1];
      result.packets.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(begin),
                                  stream.begin() + static_cast<std::ptrdiff_t>(ends[k]));
    }
  }
  return result;
}

}  // namespace volley::bench
