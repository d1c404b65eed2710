// volley-flood (docs/attacks.md): forged CONNECTs or garbage at a paced rate from sockets bound
// to random 127.0.0.0/8 addresses and ports, each replaced after --rotate datagrams, never
// reading what the server answers. Garbage can also ride real connections (--sessions): each
// completes a genuine handshake with a client-role protocol Peer and keeps it alive, and part of
// the garbage goes out under its peer id and session so it reaches the server's Peer decoder.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "connect_forge.hpp"
#include "forged_sources.hpp"
#include "mutator.hpp"
#include "options.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/support/json_writer.hpp"

namespace {

using namespace volley;
using namespace volley::attack;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 64;
constexpr std::size_t kSlot = 4096;

sockaddr_in to_sockaddr(std::uint32_t ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(port);
  return a;
}

struct Totals {
  std::uint64_t sent = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t would_block = 0;
  std::uint64_t sources_used = 0;
  std::uint64_t bind_failures = 0;
  std::array<std::uint64_t, kMutationCount> by_mutation{};
  std::uint64_t sessions_connected = 0;
  std::uint64_t sessions_lost = 0;
  std::uint64_t session_datagrams = 0;
};

// A socket bound to a forged source and connected to the server.
int open_forged(ForgedSources& sources, const sockaddr_in& server, Totals& t) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int small = 4096;  // the server's answers are never read; keep them cheap
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    const Source s = sources.next();
    const sockaddr_in local = to_sockaddr(s.ip, s.port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) == 0 &&
        ::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof(server)) == 0) {
      t.sources_used += 1;
      return fd;
    }
    t.bind_failures += 1;
    ::close(fd);
  }
  return -1;
}

// Sends `sizes.size()` datagrams from `slots` on `fd`; returns how many went.
std::size_t send_batch(int fd, std::array<std::uint8_t, kBatch * kSlot>& slots, const std::vector<std::size_t>& sizes,
                       Totals& t) {
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    iov[i] = {slots.data() + i * kSlot, sizes[i]};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(sizes.size()), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      t.would_block += 1;
    } else {
      t.send_errors += 1;
    }
    return 0;
  }
  t.sent += static_cast<std::uint64_t>(n);
  return static_cast<std::size_t>(n);
}

// A real connection kept alive by a client-role Peer, through which garbage is sent.
struct Session {
  int fd = -1;
  std::unique_ptr<protocol::Peer> peer;
  bool connected = false;
  SessionBits bits = 0;
};

void open_session(Session& s, std::uint16_t index, ForgedSources& sources, const sockaddr_in& server, Rng& rng,
                  protocol::TimePoint now, Totals& t) {
  if (s.fd >= 0) ::close(s.fd);
  s.fd = open_forged(sources, server, t);
  s.connected = false;
  s.peer = std::make_unique<protocol::Peer>(protocol::PeerRole::kClient, index);
  const auto id = static_cast<std::uint32_t>(rng.next());
  s.peer->connect(now, 2, 0,
                  {static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8),
                   static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 24)});
}

void service_session(Session& s, std::uint16_t index, ForgedSources& sources, const sockaddr_in& server, Rng& rng,
                     protocol::TimePoint now, Totals& t) {
  if (s.fd < 0) return open_session(s, index, sources, server, rng, now, t);
  std::array<std::uint8_t, kSlot> buf{};
  for (int i = 0; i < 32; ++i) {
    const ssize_t n = ::recv(s.fd, buf.data(), buf.size(), 0);
    if (n < 0) break;
    s.peer->on_datagram(now, Bytes(buf.data(), static_cast<std::size_t>(n)));
  }
  s.peer->on_deadline(now);
  while (auto event = s.peer->poll_event()) {
    if (event->type == protocol::PeerEvent::Type::kConnect) {
      s.connected = true;
      s.bits = static_cast<SessionBits>(s.peer->outgoing_peer_id() | (s.peer->outgoing_session_id() & 3) << 12);
      t.sessions_connected += 1;
    } else if (event->type == protocol::PeerEvent::Type::kDisconnect) {
      if (s.connected) t.sessions_lost += 1;
      return open_session(s, index, sources, server, rng, now, t);
    }
  }
  while (const std::size_t n = s.peer->poll_datagram(now, buf)) {
    if (::send(s.fd, buf.data(), n, 0) < 0) t.send_errors += 1;
  }
}

std::vector<Mutator::Datagram> load_corpus(const std::string& dir, std::string& error) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().filename().string().starts_with("seed-")) paths.push_back(entry.path());
  }
  // Directory order is not fixed; the mutator's stream for a given --seed should be.
  std::sort(paths.begin(), paths.end());
  std::vector<Mutator::Datagram> seeds;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    Mutator::Datagram d((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (d.size() >= 2 && d.size() <= protocol::kMaxMtu) seeds.push_back(std::move(d));
  }
  if (ec) error = "--corpus: cannot read '" + dir + "'";
  else if (seeds.empty()) error = "--corpus: no seed-* datagrams in '" + dir + "'";
  return seeds;
}

double cpu_seconds(bool user) {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const timeval& tv = user ? u.ru_utime : u.ru_stime;
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  const Parsed parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.help.empty()) {
    std::cout << parsed.help;
    return 0;
  }
  if (!parsed.error.empty()) {
    std::cerr << "volley-flood: " << parsed.error << "\n";
    return 2;
  }
  const Options& o = parsed.options;
  std::unique_ptr<Mutator> mutator;
  if (o.mode == FloodMode::kGarbage) {
    std::string error;
    auto seeds = load_corpus(o.corpus, error);
    if (!error.empty()) {
      std::cerr << "volley-flood: " << error << "\n";
      return 2;
    }
    mutator = std::make_unique<Mutator>(o.seed, std::move(seeds));
  }
  const sockaddr_in server = to_sockaddr(o.server_ip, o.server_port);
  ForgedSources sources(o.seed * 0x9E3779B97F4A7C15ull + 1);
  Rng rng(o.seed + 7);
  Totals t;

  struct Forged {
    int fd = -1;
    std::uint32_t sent = 0;
  };
  std::vector<Forged> pool(o.sources);
  for (Forged& f : pool) f.fd = open_forged(sources, server, t);
  if (std::any_of(pool.begin(), pool.end(), [](const Forged& f) { return f.fd < 0; })) {
    std::cerr << "volley-flood: cannot bind sockets in 127.0.0.0/8\n";
    return 1;
  }
  std::vector<Session> sessions(o.mode == FloodMode::kGarbage ? o.sessions : 0);

  static std::array<std::uint8_t, kBatch * kSlot> slots{};
  std::vector<std::size_t> sizes;
  sizes.reserve(kBatch);
  const auto start = Clock::now();
  const auto micros = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  };
  const auto end_us = static_cast<std::int64_t>(o.seconds * 1e6);
  std::size_t cursor = 0;
  std::int64_t next_session_service = 0;
  for (std::int64_t now = micros(); now < end_us; now = micros()) {
    const protocol::TimePoint peer_now = volley::kSecond + now;
    if (!sessions.empty() && now >= next_session_service) {
      next_session_service = now + 1000;
      for (std::size_t i = 0; i < sessions.size(); ++i) {
        service_session(sessions[i], static_cast<std::uint16_t>(i), sources, server, rng, peer_now, t);
      }
    }
    std::size_t due = kBatch;
    if (o.rate > 0) {
      const double owed = o.rate * static_cast<double>(now) * 1e-6 - static_cast<double>(t.sent);
      if (owed < 1) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      due = std::min<std::size_t>(kBatch, static_cast<std::size_t>(owed));
    }
    // The socket this batch leaves from: a live session's (then the garbage carries its header)
    // or the next forged one.
    Session* through = nullptr;
    if (!sessions.empty() && rng.chance(o.session_share)) {
      Session& s = sessions[rng.between(0, static_cast<std::uint32_t>(sessions.size() - 1))];
      if (s.connected) through = &s;
    }
    Forged& f = pool[cursor++ % pool.size()];
    if (through != nullptr) {
      due = std::min<std::size_t>(due, 8);
    } else {
      due = std::min<std::size_t>(due, o.rotate - f.sent);  // --rotate: no source sends more
    }
    sizes.clear();
    for (std::size_t i = 0; i < due; ++i) {
      const MutableBytes slot(slots.data() + i * kSlot, kSlot);
      if (mutator) {
        const std::optional<SessionBits> bits = through ? std::optional<SessionBits>(through->bits) : std::nullopt;
        const Mutator::Made made = mutator->next(slot, bits);
        t.by_mutation[static_cast<std::size_t>(made.kind)] += 1;
        sizes.push_back(made.size);
      } else {
        sizes.push_back(forge_connect(rng, slot));
      }
    }
    if (through != nullptr) {
      t.session_datagrams += send_batch(through->fd, slots, sizes, t);
      continue;
    }
    f.sent += static_cast<std::uint32_t>(send_batch(f.fd, slots, sizes, t));
    if (f.sent >= o.rotate) {
      ::close(f.fd);
      f = {open_forged(sources, server, t), 0};
      if (f.fd < 0) {
        std::cerr << "volley-flood: cannot bind sockets in 127.0.0.0/8\n";
        return 1;
      }
    }
  }
  const double elapsed = static_cast<double>(micros()) * 1e-6;
  for (Forged& f : pool) ::close(f.fd);
  for (Session& s : sessions) {
    if (s.fd >= 0) ::close(s.fd);
  }

  support::JsonWriter json(support::JsonWriter::Layout::kIndented);
  json.begin_object()
      .field("tool", "volley-flood")
      .field("mode", o.mode == FloodMode::kGarbage ? "garbage" : "connect")
      .field("server", o.server)
      .number("seconds", elapsed, "%.3f")
      .number("rate_target", o.rate, "%.0f")
      .field("sent", t.sent)
      .number("achieved_rate", static_cast<double>(t.sent) / elapsed, "%.0f")
      .field("send_errors", t.send_errors)
      .field("would_block", t.would_block)
      .field("sources_used", t.sources_used)
      .field("bind_failures", t.bind_failures);
  for (std::size_t i = 0; i < kMutationCount && mutator; ++i) {
    json.field("mutation_" + std::string(mutation_name(static_cast<Mutation>(i))), t.by_mutation[i]);
  }
  if (o.mode == FloodMode::kGarbage) {
    json.field("sessions", std::uint64_t{o.sessions})
        .field("sessions_connected", t.sessions_connected)
        .field("sessions_lost", t.sessions_lost)
        .field("session_datagrams", t.session_datagrams);
  }
  json.number("cpu_user_s", cpu_seconds(true), "%.3f").number("cpu_sys_s", cpu_seconds(false), "%.3f").end_object();
  std::printf("volley-flood %s: %llu datagrams in %.1f s = %.0f/s, %llu forged sources opened, %llu send errors\n",
              o.mode == FloodMode::kGarbage ? "garbage" : "connect", static_cast<unsigned long long>(t.sent), elapsed,
              static_cast<double>(t.sent) / elapsed, static_cast<unsigned long long>(t.sources_used),
              static_cast<unsigned long long>(t.send_errors));
  if (!o.report_json.empty()) {
    std::ofstream out(o.report_json, std::ios::trunc);
    out << json.str() << "\n";
    if (!out.flush()) {
      std::cerr << "volley-flood: cannot write '" << o.report_json << "'\n";
      return 1;
    }
  }
  return 0;
}
