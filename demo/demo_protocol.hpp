// What the demo game's two ends agree on, besides demo_messages.fbs: the entity type (one, the
// demo scene's ten fields), the event kinds, and the bounds of a chat line. Header-only so the
// game client (client/app) can use it without linking the server's world.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <volley/snapshot/receiver.hpp>
#include <volley/snapshot/schema.hpp>

namespace volley::demo {

// Position x, y in 1/64 m (signed 16 bits), height in 1/64 m (unsigned 12 bits), orientation as
// smallest three (2 + 3 x 9 bits), velocity x, y, z within +-64 m/s (signed 12 bits).
inline constexpr std::array<snapshot::FieldWidth, 10> kEntityFields = {-16, -16, 12, 2, 9, 9, 9,
                                                                       -12, -12, -12};

inline constexpr std::uint16_t kEventChat = 1;
inline constexpr std::uint16_t kEventCreated = 2;
inline constexpr std::uint16_t kEventDestroyed = 3;

// A chat line's text, in bytes; longer lines are cut (the event must stay under
// snapshot::kMaxEventPayload with its FlatBuffer framing).
inline constexpr std::size_t kMaxChatText = 200;

// Chat lines a player may send: a token bucket of kChatBurst lines refilled at
// kChatLinesPerSecond. Lines past it are dropped and counted, so one player cannot fill the
// server's pending-event table (every chat line is an event until every client acknowledges it).
inline constexpr double kChatLinesPerSecond = 4;
inline constexpr double kChatBurst = 8;

// Player entities take ids from here up, above every scene entity, so ids stay increasing.
inline constexpr std::uint32_t kFirstPlayerId = 0x4000'0000;

// The demo's clients (volley-client, volley-bots) take frames of up to the codec's 65,536
// entities, not the Receiver's default 8,192: volley-server --entities goes to 60,000, plus
// the players. They are tools for one's own server; a game sizes the cap to its world.
inline snapshot::ReceiverConfig receiver_config() {
  snapshot::ReceiverConfig config;
  config.max_entities = 65536;
  return config;
}

}  // namespace volley::demo
