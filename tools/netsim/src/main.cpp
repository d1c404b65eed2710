// volley-netsim: parses flags (one-line error, exit 2), opens the loop on --listen, prints
// "listening ADDR:PORT", proxies until SIGINT/SIGTERM or --seconds, then prints the per-direction
// table on stdout and writes --report-json. Signals are blocked everywhere and taken by a small
// control thread (sigtimedwait), which talks to the loop only through Loop::stop().
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "options.hpp"
#include "proxy.hpp"
#include "report.hpp"

namespace {

using namespace volley;
using Clock = std::chrono::steady_clock;

void control(engine::Loop& loop, double seconds, const std::atomic<bool>& done) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const auto start = Clock::now();
  while (!done.load()) {
    timespec wait{0, 50'000'000};
    const int sig = sigtimedwait(&set, nullptr, &wait);
    const bool expired = seconds > 0 && Clock::now() - start >= std::chrono::duration<double>(seconds);
    if (sig > 0 || expired) {
      loop.stop();
      return;
    }
  }
}

int run(const netsim::NetsimOptions& options) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  engine::LoopConfig config;
  config.bind = options.listen;
  config.backend = options.backend;
  config.recv_buffer_bytes = 4 << 20;
  config.send_buffer_bytes = 4 << 20;
  auto opened = engine::Loop::open(std::move(config));
  if (!opened) {
    std::fprintf(stderr, "volley-netsim: cannot listen on %s: %s\n", options.listen.to_string().c_str(),
                 opened.error.c_str());
    return 2;  // as volley-server: an address it cannot listen on is a bad --listen
  }
  engine::Loop& loop = *opened.loop;
  netsim::Proxy proxy(loop, options);
  std::printf("listening %s\n", loop.local_address().to_string().c_str());
  std::fflush(stdout);

  const auto start = Clock::now();
  std::atomic<bool> done{false};
  std::thread controller([&] { control(loop, options.seconds, done); });
  loop.run();
  done.store(true);
  controller.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  proxy.shutdown();
  const engine::Stats& stats = loop.stats();
  const netsim::RunFacts facts{seconds, options.seed, std::string(engine::backend_name(loop.backend())),
                               stats[engine::Counter::kSendDropped], stats[engine::Counter::kSendErrors]};
  std::fputs(netsim::report_table(proxy, facts).c_str(), stdout);
  std::fflush(stdout);
  int code = 0;
  if (!options.report_json.empty()) {
    std::ofstream out(options.report_json, std::ios::binary | std::ios::trunc);
    out << netsim::report_json(proxy, facts);
    if (!out) {
      std::fprintf(stderr, "volley-netsim: cannot write %s\n", options.report_json.c_str());
      code = 1;
    }
  }
  loop.close();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto parsed = netsim::parse_netsim_options(args);
  if (!parsed.options) {
    std::fprintf(stderr, "volley-netsim: %s\n", parsed.error.c_str());
    return 2;
  }
  if (parsed.options->help) {
    std::fputs(netsim::kNetsimUsage, stdout);
    return 0;
  }
  return run(*parsed.options);
}
