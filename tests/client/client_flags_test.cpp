// volley-client's command line in-process: the hand-written usage names every declared flag,
// and the parse results the executable's own tests cannot see.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "flags.hpp"

using namespace volley::client::app;

TEST_CASE("volley-client --help names every flag it takes") {
  const Parsed parsed = parse_flags({"--help"});
  CHECK(parsed.options.help);
  std::string missing;
  for (const std::string& flag : parsed.undocumented) missing += flag + " ";
  CHECK(missing == "");
}

TEST_CASE("volley-client flags: values and the one-line errors") {
  const Parsed ok = parse_flags({"--server", "127.0.0.1:7777", "--clients", "3", "--seconds", "0", "--idle"});
  CHECK(ok.error.empty());
  CHECK(ok.options.server == "127.0.0.1:7777");
  CHECK(ok.options.clients == 3);
  CHECK(ok.options.seconds == 0);
  CHECK(ok.options.idle);
  CHECK(parse_flags({"--server", "127.0.0.1:7777", "--clients", "0"}).error.find("--clients") != std::string::npos);
  CHECK_FALSE(parse_flags({"--clients", "2"}).error.empty());  // --server is required
}
