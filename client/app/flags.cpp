#include "flags.hpp"

#include <cmath>

#include "volley/client/version.hpp"
#include "volley/support/cli.hpp"

namespace volley::client::app {

std::string usage() {
  return "usage: volley-client --server HOST:PORT [--clients N] [--seconds T] [--chat-every S]\n"
         "                     [--tick-hz HZ] [--report-json PATH] [--checksum] [--compress]\n"
         "                     [--quiet] [--keyboard] [--idle] [--version]\n"
         "  Lines typed on stdin are sent as chat by the first client (once it is connected).\n"
         "  --keyboard (stdin a terminal): the first client's player moves with W/A/S/D or the\n"
         "  arrows, Space jumps, / or t opens a chat line (Enter sends, Esc cancels), q quits.\n"
         "  --idle: scripted players send still inputs (a bandwidth baseline).\n";
}

Parsed parse_flags(const std::vector<std::string>& args) {
  Parsed parsed;
  Options& o = parsed.options;
  CLI::App app("volley-client");
  app.set_version_flag("--version", [] { return client::version(); });
  app.add_option("--server", o.server)->required();
  app.add_option("--clients", o.clients)->check(CLI::Range(1, 4000));
  app.add_option("--seconds", o.seconds, "0 = until stdin ends")->check(CLI::Range(0.0, 1e7));
  app.add_option("--chat-every", o.chat_every_s, "0 = off")->check(CLI::Range(0.0, 1e6));
  app.add_option("--tick-hz", o.tick_hz)->check(CLI::Range(1.0, 1000.0));
  app.add_option("--report-json", o.report_json);
  app.add_flag("--checksum", o.checksum)->disable_flag_override();
  app.add_flag("--compress", o.compress)->disable_flag_override();
  app.add_flag("--quiet", o.quiet)->disable_flag_override();
  app.add_flag("--keyboard", o.keyboard)->disable_flag_override();
  app.add_flag("--idle", o.idle)->disable_flag_override();
  parsed.undocumented = support::undocumented_flags(app, usage());
  const support::CliOutcome outcome = support::parse_cli(app, args);
  if (outcome.help) {
    o.help = true;
    return parsed;
  }
  parsed.version = outcome.version;
  if (!parsed.version.empty()) return parsed;
  parsed.error = outcome.error;
  if (!parsed.error.empty()) return parsed;
  if (o.server.empty()) parsed.error = "--server needs HOST:PORT";
  if (std::string e = support::output_path_error(app, "--report-json", o.report_json); !e.empty()) parsed.error = e;
  return parsed;
}

}  // namespace volley::client::app
