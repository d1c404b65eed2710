#include "volley/client/game_connection.hpp"

#include "volley/snapshot/session.hpp"

namespace volley::client {

GameConnection::GameConnection(Host& host, ConnectionId connection,
                               const snapshot::Schema& schema, snapshot::CodecConfig codec,
                               snapshot::ReceiverConfig receiver,
                               InterpolationConfig interpolation)
    : host_(host),
      connection_(connection),
      receiver_(schema, codec, receiver),
      interpolator_(interpolation),
      input_(snapshot::kInputHeaderBytes + snapshot::kMaxInputBytes) {}

bool GameConnection::handle(const Event& event) {
  if (event.type != EventType::kReceived || event.connection != connection_ ||
      event.channel != snapshot::kSnapshotChannel) {
    return false;
  }
  if (receiver_.receive(event.bytes, events_) == snapshot::ReceiveResult::kApplied) {
    interpolator_.on_frame(receiver_.latest()->number, event.time);
  }
  return true;
}

SendResult GameConnection::send_input(Bytes game_input) {
  const std::size_t size = snapshot::encode_input(receiver_.ack(), game_input, input_);
  if (size == 0) return SendResult::kTooLarge;
  return host_.send(connection_, snapshot::kInputChannel, Bytes(input_.data(), size),
                    Delivery::kUnreliable);
}

void GameConnection::take_events(std::vector<snapshot::Event>& out) {
  out.swap(events_);
  events_.clear();
}

}  // namespace volley::client
