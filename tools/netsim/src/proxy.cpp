// See proxy.hpp. Both Links are seeded from --seed (up and down differently), so for the same
// order of arriving datagrams a seed reproduces the same fate for each.
#include "proxy.hpp"

#include <algorithm>
#include <cstdio>

namespace volley::netsim {
namespace {

// splitmix64: two well-separated seeds from one.
std::uint64_t mix(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + stream * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr TimePoint kSweepEvery = kSecond;

}  // namespace

Proxy::Proxy(engine::Loop& loop, const NetsimOptions& options)
    : loop_(loop),
      options_(options),
      upstream_(options.upstream.unmapped()),
      upstream_bind_(upstream_.family() == engine::AddressFamily::kIpv4 ? engine::Address::any_v4(0)
                                                                         : engine::Address::any_v6(0)),
      up_(options.up, mix(options.seed, 1)),
      down_(options.down, mix(options.seed, 2)) {
  loop_.set_handler([this](std::span<const engine::DatagramView> batch) { on_datagrams(batch); });
  sweeper_ = loop_.schedule(loop_.time() + kSweepEvery, [this] { sweep(); });
}

Proxy::~Proxy() { shutdown(); }

void Proxy::shutdown() {
  loop_.set_handler(nullptr);
  if (delivery_) loop_.cancel(delivery_);
  if (sweeper_) loop_.cancel(sweeper_);
  delivery_ = sweeper_ = engine::TimerId{};
  for (Client& c : clients_) {
    if (c.live) loop_.close_socket(c.upstream);
    c.live = false;
  }
  by_address_.clear();
  by_socket_.clear();
}

std::uint32_t* Proxy::client_for(const engine::Address& from, TimePoint now) {
  if (const auto it = by_address_.find(from); it != by_address_.end()) {
    clients_[it->second].last_seen = now;
    return &it->second;
  }
  if (by_address_.size() >= options_.max_clients) {
    ++counters_.clients_refused;
    return nullptr;
  }
  const auto socket = loop_.open_socket(upstream_bind_, &scratch_error_);
  if (!socket) {
    ++counters_.clients_refused;
    if (counters_.clients_refused == 1) {
      std::fprintf(stderr, "volley-netsim: cannot open an upstream socket: %s\n", scratch_error_.c_str());
    }
    return nullptr;
  }
  std::uint32_t index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(clients_.size());
    clients_.emplace_back();
  }
  Client& c = clients_[index];
  c.address = from;
  c.upstream = *socket;
  c.last_seen = now;
  c.generation += 1;
  c.live = true;
  c.up_next_order = c.down_next_order = 0;
  by_socket_[*socket] = index;
  ++counters_.clients_created;
  const auto [it, inserted] = by_address_.emplace(from, index);
  counters_.clients_peak = std::max<std::uint64_t>(counters_.clients_peak, by_address_.size());
  return &it->second;
}

void Proxy::on_datagrams(std::span<const engine::DatagramView> batch) {
  const TimePoint now = loop_.time();
  for (const engine::DatagramView& d : batch) {
    if (d.socket == engine::kPrimarySocket) {
      counters_.up.received += 1;
      counters_.up.bytes_received += d.bytes.size();
      const engine::Address from = d.from.unmapped();
      const std::uint32_t* index = client_for(from, now);
      if (index == nullptr) {
        counters_.up.refused += 1;
        continue;
      }
      up_.send(now, d.bytes, tag_of(*index, clients_[*index].generation));
      continue;
    }
    const auto it = by_socket_.find(d.socket);
    if (it == by_socket_.end()) continue;  // closing: the loop already stopped its delivery
    if (!(d.from.unmapped() == upstream_)) {
      ++counters_.stray;
      continue;
    }
    counters_.down.received += 1;
    counters_.down.bytes_received += d.bytes.size();
    Client& c = clients_[it->second];
    c.last_seen = now;
    down_.send(now, d.bytes, tag_of(it->second, c.generation));
  }
  pump();
}

// Sends everything due and keeps one timer at the earliest delivery still held.
void Proxy::pump() {
  const TimePoint now = loop_.time();
  out_.clear();
  std::vector<InFlight> up_due = up_.take_due(now);
  std::vector<InFlight> down_due = down_.take_due(now);
  for (const InFlight& f : up_due) forward(f, true);
  for (const InFlight& f : down_due) forward(f, false);
  if (!out_.empty()) loop_.send(out_);  // copies the bytes: up_due/down_due may go now
  out_.clear();

  std::optional<TimePoint> next = up_.next_delivery();
  if (const auto d = down_.next_delivery(); d && (!next || *d < *next)) next = d;
  if (!next) return;
  if (delivery_ && delivery_at_ == *next) return;
  delivery_at_ = *next;
  if (delivery_ && loop_.reschedule(delivery_, *next)) return;
  delivery_ = loop_.schedule(*next, [this] {
    delivery_ = engine::TimerId{};
    pump();
  });
}

void Proxy::forward(const InFlight& f, bool up) {
  ProxyCounters::Direction& counters = up ? counters_.up : counters_.down;
  Client& c = clients_[static_cast<std::uint32_t>(f.tag)];
  if (!c.live || c.generation != static_cast<std::uint32_t>(f.tag >> 32)) {
    ++counters.client_gone;
    return;
  }
  std::uint64_t& next_order = up ? c.up_next_order : c.down_next_order;
  if (f.order < next_order) {
    ++counters.out_of_order;
  } else {
    next_order = f.order + 1;
  }
  out_.push_back(up ? engine::OutDatagram{f.bytes, upstream_, c.upstream}
                    : engine::OutDatagram{f.bytes, c.address, engine::kPrimarySocket});
}

// Once a second: forget client addresses silent (both ways) for the idle timeout.
void Proxy::sweep() {
  const TimePoint now = loop_.time();
  const auto idle = static_cast<TimePoint>(options_.idle_timeout_s * 1e6);
  for (std::uint32_t i = 0; i < clients_.size(); ++i) {
    Client& c = clients_[i];
    if (!c.live || now - c.last_seen < idle) continue;
    loop_.close_socket(c.upstream);
    by_socket_.erase(c.upstream);
    by_address_.erase(c.address);
    c.live = false;
    free_.push_back(i);
    ++counters_.clients_expired;
  }
  sweeper_ = loop_.schedule(now + kSweepEvery, [this] { sweep(); });
}

}  // namespace volley::netsim
