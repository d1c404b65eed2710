// What the layers say to each other about packets and connections: how a packet travels, why a
// connection ended, why a server refused one, and the outcome of queuing a send. Each enum and
// its name table is defined here once; protocol, server and client re-export them.
#pragma once

#include <cstdint>
#include <string_view>

namespace volley {

// How a packet travels: the ENet command that carries it (RELIABLE, flags 0, UNSEQUENCED,
// UNRELIABLE_FRAGMENT).
enum class Delivery : std::uint8_t { kReliable, kUnreliable, kUnsequenced, kUnreliableFragment, kCount };

// One of the four: an API taking a Delivery refuses any other value (kBadDelivery).
constexpr bool is_delivery(Delivery delivery) noexcept { return delivery < Delivery::kCount; }

constexpr std::string_view delivery_name(Delivery delivery) noexcept {
  switch (delivery) {
    case Delivery::kReliable: return "reliable";
    case Delivery::kUnreliable: return "unreliable";
    case Delivery::kUnsequenced: return "unsequenced";
    case Delivery::kUnreliableFragment: return "unreliable_fragment";
    case Delivery::kCount: break;
  }
  return "?";
}

enum class DisconnectReason : std::uint8_t {
  kRemote,          // the remote sent DISCONNECT (enet_peer_disconnect*; data = its data word)
  kLocal,           // our disconnect() / disconnect_later() completed, or shutdown
  kTimeout,         // the remote stopped acknowledging reliable data
  kRefused,         // the remote refused our CONNECT (fast refusal; data = a RefusalCode)
  kVerifyMismatch,  // VERIFY_CONNECT did not echo our parameters (connections we initiate)
  kCount
};

constexpr std::string_view disconnect_reason_name(DisconnectReason reason) noexcept {
  switch (reason) {
    case DisconnectReason::kRemote: return "remote";
    case DisconnectReason::kLocal: return "local";
    case DisconnectReason::kTimeout: return "timeout";
    case DisconnectReason::kRefused: return "refused";
    case DisconnectReason::kVerifyMismatch: return "verify_mismatch";
    case DisconnectReason::kCount: break;
  }
  return "?";
}

// The data word of a fast refusal (enet-protocol.md 3.5): what a refused client sees in its
// disconnect event, so clients must understand these values.
enum class RefusalCode : std::uint32_t {
  kFull = 1,          // every server slot is in use
  kPerIp = 2,         // the per-IP peer cap is reached
  kShuttingDown = 3,  // the server is stopping
};

// A client that lost the race for the last slot (or the per-IP cap) between its CONNECT and its
// ACK is CONNECTED on its side when the refusal comes (docs/handshake.md): it sees a remote
// disconnect with a RefusalCode as data before it ever heard from the server. The tools count
// such a connection as refused, not connected.
constexpr bool refused_after_handshake(DisconnectReason reason, std::uint32_t data, bool heard_anything) noexcept {
  return reason == DisconnectReason::kRemote && !heard_anything && data >= static_cast<std::uint32_t>(RefusalCode::kFull) &&
         data <= static_cast<std::uint32_t>(RefusalCode::kShuttingDown);
}

constexpr std::string_view refusal_code_name(RefusalCode code) noexcept {
  switch (code) {
    case RefusalCode::kFull: return "full";
    case RefusalCode::kPerIp: return "per_ip";
    case RefusalCode::kShuttingDown: return "shutting_down";
  }
  return "?";
}

// The outcome of queuing one packet for sending.
enum class SendResult : std::uint8_t {
  kOk,
  kNoSuchPeer,        // the handle names no live peer (stale, or never valid)
  kNotConnected,      // the peer exists but is not connected (connecting, or disconnecting)
  kBadChannel,        // channel >= the peer's channel count
  kTooLarge,          // payload above the peer's maximum packet size
  kTooManyFragments,  // would need more fragments than ENet allows
  kQueueFull,         // the peer's unacknowledged queue is at its limit (it is not acking)
  kBadDelivery,       // not one of the four Delivery values
  kCount
};

constexpr std::string_view send_result_name(SendResult result) noexcept {
  switch (result) {
    case SendResult::kOk: return "ok";
    case SendResult::kNoSuchPeer: return "no_such_peer";
    case SendResult::kNotConnected: return "not_connected";
    case SendResult::kBadChannel: return "bad_channel";
    case SendResult::kTooLarge: return "too_large";
    case SendResult::kTooManyFragments: return "too_many_fragments";
    case SendResult::kQueueFull: return "queue_full";
    case SendResult::kBadDelivery: return "bad_delivery";
    case SendResult::kCount: break;
  }
  return "?";
}

}  // namespace volley
