// volley-bots: a swarm of bots that check what an ENet server does for them (docs/bots.md).
// Exit codes: 0 when every bot connected and no invariant broke; 1 otherwise (or when the run
// could not start or a report could not be written); 2 for a bad command line.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "drivers.hpp"
#include "options.hpp"
#include "run.hpp"
#include "volley/support/process_cpu.hpp"

namespace {

constexpr int kExitUsage = 2;

bool write_file(const std::string& path, const std::string& text) {
  if (path.empty()) return true;
  std::FILE* f = std::fopen(path.c_str(), "w");
  bool ok = f != nullptr && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok) std::fprintf(stderr, "volley-bots: cannot write %s\n", path.c_str());
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace volley::bots;
  const Parsed parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.options.help) {
    std::fputs(parsed.help.c_str(), stdout);
    return 0;
  }
  if (!parsed.version.empty()) {
    std::printf("%s\n", parsed.version.c_str());
    return 0;
  }
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "volley-bots: %s\n", parsed.error.c_str());
    return kExitUsage;
  }
  Options o = parsed.options;
  o.swarm.nonce = static_cast<std::uint32_t>(getpid()) ^ static_cast<std::uint32_t>(o.swarm.seed * 2654435761u);
  const bool show_progress = o.progress || isatty(STDERR_FILENO) != 0;
  handle_stop_signals();
  Report report;
  std::string error;
  const bool started = o.engine == "volley" ? run_volley(o, show_progress, report, error)
                                            : run_enet(o, show_progress, report, error);
  if (!started) {
    std::fprintf(stderr, "volley-bots: %s\n", error.c_str());
    return 1;
  }
  const volley::support::CpuTimes cpu = volley::support::process_cpu();
  report.info.cpu_user_s = cpu.user_s;
  report.info.cpu_sys_s = cpu.sys_s;
  std::fputs(report_table(report).c_str(), stdout);
  const bool written = write_file(o.report_json, report_json(report)) && write_file(o.report_html, report_html(report));
  return report.ok() && written ? 0 : 1;
}
