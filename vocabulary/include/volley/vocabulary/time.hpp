// The one TimePoint: a plain integer so the sans-IO layers share it without depending on the
// engine, which is the only place that reads the OS clock (engine::now()).
#pragma once

#include <cstdint>

namespace volley {

using TimePoint = std::int64_t;  // microseconds on the caller's monotonic clock

}  // namespace volley
