// End to end: volley-capture-enet records a real stock-libenet session (plain, CRC32, range
// coder; Ethernet and raw-IP link types) and volley-dump must name every command of it with no
// error object. Also the failure paths of the executables: hex garbage on stdin, a truncated or
// bogus pcap file, bad flags. The session takes about 1.4 s per capture.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.hpp"
#include "json_check.hpp"
#include "pcap_writer.hpp"

namespace {

using volley::test::JsonCheck;
using volley::test::Run;
using volley::test::TempDir;
using volley::test::read_file;
using volley::test::run;

std::string dump_exe() { return VOLLEY_DUMP_EXE; }
std::string capture_exe() { return VOLLEY_CAPTURE_EXE; }

// Counts of "command":"NAME" across the output.
std::map<std::string, int> command_counts(const std::vector<std::string>& lines) {
  std::map<std::string, int> counts;
  const std::string key = "\"command\":\"";
  for (const auto& line : lines) {
    for (std::size_t at = line.find(key); at != std::string::npos; at = line.find(key, at + 1)) {
      const std::size_t start = at + key.size();
      ++counts[line.substr(start, line.find('"', start) - start)];
    }
  }
  return counts;
}

void check_session(const std::string& capture_flags, const std::string& dump_flags) {
  TempDir dir;
  const std::string pcap = dir.file("session.pcap");
  const Run capture = run(dir, capture_exe() + " --out '" + pcap + "' " + capture_flags);
  INFO("capture: ", capture.err);
  REQUIRE(capture.exited);
  REQUIRE(capture.code == 0);

  const Run dump = run(dir, dump_exe() + " --pcap '" + pcap + "' " + dump_flags);
  INFO("dump stderr: ", dump.err);
  REQUIRE(dump.exited);
  CHECK(dump.code == 0);
  REQUIRE(dump.lines.size() >= 15);
  for (const auto& line : dump.lines) {
    INFO(line);
    CHECK(JsonCheck::is_object(line));
    CHECK(line.find("\"error\"") == std::string::npos);
    CHECK(line.find("\"src\":\"127.0.0.1:") != std::string::npos);
    CHECK(line.find("\"gso_segment\"") == std::string::npos);  // libenet sends one datagram per call
    if (dump_flags.find("--checksum") != std::string::npos) {
      CHECK(line.find("\"checksum\":\"ok\"") != std::string::npos);
    }
  }
  std::map<std::string, int> counts = command_counts(dump.lines);
  for (const char* name : {"CONNECT", "VERIFY_CONNECT", "ACKNOWLEDGE", "PING", "BANDWIDTH_LIMIT", "SEND_RELIABLE",
                           "SEND_UNRELIABLE", "SEND_UNSEQUENCED", "SEND_FRAGMENT", "SEND_UNRELIABLE_FRAGMENT",
                           "DISCONNECT"}) {
    INFO("command ", name);
    CHECK(counts.count(name) == 1);
  }
  // 3000-byte packets at the 1400-byte MTU: three fragments each. Counts are lower bounds:
  // on a loaded machine libenet's few-millisecond retransmission timeout on loopback can fire
  // and resend reliable commands, which is part of a genuine session.
  CHECK(counts["SEND_FRAGMENT"] >= 3);
  CHECK(counts["SEND_UNRELIABLE_FRAGMENT"] == 3);
  for (const char* number : {"0", "1", "2"}) {
    const std::string fragment = std::string("\"fragment_count\":3,\"fragment_number\":") + number;
    std::size_t seen = 0;
    for (const auto& line : dump.lines) seen += line.find(fragment) != std::string::npos;
    CHECK(seen >= 2);  // one reliable and one unreliable fragment with this number
  }

  std::size_t compressed = 0;
  for (const auto& line : dump.lines) compressed += line.find("\"compressed\":true") != std::string::npos;
  if (capture_flags.find("--range-coder") != std::string::npos) {
    CHECK(compressed > 0);
  } else {
    CHECK(compressed == 0);
  }
}

}  // namespace

TEST_CASE("tools: stock libenet session, plain, every command named") { check_session("", ""); }

TEST_CASE("tools: stock libenet session with CRC32, every checksum verified") {
  check_session("--checksum", "--checksum");
}

TEST_CASE("tools: stock libenet session with the range coder, decompressed") {
  check_session("--range-coder", "--range-coder");
}

TEST_CASE("tools: stock libenet session, raw-IP link type, CRC32 and range coder together") {
  check_session("--link raw --checksum --range-coder", "--checksum --range-coder");
}

TEST_CASE("tools: --port keeps only the session's datagrams") {
  TempDir dir;
  const std::string pcap = dir.file("session.pcap");
  const Run capture = run(dir, capture_exe() + " --out '" + pcap + "'");
  REQUIRE(capture.code == 0);
  const Run all = run(dir, dump_exe() + " --pcap '" + pcap + "'");
  REQUIRE(!all.lines.empty());
  // The server's port, from the first datagram (the client's CONNECT).
  const std::string& first = all.lines.front();
  const std::size_t at = first.find("\"dst\":\"127.0.0.1:") + 17;
  const std::string port = first.substr(at, first.find('"', at) - at);
  CHECK(run(dir, dump_exe() + " --pcap '" + pcap + "' --port " + port).lines.size() == all.lines.size());
  const std::string other = port == "9" ? "10" : "9";
  const Run none = run(dir, dump_exe() + " --pcap '" + pcap + "' --port " + other);
  CHECK(none.code == 0);
  CHECK(none.lines.empty());
}

TEST_CASE("tools: a GSO packet in a capture is printed as the datagrams it carries") {
  TempDir dir;
  const std::string pcap = dir.file("gso.pcap");
  // Header, ACK and PING (the protocol document's vector): three of them as one UDP packet, as a
  // sender with UDP_SEGMENT hands them to the kernel, then the same datagram alone.
  const std::vector<std::uint8_t> one = {0x80, 0x00, 0xFA, 0x6D, 0x01, 0xFF, 0x00, 0x01,
                                         0x00, 0x01, 0xFA, 0x6C, 0x85, 0xFF, 0x00, 0x02};
  std::vector<std::uint8_t> three;
  for (int i = 0; i < 3; ++i) three.insert(three.end(), one.begin(), one.end());
  const volley::tools::Ipv4Endpoint client{0x7F000001, 50000}, server{0x7F000001, 7777};
  std::string error;
  REQUIRE(volley::tools::write_pcap(pcap, volley::tools::CaptureLink::kEthernet,
                                    {{1, 0, client, server, three}, {1, 10, client, server, one}}, error));
  const Run dump = run(dir, dump_exe() + " --pcap '" + pcap + "'");
  INFO("dump stderr: ", dump.err);
  REQUIRE(dump.code == 0);
  REQUIRE(dump.lines.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string& line = dump.lines[i];
    INFO(line);
    CHECK(line.find("\"error\"") == std::string::npos);
    CHECK(line.find("\"length\":16") != std::string::npos);
    CHECK(line.find("\"command\":\"PING\"") != std::string::npos);
    const std::string mark = "\"gso_segment\":" + std::to_string(i + 1) + ",\"gso_segments\":3";
    CHECK((line.find(mark) != std::string::npos) == (i < 3));
  }
  CHECK(dump.lines[3].find("gso") == std::string::npos);
}

TEST_CASE("tools: truncated and garbage hex datagrams on stdin are error objects") {
  TempDir dir;
  const Run dump = run(dir, dump_exe(),
                       "8F FF FA 6B 82 FF 00 01\n"     // CONNECT cut after its command header
                       "8F\n"                          // header cut
                       "\n# comment lines and blank lines are skipped\n"
                       "00 00 0F 00 00 01\n"           // unknown command
                       "not hex at all\n"
                       "00 00 85 FF 00 02\n");         // a good PING
  REQUIRE(dump.exited);
  CHECK(dump.code == 0);
  REQUIRE(dump.lines.size() == 5);
  for (const auto& line : dump.lines) CHECK(JsonCheck::is_object(line));
  CHECK(dump.lines[0].find("\"error\":\"command_truncated\"") != std::string::npos);
  CHECK(dump.lines[1].find("\"error\":\"truncated_header\"") != std::string::npos);
  CHECK(dump.lines[2].find("\"error\":\"unknown_command\"") != std::string::npos);
  CHECK(dump.lines[3].find("\"error\":\"bad_hex\"") != std::string::npos);
  CHECK(dump.lines[4].find("\"error\"") == std::string::npos);
  CHECK(dump.lines[4].find("\"line\":7") != std::string::npos);
}

TEST_CASE("tools: a truncated pcap file is reported, not a crash") {
  TempDir dir;
  const std::string pcap = dir.file("session.pcap");
  REQUIRE(run(dir, capture_exe() + " --out '" + pcap + "' --range-coder").code == 0);
  const std::string whole = read_file(pcap);
  for (const std::size_t keep : {std::size_t{10}, std::size_t{24}, std::size_t{30}, std::size_t{700},
                                 whole.size() / 2, whole.size() - 1}) {
    INFO("kept ", keep, " of ", whole.size(), " bytes");
    const std::string cut = dir.file("cut.pcap");
    std::ofstream(cut, std::ios::binary).write(whole.data(), static_cast<std::streamsize>(keep));
    const Run dump = run(dir, dump_exe() + " --pcap '" + cut + "' --range-coder");
    REQUIRE(dump.exited);
    CHECK((dump.code == 1 || dump.code == 2 || dump.code == 0));
    CHECK(std::count(dump.err.begin(), dump.err.end(), '\n') <= 1);
    for (const auto& line : dump.lines) {
      CHECK(JsonCheck::is_object(line));
      CHECK(line.find("\"error\"") == std::string::npos);  // whole records are intact
    }
  }
}

TEST_CASE("tools: bad flags and unreadable files exit 2 with one line on stderr") {
  TempDir dir;
  std::ofstream(dir.file("garbage.pcap")) << "this is not a capture file, not even close";
  for (const std::string& args : std::vector<std::string>{"--bogus", "--port", "--port 0", "--port abc", "--pcap",
                                 "--checksum=1", "--pcap /nonexistent/x.pcap",
                                 "--pcap '" + dir.file("garbage.pcap") + "'"}) {
    INFO("args: ", args);
    const Run dump = run(dir, dump_exe() + " " + args);
    REQUIRE(dump.exited);
    CHECK(dump.code == 2);
    CHECK(dump.lines.empty());
    CHECK(std::count(dump.err.begin(), dump.err.end(), '\n') == 1);
  }
  // The file is named once, though libpcap's own message starts with its path too.
  const Run missing = run(dir, dump_exe() + " --pcap /nonexistent/x.pcap");
  CHECK(missing.err == "volley-dump: cannot read /nonexistent/x.pcap: No such file or directory\n");
  for (const std::string& args : std::vector<std::string>{"", "--bogus", "--out", "--out x --link token-ring", "--out x --server-port 99999"}) {
    INFO("capture args: ", args);
    const Run capture = run(dir, capture_exe() + " " + args);
    REQUIRE(capture.exited);
    CHECK(capture.code == 2);
    CHECK(std::count(capture.err.begin(), capture.err.end(), '\n') == 1);
  }
  // An unwritable --out is refused before the session runs, the file named once.
  const Run unwritable = run(dir, capture_exe() + " --out /nonexistent/dir/x.pcap");
  REQUIRE(unwritable.exited);
  CHECK(unwritable.code == 2);
  CHECK(unwritable.lines.empty());
  CHECK(unwritable.err == "volley-capture-enet: --out: cannot write '/nonexistent/dir/x.pcap': No such file or directory\n");
}
