// Flag parsing for volley-dump: "--flag value" and "--flag=value" forms, strict numbers.
#include "options.hpp"

#include <charconv>
#include <string_view>

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
  const auto fail = [](std::string message) { return ParsedDumpOptions{std::nullopt, std::move(message)}; };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const auto take_value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return std::string_view(args[++i]);
      return std::nullopt;
    };
    const auto no_value = [&](bool& flag) -> bool {
      flag = true;
      return !inline_value;
    };

    if (arg == "--pcap") {
      const auto value = take_value();
      if (!value || value->empty()) return fail("--pcap needs a file name");
      options.pcap_path = std::string(*value);
    } else if (arg == "--port") {
      const auto value = take_value();
      if (!value) return fail("--port needs a number");
      unsigned port = 0;
      const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), port);
      if (ec != std::errc{} || end != value->data() + value->size() || port == 0 || port > 65535) {
        return fail("--port: '" + std::string(*value) + "' is not a port number (1-65535)");
      }
      options.port = static_cast<std::uint16_t>(port);
    } else if (arg == "--checksum") {
      if (!no_value(options.checksum)) return fail("--checksum takes no value");
    } else if (arg == "--range-coder" || arg == "--compressed") {
      if (!no_value(options.range_coder)) return fail(std::string(arg) + " takes no value");
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      return fail("unknown argument '" + std::string(args[i]) + "' (try --help)");
    }
  }
  return ParsedDumpOptions{options, {}};
}

}  // namespace volley::tools
