#include "report.hpp"

#include <cstdio>

#include "volley/support/json_writer.hpp"

namespace volley::bots {
namespace {

double per_bot_s(std::uint64_t bytes, double bot_seconds) {
  return bot_seconds > 0 ? static_cast<double>(bytes) / bot_seconds : 0.0;
}

std::string format(const char* fmt, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, fmt, args...);
  return buffer;
}

std::string rate(double pps) {
  return pps >= 1e6 ? format("%.2fM", pps / 1e6) : pps >= 1e3 ? format("%.1fk", pps / 1e3) : format("%.0f", pps);
}

using U = unsigned long long;

}  // namespace

std::string progress_line(const Sample& s, std::uint64_t bots) {
  return format("t=%.0fs connected %llu/%llu in %s pps out %s pps rtt p50 %.2f p99 %.2f ms errors %llu", s.t_s,
                U{s.connected}, U{bots}, rate(s.pps_in).c_str(), rate(s.pps_out).c_str(),
                static_cast<double>(s.rtt_p50_us) / 1000.0, static_cast<double>(s.rtt_p99_us) / 1000.0, U{s.errors});
}

std::string report_table(const Report& r) {
  const Totals& t = r.totals;
  std::string out;
  auto row = [&out](const char* name, const std::string& value) { out += format("  %-42s %s\n", name, value.c_str()); };
  out += format("volley-bots: %s bots, engine %s, behavior %s, %.1f s%s against %s\n", std::to_string(t.bots).c_str(),
                r.info.engine.c_str(), r.info.behavior.c_str(), r.info.elapsed_s,
                r.info.interrupted ? " (interrupted)" : "", r.info.server.c_str());
  // connect_time_s is when the last of them connected: "all" only when all did.
  const std::string when = t.connected == 0 ? std::string()
                           : format(" (%s connected after %.2f s)", t.connected == t.bots ? "all" : "the last",
                                    t.connect_time_s);
  row("connected / failed / dropped",
      format("%llu / %llu / %llu%s", U{t.connected}, U{t.failed}, U{t.dropped}, when.c_str()));
  if (t.churn_leaves != 0) row("churn: left / rejoined", format("%llu / %llu", U{t.churn_leaves}, U{t.churn_rejoins}));
  if (r.info.behavior == "echo") {
    const EchoCounts& e = t.echo;
    row("reliable sent / received", format("%llu / %llu", U{e.reliable_sent}, U{e.reliable_received}));
    row("reliable lost / duplicated / out of order",
        format("%llu / %llu / %llu", U{e.reliable_lost}, U{e.reliable_duplicated}, U{e.reliable_out_of_order}));
    row("unreliable sent / received / reordered",
        format("%llu / %llu / %llu", U{e.unreliable_sent}, U{e.unreliable_received}, U{e.unreliable_reordered}));
    row("corrupt echoes", format("%llu", U{e.corrupt}));
  } else {
    row("snapshots received / applied", format("%llu / %llu", U{t.snapshots_received}, U{t.snapshots_applied}));
    row("dropped: old / corrupt / no baseline", format("%llu / %llu / %llu", U{t.snapshots_dropped_old},
                                                       U{t.snapshots_dropped_corrupt}, U{t.snapshots_dropped_no_baseline}));
    row("frame regressions", format("%llu", U{t.game.frame_regressions}));
    if (t.game.sessions_without_snapshots != 0)
      row("sessions without a snapshot", format("%llu (is the server in --mode demo?)", U{t.game.sessions_without_snapshots}));
    row("events shown / shown twice", format("%llu / %llu", U{t.game.events_shown}, U{t.game.events_duplicated}));
    row("chat sent / shown / missed", format("%llu / %llu / %llu", U{t.chat_sent}, U{t.chat_shown}, U{t.chat_missed}));
    row("inputs sent", format("%llu", U{t.inputs_sent}));
  }
  row(r.info.behavior == "echo" ? "RTT p50 / p99 / max (echo)" : "RTT p50 / p99 / max (transport)",
      format("%.3f / %.3f / %.3f ms", static_cast<double>(r.rtt.percentile(50)) / 1000.0,
             static_cast<double>(r.rtt.percentile(99)) / 1000.0, static_cast<double>(r.rtt.max()) / 1000.0));
  row("bytes per bot per second in / out", format("%.0f / %.0f", per_bot_s(t.bytes_in, t.bot_seconds),
                                                   per_bot_s(t.bytes_out, t.bot_seconds)));
  row("packets in / out", format("%llu / %llu (send errors %llu)", U{t.packets_in}, U{t.packets_out}, U{t.send_errors}));
  row("volley-bots CPU user / sys", format("%.2f / %.2f s", r.info.cpu_user_s, r.info.cpu_sys_s));
  row("result", r.ok() ? std::string("ok") : format("FAILED: %llu violations, %llu of %llu connected",
                                                     U{t.violations()}, U{t.connected}, U{t.bots}));
  return out;
}

std::string report_json(const Report& r) {
  const Totals& t = r.totals;
  const EchoCounts& e = t.echo;
  support::JsonWriter j;
  j.begin_object()
      .field("tool", "volley-bots")
      .field("engine", r.info.engine)
      .field("behavior", r.info.behavior)
      .field("server", r.info.server)
      .field("bots", t.bots)
      .field("sockets", r.info.sockets)
      .number("seconds", r.info.elapsed_s)
      .field("interrupted", r.info.interrupted)
      .number("rate_hz", r.info.rate_hz)
      .number("ramp_per_s", r.info.ramp_per_s)
      .number("churn_per_s", r.info.churn_per_s)
      .field("connected", t.connected)
      .field("failed", t.failed)
      .field("dropped", t.dropped)
      .number("connect_time_s", t.connect_time_s)
      .field("churn_leaves", t.churn_leaves)
      .field("churn_rejoins", t.churn_rejoins)
      .field("reliable_sent", e.reliable_sent)
      .field("reliable_received", e.reliable_received)
      .field("reliable_lost", e.reliable_lost)
      .field("reliable_duplicated", e.reliable_duplicated)
      .field("reliable_out_of_order", e.reliable_out_of_order)
      .field("unreliable_sent", e.unreliable_sent)
      .field("unreliable_received", e.unreliable_received)
      .field("unreliable_reordered", e.unreliable_reordered)
      .field("echo_corrupt", e.corrupt)
      .field("snapshots_received", t.snapshots_received)
      .field("snapshots_applied", t.snapshots_applied)
      .field("snapshots_dropped_old", t.snapshots_dropped_old)
      .field("snapshots_dropped_corrupt", t.snapshots_dropped_corrupt)
      .field("snapshots_dropped_no_baseline", t.snapshots_dropped_no_baseline)
      .field("frame_regressions", t.game.frame_regressions)
      .field("events_shown", t.game.events_shown)
      .field("events_duplicated", t.game.events_duplicated)
      .field("events_unchecked", t.game.events_unchecked)
      .field("sessions_without_snapshots", t.game.sessions_without_snapshots)
      .field("inputs_sent", t.inputs_sent)
      .field("chat_sent", t.chat_sent)
      .field("chat_shown", t.chat_shown)
      .field("chat_missed", t.chat_missed)
      .field("rtt_samples", r.rtt.count())
      .field("rtt_p50_us", static_cast<std::uint64_t>(r.rtt.percentile(50)))
      .field("rtt_p99_us", static_cast<std::uint64_t>(r.rtt.percentile(99)))
      .field("rtt_max_us", static_cast<std::uint64_t>(r.rtt.max()))
      .number("bytes_in_per_bot_s", per_bot_s(t.bytes_in, t.bot_seconds), "%.1f")
      .number("bytes_out_per_bot_s", per_bot_s(t.bytes_out, t.bot_seconds), "%.1f")
      .field("packets_in", t.packets_in)
      .field("packets_out", t.packets_out)
      .field("bytes_in", t.bytes_in)
      .field("bytes_out", t.bytes_out)
      .field("send_errors", t.send_errors)
      .number("bot_seconds", t.bot_seconds)
      .number("cpu_user_s", r.info.cpu_user_s)
      .number("cpu_sys_s", r.info.cpu_sys_s)
      .field("violations", t.violations())
      .field("ok", r.ok())
      .end_object();
  return j.str() + "\n";
}

}  // namespace volley::bots
