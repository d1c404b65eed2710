// What volley-netsim did, per direction: a human table for stdout and one flat JSON object
// (keys "up_<counter>", "down_<counter>", then the client table and run figures).
#pragma once

#include <string>

#include "proxy.hpp"

namespace volley::netsim {

struct RunFacts {
  double seconds = 0;
  std::uint64_t seed = 0;
  std::string backend;
  std::uint64_t send_dropped = 0;  // by the loop (queue full, socket closed)
  std::uint64_t send_errors = 0;   // refused by the kernel
};

std::string report_table(const Proxy& proxy, const RunFacts& facts);
std::string report_json(const Proxy& proxy, const RunFacts& facts);

}  // namespace volley::netsim
