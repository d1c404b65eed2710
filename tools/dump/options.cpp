// volley-dump's flags, declared on CLI11 (volley/support/cli.hpp): "--flag value" and
// "--flag=value", strict numbers, one-line errors.
#include "options.hpp"

#include <string>
#include <vector>

#include "volley/support/cli.hpp"

namespace volley::tools {

const char* const kDumpUsage =
    "usage: volley-dump [--pcap FILE] [--port P] [--checksum] [--range-coder]\n"
    "  --pcap FILE     read a pcap/pcapng capture (default: hex datagrams, one per line, on stdin)\n"
    "  --port P        only UDP datagrams to or from port P (pcap input)\n"
    "  --checksum      the session uses ENet's CRC32 (host->checksum = enet_crc32)\n"
    "  --range-coder   the session uses ENet's range coder (alias --compressed); compressed\n"
    "                  datagrams are always decoded, whatever this flag says\n"
    "  --help          this text\n"
    "output: one JSON object per datagram; exit 0, 1 if the capture is damaged, 2 on bad usage\n";

ParsedDumpOptions parse_dump_options(std::span<const char* const> args) {
  DumpOptions options;
  std::string pcap;
  std::uint16_t port = 0;
  CLI::App app("volley-dump");
  app.option_defaults()->always_capture_default(false);
  app.add_option("--pcap", pcap);
  app.add_option("--port", port)->check(CLI::Range(1, 65535));
  app.add_flag("--checksum", options.checksum)->disable_flag_override();
  app.add_flag("--range-coder,--compressed", options.range_coder)->disable_flag_override();
  const std::vector<std::string> words(args.begin(), args.end());
  const support::CliOutcome outcome = support::parse_cli(app, words);
  if (outcome.help) {
    options.help = true;
    return ParsedDumpOptions{options, {}};
  }
  if (!outcome.error.empty()) return ParsedDumpOptions{std::nullopt, outcome.error};
  if (app.count("--pcap") > 0) {
    if (pcap.empty()) return ParsedDumpOptions{std::nullopt, "--pcap needs a file name"};
    options.pcap_path = pcap;
  }
  if (app.count("--port") > 0) options.port = port;
  return ParsedDumpOptions{options, {}};
}

}  // namespace volley::tools
