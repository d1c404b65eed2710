// The snapshot sender (sans-IO, lives with the Host): each tick the game fills one world Frame
// and raises events; the sender keeps the last `history` frames and, per client, the frame it
// acknowledged, and produces one packet per client: a delta against exactly what that client
// holds, or a full snapshot when it holds nothing the sender still knows. Packets identical for
// several clients (same baseline, same visible set, same pending events) are encoded once per
// tick. A per-client byte budget with a priority accumulator keeps each packet under the budget;
// entities left out keep their baseline values in the frame the client then holds (and that the
// header's checksum covers), so the next delta is again against exactly what it holds.
// No clock, no socket: the server binding calls begin_tick()/end_tick() from its tick timer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/event.hpp"
#include "volley/snapshot/frame.hpp"
#include "volley/snapshot/schema.hpp"
#include "volley/snapshot/session.hpp"
#include "volley/server/server.hpp"  // ViewFilter
#include "volley/vocabulary/handle.hpp"

namespace volley::server {

struct SenderConfig {
  std::size_t history = 32;         // frames kept as baselines (a client's Receiver keeps as many)
  // Per client per tick (snapshot payload); 0 = half the codec's max_packet_bytes. At most half goes
  // to events; an event that cannot fit with an empty delta is refused by raise_event.
  std::size_t budget_bytes = 1200;
  std::uint32_t event_max_age = 90;  // ticks an event waits for acknowledgement, then dropped
  bool share_encodings = true;      // false: encode once per client (the bench's comparison)
  // Inputs per client per second (bursts of input_burst), measured in ticks of tick_hz; more
  // are dropped unread and counted. 0 (either) = no limit.
  std::uint32_t tick_hz = 0;
  std::uint32_t max_inputs_per_second = 0;
  std::uint32_t input_burst = 1;
  snapshot::CodecConfig codec;
};

struct SenderCounters {
  std::uint64_t frames = 0;
  std::uint64_t snapshots_full = 0, snapshots_delta = 0;
  std::uint64_t snapshot_bytes = 0;
  std::uint64_t encodes = 0;          // Encoder calls (budget retries included)
  std::uint64_t encodes_shared = 0;   // packets reused from another client's encode this tick
  std::uint64_t encodes_skipped = 0;  // whole-view encodes skipped: estimated far over the budget
  std::uint64_t budget_trimmed = 0;   // snapshots that left entities out to fit the budget
  std::uint64_t budget_skipped = 0;   // not even the baseline plus events fitted: nothing sent
  std::uint64_t encode_failed = 0;    // the Encoder refused the game's frame (broken ids/values)
  std::uint64_t events_raised = 0;
  std::uint64_t events_pending = 0;   // now: raised, not yet acknowledged by every client, not expired
  std::uint64_t events_undeliverable = 0;  // (client, event) pairs dropped at event_max_age
  std::uint64_t acks_stale = 0;       // older than the client's acknowledged frame (the same one again is not counted)
  std::uint64_t acks_unknown = 0;     // a frame this client was never sent (or long gone)
  std::uint64_t inputs_malformed = 0;
  std::uint64_t inputs_rate_limited = 0;  // over SenderConfig::max_inputs_per_second: dropped unread
  std::uint64_t inputs_unknown_peer = 0;  // from a peer that is not (or no longer) a client: dropped unread
  std::uint64_t frames_pooled = 0;    // now: frames allocated (world, views, clients' trimmed frames)
  std::uint64_t snapshots_deferred = 0;  // (client, tick) pairs not sent because of the stride
  std::uint64_t stride = 1;           // now: each client gets a snapshot every this many ticks
};

struct ClientSnapshotStats {
  std::uint64_t bytes = 0, full = 0, delta = 0;
  std::optional<std::uint32_t> acked;
};

class SnapshotSender {
 public:
  // An event's bytes in a packet beyond its payload, and a delta packet with nothing changed
  // (header, zstd frame, empty FlatBuffer: 53 measured), rounded up.
  static constexpr std::size_t kEventOverheadBytes = 4;
  static constexpr std::size_t kEmptyPacketBytes = 64;
  using Send = std::function<void(PeerHandle, std::span<const std::uint8_t>)>;

  SnapshotSender(const snapshot::Schema& schema, SenderConfig config);
  ~SnapshotSender();
  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;

  void add_client(PeerHandle peer);
  void remove_client(PeerHandle peer);
  void set_filter(PeerHandle peer, ViewFilter filter);  // empty = sees every entity

  // An input message from `peer`: decoded, its acknowledgement applied. nullopt (and counted)
  // when malformed, over the client's input rate, or from a peer that is not a client.
  std::optional<snapshot::Input> on_input(PeerHandle peer, std::span<const std::uint8_t> message);
  void acknowledge(PeerHandle peer, std::uint32_t frame);

  // Starts the next tick: returns the (cleared) world frame to fill, ids strictly increasing.
  snapshot::Frame& begin_tick();
  std::uint32_t frame_number() const noexcept { return number_; }
  snapshot::Frame& world() noexcept { return *building_; }
  // Between begin_tick() and end_tick(): an event for every current client. Returns its id.
  std::uint64_t raise_event(std::uint16_t kind, std::span<const std::uint8_t> payload);
  // Encodes and hands every client's packet to `send` (the span is valid during the call).
  void end_tick(const Send& send);
  // Under load the binding lowers the snapshot rate instead of falling behind: each client then
  // gets a snapshot every `stride` ticks (clients take turns, so each tick carries 1/stride of
  // them). The world still ticks every tick; a client's next delta covers the ticks it skipped.
  void set_stride(std::uint32_t stride) noexcept { stride_ = stride == 0 ? 1 : stride; }
  std::uint32_t stride() const noexcept { return stride_; }

  const SenderCounters& counters() const noexcept { return counters_; }
  std::optional<ClientSnapshotStats> client_stats(PeerHandle peer) const;
  std::size_t clients() const noexcept { return clients_.size(); }
  // A kept world frame (the history ring), or nullptr.
  const snapshot::Frame* history(std::uint32_t number) const noexcept;

 private:
  struct Client;
  struct Entry;
  struct Trimmed;
  struct View;
  using FramePtr = std::shared_ptr<snapshot::Frame>;

  FramePtr acquire();
  Client* find(PeerHandle peer);
  bool input_allowed(Client& client);  // takes one input from the client's rate budget
  std::uint64_t input_credit_cap() const noexcept;
  void acknowledge(Client& c, std::uint32_t frame);
  void expire_events();
  const View& view_for(Client& client);
  void send_to(Client& client, const Send& send);
  enum class TrimResult { kFitted, kSkipped, kEncodeFailed };
  TrimResult trim(Client& client, const snapshot::Frame* base, const View& view,
                  std::span<const snapshot::Event> events, std::size_t event_bytes);
  std::size_t estimate_size(const snapshot::Frame* base, const snapshot::Frame& next,
                            std::size_t event_bytes) const;
  std::size_t encode(const snapshot::Frame* base, const snapshot::Frame& next,
                     std::span<const snapshot::Event> events, std::vector<std::uint8_t>& out);

  // Declared first so that it outlives every FramePtr below (their deleter returns frames here).
  std::vector<std::unique_ptr<snapshot::Frame>> owned_;
  std::vector<snapshot::Frame*> free_;

  SenderConfig config_;
  snapshot::Encoder encoder_;
  std::uint32_t number_ = 0;
  std::uint32_t stride_ = 1;
  std::uint32_t next_turn_ = 0;  // the turn given to the next client added
  FramePtr building_;
  std::vector<FramePtr> ring_;
  std::vector<snapshot::Event> pending_;         // ids increasing
  std::vector<std::uint32_t> pending_raised_;    // frame each was raised in
  std::uint64_t next_event_ = 1;
  std::vector<std::unique_ptr<Client>> clients_;
  std::unordered_map<std::uint64_t, std::size_t> index_;  // PeerHandle -> clients_ slot
  std::vector<std::unique_ptr<Entry>> entries_;  // this tick's encodings (buffers reused)
  std::size_t entries_used_ = 0;
  std::vector<std::unique_ptr<View>> views_;     // this tick's filtered views
  std::size_t views_used_ = 0;
  std::unique_ptr<View> all_view_;               // the unfiltered view: the world frame itself
  std::unordered_map<std::uint64_t, std::size_t> entry_index_;  // key hash -> entries_ slot
  // Budget-trimmed packets this tick, shared by clients in the same state (a crowd that joined
  // together trims identically): key hash -> trimmed_ slot.
  std::vector<std::unique_ptr<Trimmed>> trimmed_;
  std::size_t trimmed_used_ = 0;
  std::unordered_map<std::uint64_t, std::size_t> trimmed_index_;
  // Scratch reused across clients and ticks.
  std::vector<std::uint32_t> visible_;           // indices of one client's view
  std::vector<std::pair<std::uint32_t, std::uint32_t>> candidates_;  // (priority, view index)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> priority_;    // (id, priority)
  std::vector<std::uint32_t> priority_index_;  // view index of each priority_ entry
  static constexpr std::uint32_t kAbsent = 0xFFFF'FFFF;
  std::vector<std::uint32_t> base_of_;           // view index -> baseline index (or kAbsent)
  std::vector<std::uint8_t> selected_;
  std::vector<std::uint8_t> trim_out_;           // keeps its size: trim_size_ bytes are the packet
  std::size_t trim_size_ = 0;
  // Learned compressed bytes per entity sent in a trimmed packet: [0] delta, [1] full snapshot.
  double entity_bytes_[2] = {8.0, 20.0};
  std::pair<double, double> learned_[2];  // this tick's (bytes, entities) of fitted trims
  SenderCounters counters_;
};

}  // namespace volley::server
