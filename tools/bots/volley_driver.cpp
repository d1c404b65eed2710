// --engine volley: arrives with the engine Loop's multi-socket support (branch s11-netsim).
#include "drivers.hpp"

namespace volley::bots {

bool run_volley(const Options&, bool, Report&, std::string& error) {
  error = "--engine volley is not available in this build yet";
  return false;
}

}  // namespace volley::bots
