// The one place Volley reads the OS clock. Everything else takes time as a parameter.
#pragma once

#include <cstdint>

#include "volley/vocabulary/time.hpp"

namespace volley::engine {

// Microseconds on a monotonic clock with an arbitrary epoch: the shared volley::TimePoint.
using volley::TimePoint;

TimePoint now() noexcept;

}  // namespace volley::engine
