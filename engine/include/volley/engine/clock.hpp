// The one place Volley reads the OS clock. Everything else takes time as a parameter.
#pragma once

#include <cstdint>

namespace volley::engine {

// Microseconds on a monotonic clock with an arbitrary epoch. A plain integer so the sans-IO
// protocol layer can use the same representation without depending on the engine.
using TimePoint = std::int64_t;

TimePoint now() noexcept;

}  // namespace volley::engine
