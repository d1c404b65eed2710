// The benchmark programs' flags: every bad value is one line on stderr and exit code 2, never a
// run with a wrapped count, a NaN duration (which ran forever) or nothing selected.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli_run.hpp"
#include "support/udp_socket.hpp"

namespace {

using volley::test::Run;
using volley::test::TempDir;
using volley::test::run;

TEST_CASE("bench programs: bad flags are one line on stderr and exit code 2") {
  TempDir dir;
  const std::string sender = VOLLEY_SENDER_BENCH_EXE, loop = VOLLEY_BENCH_LOOP_EXE;
  const std::string enet = VOLLEY_ENET_ECHO_EXE, udp = VOLLEY_UDP_ECHO_EXE;
  const volley::test::UdpSocket taken;  // a port the stock echo server cannot bind
  const std::vector<std::string> bad = {
      sender + " --clients -1",  // was 2^64 - 1 clients: allocated until bad_alloc
      sender + " --chat-per-s -1",  // hung
      sender + " --ticks -1",
      sender + " --clients 0",
      sender + " --view-cell nan",
      sender + " --bogus 1",
      loop + " --servers foo",  // ran nothing, exit 0
      loop + " --seconds nan",
      enet + " --seconds nan",  // ran until a signal
      enet + " --bind 127.0.0.1 --port " + std::to_string(taken.port()) + " --seconds 5",  // was exit 1, unlike volley-server
      udp + " serve --seconds nan",
      udp + " blast --server 127.0.0.1:9 --seconds nan",
  };
  for (const std::string& command : bad) {
    CAPTURE(command);
    const Run r = run(dir, command);
    CHECK(r.exited);
    CHECK(r.code == 2);
    CHECK(r.lines.empty());
    CHECK(r.err.find('\n') == r.err.size() - 1);
  }
}

}  // namespace
