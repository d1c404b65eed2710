// --mode echo: every packet comes back to its sender on the same channel with the same delivery
// kind and the same bytes (zero-length included).
#pragma once

#include <functional>
#include <string>

#include "volley/server/server.hpp"

namespace volley::server::app {

using DebugLog = std::function<void(const std::string&)>;  // empty = debug logging off

Callbacks echo_callbacks(Server& server, DebugLog debug);

}  // namespace volley::server::app
