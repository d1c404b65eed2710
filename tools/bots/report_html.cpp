// The HTML report: one self-contained page (no scripts, no external files) with the totals and
// four inline SVG plots: the RTT histogram, and connected bots, packets per second and RTT
// percentiles over time (one point per second).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "report.hpp"

namespace volley::bots {
namespace {

constexpr double kWidth = 720, kHeight = 260, kLeft = 70, kRight = 20, kTop = 34, kBottom = 42;

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// A short tick label: 1.5k, 2M, 0.25.
std::string label(double v) {
  char b[32];
  const double a = std::fabs(v);
  if (a >= 1e6) std::snprintf(b, sizeof b, "%gM", v / 1e6);
  else if (a >= 1e4) std::snprintf(b, sizeof b, "%gk", v / 1e3);
  else std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// A "nice" step (1, 2 or 5 x 10^k) for about `ticks` intervals over [0, top].
double nice_step(double top, int ticks) {
  if (top <= 0) return 1;
  const double raw = top / ticks;
  const double p = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

struct Series {
  std::string name, color;
  std::vector<double> y;
};

std::string frame(const std::string& title, const std::string& x_title, const std::string& y_title) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) +
                  "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kWidth / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" + escape(title) + "</text>\n";
  s += "<text x=\"" + num(kLeft + (kWidth - kLeft - kRight) / 2) + "\" y=\"" + num(kHeight - 6) +
       "\" text-anchor=\"middle\">" + escape(x_title) + "</text>\n";
  s += "<text transform=\"translate(14," + num(kTop + (kHeight - kTop - kBottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + escape(y_title) + "</text>\n";
  return s;
}

// Horizontal grid lines and y labels over [0, top]; returns the top actually used.
double y_axis(std::string& s, double top) {
  const double step = nice_step(top, 5);
  const double used = std::max(step, std::ceil(top / step) * step);
  const double h = kHeight - kTop - kBottom;
  for (double v = 0; v <= used + step / 2; v += step) {
    const double y = kTop + h - v / used * h;
    s += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kWidth - kRight) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
         "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" + label(v) + "</text>\n";
  }
  return used;
}

std::string line_chart(const std::string& title, const std::string& y_title, const std::vector<double>& x,
                       const std::vector<Series>& series) {
  std::string s = frame(title, "seconds", y_title);
  double top = 0;
  for (const Series& se : series) {
    for (double v : se.y) top = std::max(top, v);
  }
  const double y_top = y_axis(s, top > 0 ? top * 1.05 : 1);
  const double x_max = x.empty() ? 1 : std::max(1.0, x.back());
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  const double x_step = nice_step(x_max, 8);
  for (double v = 0; v <= x_max + 1e-9; v += x_step) {
    const double px = kLeft + v / x_max * w;
    s += "<line x1=\"" + num(px) + "\" x2=\"" + num(px) + "\" y1=\"" + num(kTop + h) + "\" y2=\"" + num(kTop + h + 4) +
         "\" stroke=\"#444\"/>\n<text x=\"" + num(px) + "\" y=\"" + num(kTop + h + 16) + "\" text-anchor=\"middle\">" +
         label(v) + "</text>\n";
  }
  s += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kWidth - kRight) + "\" y1=\"" + num(kTop + h) + "\" y2=\"" +
       num(kTop + h) + "\" stroke=\"#444\"/>\n";
  double legend_x = kLeft + 8;
  for (const Series& se : series) {
    std::string points;
    for (std::size_t i = 0; i < se.y.size() && i < x.size(); ++i) {
      points += num(kLeft + x[i] / x_max * w) + "," + num(kTop + h - se.y[i] / y_top * h) + " ";
    }
    s += "<polyline fill=\"none\" stroke=\"" + se.color + "\" stroke-width=\"1.6\" points=\"" + points + "\"/>\n";
    s += "<rect x=\"" + num(legend_x) + "\" y=\"" + num(kTop + 2) + "\" width=\"12\" height=\"3\" fill=\"" + se.color +
         "\"/><text x=\"" + num(legend_x + 16) + "\" y=\"" + num(kTop + 7) + "\">" + escape(se.name) + "</text>\n";
    legend_x += 24 + 7 * static_cast<double>(se.name.size());
  }
  return s + "</svg>\n";
}

// Bars on a log10 time axis: the histogram's buckets regrouped into at most 60 bins.
std::string rtt_histogram(const LatencyHistogram& rtt) {
  std::string s = frame("RTT histogram (" + std::to_string(rtt.count()) + " samples)", "round-trip time (log scale)",
                        "samples");
  const std::vector<LatencyHistogram::Bucket> buckets = rtt.buckets();
  if (buckets.empty()) {
    return s + "<text x=\"" + num(kWidth / 2) + "\" y=\"" + num(kHeight / 2) + "\" text-anchor=\"middle\">no samples</text></svg>\n";
  }
  const double lo = std::log10(std::max<double>(1, static_cast<double>(buckets.front().lower_us)));
  const double hi = std::max(lo + 0.5, std::log10(static_cast<double>(buckets.back().upper_us) + 1));
  constexpr int kBins = 60;
  std::vector<double> bins(kBins, 0);
  for (const auto& b : buckets) {
    const double mid = std::log10(std::max(1.0, (static_cast<double>(b.lower_us) + static_cast<double>(b.upper_us)) / 2));
    const int i = std::clamp(static_cast<int>((mid - lo) / (hi - lo) * kBins), 0, kBins - 1);
    bins[static_cast<std::size_t>(i)] += static_cast<double>(b.count);
  }
  const double y_top = y_axis(s, *std::max_element(bins.begin(), bins.end()) * 1.05);
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  for (int i = 0; i < kBins; ++i) {
    const double bh = bins[static_cast<std::size_t>(i)] / y_top * h;
    s += "<rect x=\"" + num(kLeft + i * w / kBins + 0.5) + "\" y=\"" + num(kTop + h - bh) + "\" width=\"" +
         num(w / kBins - 1) + "\" height=\"" + num(bh) + "\" fill=\"#3b7dd8\"/>\n";
  }
  // Ticks at 1, 2 and 5 x 10^k µs (only the decades when the range is wide).
  const bool wide = hi - lo > 2.5;
  for (double d = std::floor(lo); d <= hi; d += 1) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (wide && m != 1.0) continue;
      const double v = d + std::log10(m);
      if (v < lo || v > hi) continue;
      const double px = kLeft + (v - lo) / (hi - lo) * w;
      const double us = m * std::pow(10, d);
      const std::string text = us >= 1e6 ? label(us / 1e6) + " s" : us >= 1e3 ? label(us / 1e3) + " ms" : label(us) + " µs";
      s += "<line x1=\"" + num(px) + "\" x2=\"" + num(px) + "\" y1=\"" + num(kTop + h) + "\" y2=\"" + num(kTop + h + 4) +
           "\" stroke=\"#444\"/>\n<text x=\"" + num(px) + "\" y=\"" + num(kTop + h + 16) + "\" text-anchor=\"middle\">" +
           text + "</text>\n";
    }
  }
  for (const auto& [p, color] : {std::pair{50.0, "#2a2"}, std::pair{99.0, "#d22"}}) {
    const double v = std::log10(std::max<double>(1, static_cast<double>(rtt.percentile(p))));
    const double px = kLeft + std::clamp((v - lo) / (hi - lo), 0.0, 1.0) * w;
    s += "<line x1=\"" + num(px) + "\" x2=\"" + num(px) + "\" y1=\"" + num(kTop) + "\" y2=\"" + num(kTop + h) +
         "\" stroke=\"" + color + "\" stroke-dasharray=\"4 3\"/><text x=\"" + num(px + 3) + "\" y=\"" + num(kTop + 10) +
         "\" fill=\"" + color + "\">p" + label(p) + "</text>\n";
  }
  return s + "</svg>\n";
}

}  // namespace

std::string report_html(const Report& r) {
  std::vector<double> x;
  Series connected{"connected bots", "#3b7dd8", {}}, in{"in", "#2a2", {}}, out{"out", "#d80", {}};
  Series p50{"p50", "#2a2", {}}, p99{"p99", "#d22", {}};
  for (const Sample& s : r.series) {
    x.push_back(s.t_s);
    connected.y.push_back(static_cast<double>(s.connected));
    in.y.push_back(s.pps_in);
    out.y.push_back(s.pps_out);
    p50.y.push_back(static_cast<double>(s.rtt_p50_us) / 1000.0);
    p99.y.push_back(static_cast<double>(s.rtt_p99_us) / 1000.0);
  }
  std::string table = report_table(r);
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>volley-bots report</title>\n"
                  "<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px}"
                  "svg{display:block;margin:12px 0;border:1px solid #ccc}</style></head><body>\n";
  h += "<h1>volley-bots: " + escape(r.ok() ? "ok" : "FAILED") + "</h1>\n<pre>" + escape(table) + "</pre>\n";
  h += rtt_histogram(r.rtt);
  h += line_chart("Connected bots", "bots", x, {connected});
  h += line_chart("Application packets per second (all bots)", "packets/s", x, {in, out});
  h += line_chart(r.info.behavior == "echo" ? "Echo RTT per second" : "Transport RTT per second", "ms", x, {p50, p99});
  h += "</body></html>\n";
  return h;
}

}  // namespace volley::bots
