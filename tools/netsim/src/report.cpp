// See report.hpp. One list of (name, up, down) rows feeds both outputs, so the table and the
// JSON can never disagree.
#include "report.hpp"

#include <cstdio>
#include <utility>
#include <vector>

#include "volley/support/json_writer.hpp"

namespace volley::netsim {
namespace {

struct Row {
  const char* name;
  std::uint64_t up;
  std::uint64_t down;
};

std::vector<Row> rows(const Proxy& proxy) {
  const LinkStats& u = proxy.up().stats();
  const LinkStats& d = proxy.down().stats();
  const ProxyCounters& c = proxy.counters();
  // Forwarded: handed to the socket (delivered by the model, minus those whose client expired).
  return {
      {"received", c.up.received, c.down.received},
      {"bytes_received", c.up.bytes_received, c.down.bytes_received},
      {"forwarded", u.delivered - c.up.client_gone, d.delivered - c.down.client_gone},
      {"bytes_forwarded", u.bytes_delivered, d.bytes_delivered},
      {"lost", u.lost, d.lost},
      {"burst_lost", u.burst_lost, d.burst_lost},
      {"duplicated", u.duplicated, d.duplicated},
      {"reordered", u.reordered, d.reordered},
      {"out_of_order", c.up.out_of_order, c.down.out_of_order},
      {"rate_dropped", u.rate_dropped, d.rate_dropped},
      {"queue_full", u.queue_full, d.queue_full},
      {"oversize", u.oversize, d.oversize},
      {"refused", c.up.refused, c.down.refused},
      {"client_gone", c.up.client_gone, c.down.client_gone},
      {"held_at_end", proxy.up().in_flight(), proxy.down().in_flight()},
  };
}

}  // namespace

std::string report_table(const Proxy& proxy, const RunFacts& facts) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof(line), "volley-netsim: %.1f s, seed %llu, backend %s\n", facts.seconds,
                static_cast<unsigned long long>(facts.seed), facts.backend.c_str());
  out += line;
  std::snprintf(line, sizeof(line), "%-16s %14s %14s\n", "", "up (c->s)", "down (s->c)");
  out += line;
  for (const Row& r : rows(proxy)) {
    std::snprintf(line, sizeof(line), "%-16s %14llu %14llu\n", r.name, static_cast<unsigned long long>(r.up),
                  static_cast<unsigned long long>(r.down));
    out += line;
  }
  const ProxyCounters& c = proxy.counters();
  std::snprintf(line, sizeof(line),
                "clients: %llu created, %llu expired, %llu refused, peak %llu; stray %llu; "
                "send dropped %llu, errors %llu\n",
                static_cast<unsigned long long>(c.clients_created), static_cast<unsigned long long>(c.clients_expired),
                static_cast<unsigned long long>(c.clients_refused), static_cast<unsigned long long>(c.clients_peak),
                static_cast<unsigned long long>(c.stray), static_cast<unsigned long long>(facts.send_dropped),
                static_cast<unsigned long long>(facts.send_errors));
  out += line;
  return out;
}

std::string report_json(const Proxy& proxy, const RunFacts& facts) {
  support::JsonWriter json(support::JsonWriter::Layout::kIndented);
  json.begin_object();
  for (const Row& r : rows(proxy)) {
    json.field(std::string("up_") + r.name, r.up);
    json.field(std::string("down_") + r.name, r.down);
  }
  const ProxyCounters& c = proxy.counters();
  json.field("clients_created", c.clients_created)
      .field("clients_expired", c.clients_expired)
      .field("clients_refused", c.clients_refused)
      .field("clients_peak", c.clients_peak)
      .field("stray", c.stray)
      .field("send_dropped", facts.send_dropped)
      .field("send_errors", facts.send_errors)
      .field("seed", facts.seed)
      .number("seconds", facts.seconds, "%.3f")
      .field("backend", facts.backend);
  json.end_object();
  return json.str() + "\n";
}

}  // namespace volley::netsim
