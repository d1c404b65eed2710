// Snapshot packets: a 16-byte fixed header followed by one zstd frame holding a FlatBuffer
// (schema/snapshot.fbs). Delta against a baseline frame the receiver holds, or full. See
// docs/snapshot.md for the wire layout, the limits and the error names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"

namespace volley::snapshot {

struct CodecConfig {
  // Level 1: on the 901-cube replay deltas come out byte-identical to level 3 and a full
  // snapshot 1.3% larger, for about 35 CPU-us less per full encode (docs/snapshot-bench.md).
  int zstd_level = 1;
  std::span<const std::uint8_t> dictionary;  // empty = none; both ends must load the same one
  std::size_t max_packet_bytes = 64 * 1024;  // decoder rejects larger content (checked first)
  std::size_t max_entities = 65536;
  std::size_t max_events = 256;
};

enum class DecodeError : std::uint8_t {
  kOk,
  kTruncated,           // shorter than the header, or the FlatBuffer's bit stream ran out
  kBadMagic,
  kBadVersion,
  kBadFlags,            // unknown flag bits
  kDictionaryMismatch,  // compressed with a dictionary this end did not load, or the reverse
  kBaselineMismatch,    // the baseline passed is not the frame the header names
  kCorruptCompression,  // not a zstd frame, no content size, or zstd failed
  kOversize,            // packet or declared content larger than max_packet_bytes
  kVerifyFailed,        // the FlatBuffers verifier rejected the body
  kEntityOutOfRange,    // counts over limits or inconsistent, ids not increasing, unknown type
  kFieldOutOfRange,     // a value or residual wider than its field, a mask bit past the fields
  kEventOutOfRange,     // too many events, payload sizes inconsistent
  kCorruptStream,       // bit stream inconsistent with the counts (trailing or missing data)
  kBadChecksum,         // the reconstructed state does not hash to the header's checksum
  kTooManyEntities,     // well formed, but more entities than max_entities (a Receiver's own cap)
  kCount
};
std::string_view decode_error_name(DecodeError) noexcept;

inline constexpr std::size_t kHeaderBytes = 16;
inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::uint8_t kFlagDelta = 0x01;       // encoded against header.baseline
inline constexpr std::uint8_t kFlagDictionary = 0x02;  // zstd frame uses the shared dictionary

struct Header {
  std::uint32_t frame = 0;
  std::uint32_t baseline = 0;  // meaningful when flags & kFlagDelta
  std::uint8_t flags = 0;
  std::uint32_t checksum = 0;
  bool delta() const noexcept { return (flags & kFlagDelta) != 0; }
};

class Encoder {
 public:
  Encoder(const Schema& schema, CodecConfig config);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // baseline == nullptr: a full snapshot. Returns the packet size, or 0 if `out` is too small or
  // the input breaks the rules (unknown type, wrong value count, value wider than its field, ids
  // not increasing, more than max_entities / max_events, an event payload over kMaxEventPayload).
  // Steady state allocates nothing: buffers and zstd contexts are kept between calls.
  std::size_t encode(const Frame* baseline, const Frame& next, std::span<const Event> events,
                     std::span<std::uint8_t> out);

  // The FlatBuffer body of the last successful encode, before compression (for measurements).
  std::span<const std::uint8_t> last_body() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Decoder {
 public:
  Decoder(const Schema& schema, CodecConfig config);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  static std::optional<Header> peek(std::span<const std::uint8_t> packet) noexcept;  // header only
  // `baseline` must be the frame the header names (ignored for a full snapshot). On any error
  // `out` and `events` hold unspecified contents. Never trusts the packet: see DecodeError.
  DecodeError decode(std::span<const std::uint8_t> packet, const Frame* baseline, Frame& out,
                     std::vector<Event>& events);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::snapshot
