// A game session on one connection of a Host: snapshots on kSnapshotChannel go to a
// volley::snapshot::Receiver (newest frame wins; old, corrupt or unknown-baseline frames are
// dropped and counted), events are handed out once each, and inputs go back unreliable
// sequenced on kInputChannel carrying the newest applied frame as the acknowledgement.
// Connect with HostOptions::channels >= snapshot::kSessionChannels.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "volley/client/host.hpp"
#include "volley/client/interpolation.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/schema.hpp"
#include "volley/snapshot/session.hpp"  // kSessionChannels, the channels a connection needs

namespace volley::client {

class GameConnection {
 public:
  // `schema` and `codec` are the game's and must match the server's; `host` and `schema` must
  // outlive this (destroy the GameConnection first). After the connection ends, send_input
  // answers kNoSuchPeer.
  GameConnection(Host& host, ConnectionId connection, const snapshot::Schema& schema,
                 snapshot::CodecConfig codec, snapshot::ReceiverConfig receiver = {},
                 InterpolationConfig interpolation = {});

  // Offers a Host event. True when it was this connection's snapshot packet and was consumed
  // (applied or dropped); other events are the caller's.
  bool handle(const Event& event);

  // Sends the game's input bytes (at most snapshot::kMaxInputBytes) with the current ack.
  SendResult send_input(Bytes game_input);

  ConnectionId connection() const noexcept { return connection_; }
  const snapshot::Frame* frame() const noexcept { return receiver_.latest(); }  // newest applied
  // An applied frame still held as a baseline (the interpolator's `from`/`to`), or nullptr: a
  // render point can name a frame already out of the ring (check before use).
  const snapshot::Frame* frame(std::uint32_t number) const noexcept {
    return receiver_.frame(number);
  }
  std::optional<std::uint32_t> ack() const noexcept { return receiver_.ack(); }
  // Replaces `out` with the events shown since the last call (each event id once over the
  // session), oldest first. The two vectors trade buffers, so steady state allocates nothing.
  void take_events(std::vector<snapshot::Event>& out);
  const snapshot::ReceiverCounters& counters() const noexcept { return receiver_.counters(); }
  const Interpolator& interpolator() const noexcept { return interpolator_; }

 private:
  Host& host_;
  ConnectionId connection_;
  snapshot::Receiver receiver_;
  Interpolator interpolator_;
  std::vector<snapshot::Event> events_;
  std::vector<std::uint8_t> input_;  // kInputHeaderBytes + kMaxInputBytes, reused
};

}  // namespace volley::client
