// volley-client: the demo game's terminal client on volley::client. Connects --clients game
// connections on one Host, moves each player on a script, sends chat (scripted with
// --chat-every, or lines typed on stdin by the first client), prints a status line once a second
// and, at the end, a summary and the --report-json object. With --keyboard (stdin a terminal, put
// in raw mode and restored on exit and on SIGINT/SIGTERM) the first player moves and chats from
// the keys instead (keyboard.hpp). Exit codes: 0; 1 when fewer clients
// than asked connected or an invariant broke (a frame went backwards, an event shown twice);
// 2 for bad flags.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include "crowd.hpp"
#include "demo_protocol.hpp"
#include "flags.hpp"
#include "keyboard.hpp"
#include "volley/snapshot/session.hpp"
#include "volley/support/json_writer.hpp"

namespace {

using namespace volley;
using namespace volley::client;
using namespace volley::client::app;

constexpr int kExitUsage = 2;
std::atomic<bool> g_stop{false};

// The terminal's settings before raw mode; restored by whichever comes first of the RawTerminal's
// destructor, exit, or the SIGINT/SIGTERM handler (tcsetattr is async-signal-safe).
termios g_saved_terminal{};
std::atomic<bool> g_terminal_raw{false};

void restore_terminal() {
  if (g_terminal_raw.exchange(false)) ::tcsetattr(0, TCSANOW, &g_saved_terminal);
}

// Stdin unbuffered and not echoed (keys arrive as typed); signals (Ctrl-C) stay on.
class RawTerminal {
 public:
  RawTerminal() {
    if (::tcgetattr(0, &g_saved_terminal) != 0) return;
    termios raw = g_saved_terminal;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(0, TCSANOW, &raw) == 0) g_terminal_raw.store(true);
    std::atexit(restore_terminal);
  }
  ~RawTerminal() { restore_terminal(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool ok() const { return g_terminal_raw.load(); }
};

// Keyboard mode's input: whatever bytes are ready on the terminal, never blocking.
class KeyboardReader {
 public:
  // Chat lines completed are appended to `chat`; false once the player quit or stdin ended.
  bool poll(TimePoint now, std::vector<std::string>& chat) {
    keys_.clear();
    for (int reads = 0; reads < 16; ++reads) {  // bounded: a paste cannot hold the loop
      pollfd fd{0, POLLIN, 0};
      if (::poll(&fd, 1, 0) <= 0) break;
      std::uint8_t chunk[256];
      const ssize_t n = ::read(0, chunk, sizeof chunk);
      if (n <= 0) return false;
      decoder_.decode(Bytes(chunk, static_cast<std::size_t>(n)), keys_);
    }
    const bool was_typing = control_.typing();
    const std::size_t draft = control_.draft().size();
    control_.press(keys_, now, chat);
    if (control_.typing() != was_typing || control_.draft().size() != draft) show_prompt();
    return !control_.quit();
  }
  MoveInput take_input(TimePoint now) { return control_.take_input(now); }
  // Redraws the chat prompt on the current line (after a status line, or a key).
  void show_prompt() const {
    std::printf("\r\033[K");
    if (control_.typing()) std::printf("say: %s", control_.draft().c_str());
    std::fflush(stdout);
  }

 private:
  KeyDecoder decoder_;
  KeyboardControl control_;
  std::vector<Key> keys_;
};

// The first client's chat lines (typed, or piped on stdin) wait here until it is connected: a
// line given before its connection is up (`echo hi | volley-client ...`) is sent, not lost.
class PendingChat {
 public:
  void add(std::vector<std::string> lines) {
    for (std::string& line : lines) {
      if (lines_.size() == kMax) lines_.pop_front();  // a pipe faster than any connection: the newest kept
      lines_.push_back(std::move(line));
    }
  }
  void send(Crowd& crowd) {
    while (!lines_.empty() && crowd.send_chat(0, lines_.front())) lines_.pop_front();
  }
  bool empty() const { return lines_.empty(); }

 private:
  static constexpr std::size_t kMax = 64;
  std::deque<std::string> lines_;
};

TimePoint steady_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Lines typed on stdin (non-blocking); false once stdin has ended.
class StdinLines {
 public:
  bool open() const { return open_; }
  std::vector<std::string> take() {
    std::vector<std::string> lines;
    while (open_) {
      pollfd fd{0, POLLIN, 0};
      if (::poll(&fd, 1, 0) <= 0) break;
      char chunk[512];
      const ssize_t n = ::read(0, chunk, sizeof chunk);
      if (n <= 0) {
        open_ = false;
        break;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
      if (buffer_.size() > 4096) buffer_.erase(0, buffer_.size() - 4096);  // a line without end
    }
    for (std::size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
      if (nl > 0) lines.push_back(buffer_.substr(0, nl));
      buffer_.erase(0, nl + 1);
    }
    return lines;
  }

 private:
  bool open_ = true;
  std::string buffer_;
};

std::uint32_t percentile(std::vector<std::uint32_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

std::string report_json(const CrowdTotals& t, const std::vector<std::uint32_t>& rtt) {
  const double cs = t.client_seconds > 0 ? t.client_seconds : 1;
  support::JsonWriter json(support::JsonWriter::Layout::kIndented);
  json.begin_object()
      .field("clients", std::uint64_t{t.clients})
      .field("connected", std::uint64_t{t.connected_ever})
      .field("failed", std::uint64_t{t.failed})
      .field("frames_received", t.frames_received)
      .field("frames_applied", t.frames_applied)
      .field("frames_dropped_old", t.dropped_old)
      .field("frames_dropped_corrupt", t.dropped_corrupt)
      .field("frames_dropped_no_baseline", t.dropped_no_baseline)
      .field("frame_regressions", t.frame_regressions)
      .field("events_shown", t.events_shown)
      .field("events_duplicated", t.events_duplicated)
      .field("chat_sent", t.chat_sent)
      .field("chat_shown", t.chat_shown)
      .field("entities_created_shown", t.created_shown)
      .field("entities_destroyed_shown", t.destroyed_shown)
      .number("bytes_in_per_client_s", static_cast<double>(t.bytes_in) / cs, "%.1f")
      .number("bytes_out_per_client_s", static_cast<double>(t.bytes_out) / cs, "%.1f")
      .field("rtt_p50_ms", percentile(rtt, 0.50))
      .field("rtt_p99_ms", percentile(rtt, 0.99))
      .end_object();
  return json.str() + "\n";
}

int run(const Options& o) {
  std::optional<RawTerminal> terminal;
  std::optional<KeyboardReader> keyboard;
  if (o.keyboard) {
    if (::isatty(0) == 0) {
      std::fprintf(stderr, "volley-client: error: --keyboard needs a terminal on stdin\n");
      return kExitUsage;
    }
    terminal.emplace();
    if (!terminal->ok()) {
      std::fprintf(stderr, "volley-client: error: --keyboard: cannot set the terminal to raw mode\n");
      return 1;
    }
    keyboard.emplace();
    std::printf("keyboard: W/A/S/D or arrows move, Space jumps, / or t chats (Enter sends, Esc cancels), q quits\n");
  }
  std::signal(SIGINT, [](int) {
    restore_terminal();
    g_stop.store(true);
  });
  std::signal(SIGTERM, [](int) {
    restore_terminal();
    g_stop.store(true);
  });
  HostOptions host_options;
  host_options.max_connections = o.clients;
  host_options.channels = snapshot::kSessionChannels;
  host_options.checksum = o.checksum;
  host_options.range_coder = o.compress;
  Host host(host_options);
  snapshot::Schema schema;
  schema.add_type(demo::kEntityFields);
  Crowd crowd(host, schema, o.tick_hz, o.clients);
  std::string error;
  if (!crowd.connect(o.server, error)) {
    std::fprintf(stderr, "volley-client: error: %s\n", error.c_str());
    return kExitUsage;
  }

  StdinLines stdin_lines;
  PendingChat chat;
  std::vector<std::uint32_t> rtt;
  const TimePoint start = steady_now();
  const TimePoint end = o.seconds > 0 ? start + static_cast<TimePoint>(o.seconds * kSecond) : INT64_MAX;
  const auto tick = static_cast<TimePoint>(kSecond / o.tick_hz);
  // Scripted chat stops a second before the end, so every line has time to be shown.
  const TimePoint chat_until = end == INT64_MAX ? end : end - kSecond;
  const auto chat_every = static_cast<TimePoint>(o.chat_every_s * kSecond);
  std::vector<TimePoint> next_chat(o.clients);
  for (std::size_t i = 0; i < o.clients; ++i) {
    // Spread the crowd's lines over the interval.
    next_chat[i] = start + chat_every * static_cast<TimePoint>(i + 1) / static_cast<TimePoint>(o.clients);
  }
  TimePoint next_tick = start, next_status = start + kSecond;
  std::uint64_t last_in = 0, last_out = 0;
  Event event;
  for (TimePoint now = start; now < end && !g_stop.load(); now = steady_now()) {
    const auto wait = static_cast<std::uint32_t>(std::clamp<TimePoint>((next_tick - now) / kMillisecond, 0, 5));
    for (bool first = true; host.poll(event, first ? wait : 0); first = false) crowd.handle(event);
    now = steady_now();
    if (keyboard) {
      std::vector<std::string> lines;
      if (!keyboard->poll(now, lines)) break;
      chat.add(lines);
    }
    if (now >= next_tick) {
      if (keyboard) crowd.steer(0, keyboard->take_input(now));
      crowd.send_inputs(static_cast<double>(now - start) / kSecond, o.idle);
      next_tick = std::max(next_tick + tick, now - tick);
    }
    for (std::size_t i = 0; chat_every > 0 && i < o.clients; ++i) {
      if (now < next_chat[i] || now >= chat_until) continue;
      next_chat[i] += chat_every;
      crowd.send_chat(i, "hello from " + std::to_string(i) + " at " + std::to_string((now - start) / kMillisecond) + " ms");
    }
    if (!keyboard) {
      // With --seconds 0 the run ends with stdin, once its lines are sent (or cannot be).
      if (o.seconds == 0 && !stdin_lines.open() && (chat.empty() || crowd.ended(0))) break;
      chat.add(stdin_lines.take());
    }
    if (crowd.connected(0)) chat.send(crowd);
    if (now >= next_status) {
      next_status += kSecond;
      crowd.sample_rtt(rtt);
      if (o.quiet) continue;
      if (keyboard) std::printf("\r\033[K");  // over the chat prompt; redrawn below
      for (const std::string& line : crowd.take_chat_lines()) std::printf("chat %s\n", line.c_str());
      const CrowdTotals t = crowd.totals(now);
      const auto [frame, entities] = crowd.view();
      const double n = t.connected_now > 0 ? static_cast<double>(t.connected_now) : 1;
      std::printf("t=%.0fs clients %zu/%zu frame %u entities %zu chat %llu rtt p50 %u ms in %.0f B/s out %.0f B/s "
                  "(per client) applied %llu dropped old %llu corrupt %llu no-baseline %llu\n",
                  static_cast<double>(now - start) / kSecond, t.connected_now, t.clients, frame, entities,
                  static_cast<unsigned long long>(t.chat_shown), percentile(rtt, 0.5),
                  static_cast<double>(t.bytes_in - last_in) / n, static_cast<double>(t.bytes_out - last_out) / n,
                  static_cast<unsigned long long>(t.frames_applied), static_cast<unsigned long long>(t.dropped_old),
                  static_cast<unsigned long long>(t.dropped_corrupt),
                  static_cast<unsigned long long>(t.dropped_no_baseline));
      if (keyboard) keyboard->show_prompt();
      std::fflush(stdout);
      last_in = t.bytes_in;
      last_out = t.bytes_out;
    }
  }
  // Leave politely: every connection gets its disconnect acknowledged (or 2 s pass).
  if (keyboard) std::printf("\r\033[K");
  terminal.reset();
  const TimePoint stop = steady_now();
  crowd.sample_rtt(rtt);
  crowd.disconnect_all(stop);
  while (crowd.connection_count() > 0 && steady_now() < stop + 2 * kSecond) {
    if (host.poll(event, 5)) crowd.handle(event);
  }
  const CrowdTotals t = crowd.totals(stop);
  const std::string json = report_json(t, rtt);
  if (!o.quiet) std::printf("%s", json.c_str());
  if (!o.report_json.empty()) {
    if (FILE* f = std::fopen(o.report_json.c_str(), "w")) {
      std::fputs(json.c_str(), f);
      std::fclose(f);
    } else {
      std::fprintf(stderr, "volley-client: error: cannot write '%s'\n", o.report_json.c_str());
      return 1;
    }
  }
  bool ok = true;
  if (t.connected_ever < t.clients) {
    std::fprintf(stderr, "volley-client: error: %zu of %zu clients connected\n", t.connected_ever, t.clients);
    ok = false;
  }
  // Connected for seconds and not one snapshot: not a game server (an echo server sends none).
  if (t.connected_ever > 0 && t.frames_applied == 0 && t.client_seconds >= 2.0) {
    std::fprintf(stderr, "volley-client: error: no snapshot applied in %.1f connected client-seconds (is the server in --mode demo?)\n",
                 t.client_seconds);
    ok = false;
  }
  if (t.frame_regressions > 0 || t.events_duplicated > 0) {
    std::fprintf(stderr, "volley-client: error: invariant broken: %llu frame regressions, %llu events shown twice\n",
                 static_cast<unsigned long long>(t.frame_regressions),
                 static_cast<unsigned long long>(t.events_duplicated));
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const Parsed parsed = parse_flags(args);
  if (parsed.options.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.version.empty()) {
    std::printf("%s\n", parsed.version.c_str());
    return 0;
  }
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "volley-client: error: %s\n", parsed.error.c_str());
    return kExitUsage;
  }
  try {
    return run(parsed.options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "volley-client: error: %s\n", e.what());
    return 1;
  }
}
