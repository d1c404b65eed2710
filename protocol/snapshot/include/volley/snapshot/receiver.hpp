// Client-side snapshot state, shared by the client library and protocol-level bots: decodes
// packets against a ring of recently applied frames, applies only frames newer than the newest
// applied, drops and counts everything else, and delivers each event id once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"

namespace volley::snapshot {

struct ReceiverConfig {
  std::size_t history = 32;        // applied frames kept as baselines (the server's window)
  std::size_t event_window = 4096;  // event ids remembered behind the newest one seen
  // Entities one frame may hold here (the decoder's limit is the lower of this and
  // CodecConfig::max_entities; 0 = the codec's alone). The ring holds history + 1 frames, so a
  // server could make a client hold (history + 1) x this x (10 + 4 x fields) bytes: 14 MB with
  // the demo's 10-field entities at 8,192, where the codec's 65,536 made it 111 MB. 8,192 is 9x
  // the largest scene Volley ships (901 cubes; the demo's is 256); a game showing more raises it.
  // A frame over it is dropped as kCorrupt, counted in dropped_corrupt and, apart from real
  // corruption, in decode_errors[kTooManyEntities]: a server sending more needs this raised.
  std::size_t max_entities = 8192;
  // receive() appends events only while `new_events` holds fewer than this; the rest of an applied
  // frame's new events are dropped and counted (events_dropped_full). A game that takes its
  // events every frame never holds more than a few packets' worth (max_events, 256, each); 4,096
  // of at most 255 payload bytes bound the queue near 1 MB. 0 = no bound.
  std::size_t max_queued_events = 4096;
};

struct ReceiverCounters {
  std::uint64_t received = 0;
  std::uint64_t applied = 0;
  std::uint64_t dropped_old = 0;          // frame number <= newest applied (late or duplicate)
  std::uint64_t dropped_no_baseline = 0;  // its baseline is not (or no longer) in the ring
  std::uint64_t dropped_checksum = 0;     // decoded, but the state checksum did not match
  std::uint64_t dropped_corrupt = 0;      // any other decode error (see decode_errors)
  std::uint64_t events_delivered = 0;
  std::uint64_t events_duplicate = 0;     // already delivered, ignored
  std::uint64_t events_too_old = 0;       // older than the id window: treated as delivered
  std::uint64_t events_dropped_full = 0;  // new, but `new_events` held max_queued_events: lost
  std::array<std::uint64_t, static_cast<std::size_t>(DecodeError::kCount)> decode_errors{};
};

enum class ReceiveResult : std::uint8_t { kApplied, kOld, kNoBaseline, kBadChecksum, kCorrupt };

class Receiver {
 public:
  Receiver(const Schema& schema, CodecConfig codec, ReceiverConfig config = {});

  // Handles one packet. Events it carries that were not delivered before are appended to
  // `new_events` (only when the frame is applied: every unacknowledged event rides in every
  // newer frame too), while it holds fewer than ReceiverConfig::max_queued_events (the rest are
  // counted in events_dropped_full and never shown). `error` (optional) receives the decode
  // error of a rejected packet.
  ReceiveResult receive(std::span<const std::uint8_t> packet, std::vector<Event>& new_events,
                        DecodeError* error = nullptr);

  // The newest applied frame, or nullptr before the first one.
  const Frame* latest() const noexcept;
  // The frame number to acknowledge (the newest applied), or nullopt before the first one.
  std::optional<std::uint32_t> ack() const noexcept;
  // An applied frame still in the ring, or nullptr.
  const Frame* frame(std::uint32_t number) const noexcept;
  const ReceiverCounters& counters() const noexcept { return counters_; }

 private:
  struct Slot {
    Frame frame;
    bool valid = false;
  };
  bool seen_before(std::uint64_t id);

  Decoder decoder_;
  ReceiverConfig config_;
  std::vector<Slot> ring_;
  Frame scratch_;
  std::vector<Event> events_;
  std::optional<std::uint32_t> newest_;
  ReceiverCounters counters_;
  // Event ids: the newest seen and a bitmap of the window below it (bit i: id newest - i seen).
  std::optional<std::uint64_t> newest_event_;
  std::vector<std::uint64_t> seen_bits_;
};

}  // namespace volley::snapshot
