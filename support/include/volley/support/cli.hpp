// Command lines of every Volley executable are parsed with CLI11 (Debian's libcli11-dev), with one
// contract: "--flag value" and "--flag=value", --help, and every problem as one line for the
// caller to print before exiting with code 2. Each program declares its flags on a CLI::App and
// calls parse_cli; parsing stays separate from main so tests can reach every error path.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace volley::support {

struct CliOutcome {
  bool help = false;     // --help or -h was given: print app.help() (or the program's usage)
  std::string version;   // --version (app.set_version_flag) was given: print this, exit 0
  std::string error;     // one line, no newline; empty on success
};

// Parses `args` (without the program name). Flags declared with no value refuse "--flag=x".
CliOutcome parse_cli(CLI::App& app, std::span<const std::string> args);

// For a flag naming a file written at the end of a run (a report, the stats JSON): "" when the
// flag was not given or the file can be written, else one line ("--report-json needs a path",
// "--stats-json: cannot write 'x': No such file or directory"). Checked before the run, so a
// typo costs a second, not the whole run. It creates and removes PATH.tmp to find out.
std::string output_path_error(const CLI::App& app, const std::string& flag, const std::string& path);

// The flags `app` declares (but --help) that a hand-written usage text never names as a whole
// word: for tools that print their own usage instead of app.help(), whose tests check it is
// empty, so a new flag cannot be left out of --help.
std::vector<std::string> undocumented_flags(const CLI::App& app, std::string_view usage);

// For tools whose main needs nothing more: parses argv; on --help prints app.help() and on
// --version the version, and exits 0; on an error prints "<app name>: <error>" on stderr and
// exits 2.
void parse_cli_or_exit(CLI::App& app, int argc, char** argv);

}  // namespace volley::support
