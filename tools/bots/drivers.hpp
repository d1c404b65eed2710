// The two engines under the bot logic: each implements Transport, runs the Run on its own loop
// and returns the report. --engine enet: the client library (stock libenet underneath, what a
// game client runs). --engine volley: client-role protocol Peers on the engine's Loop.
#pragma once

#include <string>

#include "options.hpp"
#include "report.hpp"

namespace volley::bots {

// Both return false (with `error` set) when the run could not start at all.
bool run_enet(const Options& options, bool show_progress, Report& report, std::string& error);
bool run_volley(const Options& options, bool show_progress, Report& report, std::string& error);

}  // namespace volley::bots
