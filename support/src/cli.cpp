// parse_cli: CLI11 with Volley's one-line-error contract (see volley/support/cli.hpp).
#include "volley/support/cli.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace volley::support {

namespace {

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// Values CLI11 converts but no Volley flag means. "nan" into a floating-point option: every range
// check passes it (each comparison with NaN is false), so a NaN --seconds ran forever and a NaN
// interval turned a feature off. "-1" into an unsigned one: it wraps to 2^64 - 1. An integer past
// 64 bits into an option with no range check of its own (--seed): CLI11 2.1 takes strtoull's
// saturated 2^64 - 1 without a word.
std::string bad_number(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() == 0) continue;
    const std::string type = option->get_type_name();
    const bool floating = type.rfind("FLOAT", 0) == 0, natural = type.rfind("UINT", 0) == 0;
    const bool integer = natural || type.rfind("INT", 0) == 0;
    for (const std::string& value : option->results()) {
      if (floating && std::isnan(std::strtod(value.c_str(), nullptr)))
        return option->get_name() + ": expected a number, got '" + value + "'";
      if (natural && value.find('-') != std::string::npos)
        return option->get_name() + ": expected a non-negative integer, got '" + value + "'";
      if (integer) {
        errno = 0;
        if (natural) {
          (void)std::strtoull(value.c_str(), nullptr, 0);  // base 0, as CLI11 reads integers
        } else {
          (void)std::strtoll(value.c_str(), nullptr, 0);
        }
        if (errno == ERANGE) {
          return option->get_name() + ": Value " + value + " not in range " +
                 (natural ? "0 to " + std::to_string(std::numeric_limits<std::uint64_t>::max())
                          : std::to_string(std::numeric_limits<std::int64_t>::min()) + " to " +
                                std::to_string(std::numeric_limits<std::int64_t>::max()));
        }
      }
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) {
    if (std::string error = bad_number(*sub); !error.empty()) return error;
  }
  return {};
}

// A value of a numeric option that is no number at all. CLI11's range check refuses it with
// "Value abc not in range 0 to 65535" and its conversion with "Could not convert: --x = abc",
// neither saying what is wrong: this names it ("--port: expected an integer, got 'abc'").
std::string not_a_number(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() == 0) continue;
    const std::string type = option->get_type_name();
    const bool floating = type.rfind("FLOAT", 0) == 0;
    const bool integer = type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0;
    if (!floating && !integer) continue;
    for (const std::string& value : option->results()) {
      const char* begin = value.c_str();
      char* end = nullptr;
      errno = 0;
      if (floating) {
        (void)std::strtod(begin, &end);
      } else {
        (void)std::strtoll(begin, &end, 0);  // base 0, as CLI11 reads integers
      }
      if (!value.empty() && end == begin + value.size()) continue;
      return option->get_name() + ": expected " + (floating ? "a number" : "an integer") + ", got '" + value + "'";
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) {
    if (std::string error = not_a_number(*sub); !error.empty()) return error;
  }
  return {};
}

}  // namespace

CliOutcome parse_cli(CLI::App& app, std::span<const std::string> args) {
  CliOutcome outcome;
  // CLI11 consumes its argument vector from the back.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    outcome.help = true;
  } catch (const CLI::CallForAllHelp&) {
    outcome.help = true;
  } catch (const CLI::CallForVersion& e) {
    // Thrown while the flag is parsed, before required flags are checked: "--version" alone works.
    outcome.version = e.what();
  } catch (const CLI::ValidationError& e) {
    outcome.error = not_a_number(app);
    if (outcome.error.empty()) outcome.error = one_line(e.what());
  } catch (const CLI::ConversionError& e) {
    outcome.error = not_a_number(app);
    if (outcome.error.empty()) outcome.error = one_line(e.what());
  } catch (const CLI::ParseError& e) {
    outcome.error = one_line(e.what());
    if (outcome.error.empty()) outcome.error = "bad command line (see --help)";
  }
  if (outcome.error.empty() && !outcome.help && outcome.version.empty()) outcome.error = bad_number(app);
  return outcome;
}

std::string output_path_error(const CLI::App& app, const std::string& flag, const std::string& path) {
  if (app.count(flag) == 0) return {};
  if (path.empty()) return flag + " needs a path";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return flag + ": '" + path + "' is a directory";
  const std::string probe = path + ".tmp";
  std::FILE* f = std::fopen(probe.c_str(), "w");
  if (f == nullptr) return flag + ": cannot write '" + path + "': " + std::strerror(errno);
  std::fclose(f);
  std::remove(probe.c_str());
  return {};
}

std::vector<std::string> undocumented_flags(const CLI::App& app, std::string_view usage) {
  const auto named = [usage](const std::string& flag) {
    for (std::size_t at = usage.find(flag); at != std::string_view::npos; at = usage.find(flag, at + 1)) {
      const std::size_t end = at + flag.size();
      const char next = end < usage.size() ? usage[end] : ' ';
      if (!std::isalnum(static_cast<unsigned char>(next)) && next != '-' && next != '_') return true;
    }
    return false;
  };
  std::vector<std::string> missing;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      const std::string flag = "--" + name;
      if (flag != "--help" && !named(flag)) missing.push_back(flag);
    }
  }
  return missing;
}

void parse_cli_or_exit(CLI::App& app, int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const CliOutcome outcome = parse_cli(app, args);
  if (outcome.help) {
    std::fputs(app.help().c_str(), stdout);
    std::exit(0);
  }
  if (!outcome.version.empty()) {
    std::printf("%s\n", outcome.version.c_str());
    std::exit(0);
  }
  if (!outcome.error.empty()) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), outcome.error.c_str());
    std::exit(2);
  }
}

}  // namespace volley::support
