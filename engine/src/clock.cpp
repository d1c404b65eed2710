#include "volley/engine/clock.hpp"

#include <chrono>

namespace volley::engine {

TimePoint now() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace volley::engine
