// The measuring core of volley-snapshot-bench: encode a stream of frames (each against the frame
// `distance` earlier, or as full snapshots), decode every packet from its baseline alone, compare
// with the original, and time both loops with the thread's CPU clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <volley/snapshot/codec.hpp>
#include <volley/snapshot/frame.hpp>
#include <volley/snapshot/schema.hpp>

#include "replay.hpp"

namespace volley::bench {

struct StreamResult {
  std::vector<std::size_t> packet_bytes;  // one per measured packet
  std::vector<std::size_t> body_bytes;    // header + the FlatBuffer before compression
  std::size_t entities = 0;               // summed over the measured packets' frames
  double encode_us = 0;                   // CPU-us per packet
  double decode_us = 0;
  std::size_t mismatches = 0;  // packets that failed to encode, failed to decode or decoded wrong
  std::string first_mismatch;  // one line describing the first
  std::vector<std::vector<std::uint8_t>> packets;  // kept when asked (dictionary training)
};

struct SizeStats {
  double mean = 0;
  std::size_t min = 0, p50 = 0, p99 = 0, max = 0;
};
SizeStats size_stats(std::vector<std::size_t> sizes);

// Converts a replay into codec frames of type `type`.
std::vector<snapshot::Frame> to_frames(const Replay& replay, std::uint16_t type);

// distance == 0: every frame as a full snapshot. distance K > 0: packet i (i >= K) encodes frame
// i against frame i-K; frames 0..K-1 reach the decoder as full snapshots first (not measured).
StreamResult measure_stream(const snapshot::Schema& schema, const snapshot::CodecConfig& config,
                            std::span<const snapshot::Frame> frames, std::size_t distance, bool keep_packets);

}  // namespace volley::bench
