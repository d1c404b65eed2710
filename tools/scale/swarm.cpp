// volley-swarm: thousands of ENet clients in one process without libenet: client-role
// volley::protocol::Peer state machines over volley::engine::Loop sockets. A peer id is only
// 12 bits and unique per socket, so the swarm opens ceil(N / --peers-per-socket) sockets, one
// Loop and one thread each (a "shard"); shards share nothing but atomic progress counters.
// Each peer: paced CONNECT (--connect-rate), then --round-trips reliable packets, one at a time,
// each checked against what was sent (channel, delivery, index, sequence). When every peer has
// finished (or failed), all stay connected for --idle seconds, then disconnect gracefully.
// With --server-pid the server's CPU and memory are sampled from /proc at the phase edges.
// Exit 0 only if every peer connected, finished its round trips and was never dropped.
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "scale_common.hpp"
#include "volley/engine/loop.hpp"
#include "volley/protocol/peer.hpp"

namespace volley::tools {
namespace {

namespace engine = volley::engine;
namespace protocol = volley::protocol;

constexpr const char* kTool = "volley-swarm";

struct Options {
  engine::Address server;
  std::size_t peers = 1000;
  std::size_t peers_per_socket = 4000;  // < 4095: ids 0..4094 (0xFFF means "none")
  double connect_rate = 5000;           // peers per second, all sockets together
  std::uint32_t round_trips = 1;
  std::size_t size = 32;
  std::uint32_t channels = 2;
  double idle = 0;
  double seconds = 120;  // hard bound on the whole run
  long server_pid = 0;
  std::string report_json;
};

Options parse(int argc, char** argv) {
  Options o;
  FlagReader r(kTool, argc, argv);
  while (r.next()) {
    if (r.flag() == "--server") {
      std::string host;
      std::uint16_t port = 0;
      std::optional<engine::Address> a;
      if (split_host_port(r.text(), host, port)) a = engine::Address::from_ip(host, port);
      if (!a) usage_error(kTool, "--server wants a numeric HOST:PORT, got '" + r.text() + "'");
      o.server = *a;
    } else if (r.flag() == "--peers") o.peers = r.integer<std::size_t>(1, 1'000'000);
    else if (r.flag() == "--peers-per-socket") o.peers_per_socket = r.integer<std::size_t>(1, protocol::kMaxPeerId);
    else if (r.flag() == "--connect-rate") o.connect_rate = r.number(1, 1e7);
    else if (r.flag() == "--round-trips") o.round_trips = r.integer<std::uint32_t>(0, 1'000'000);
    else if (r.flag() == "--size") o.size = r.integer<std::size_t>(8, 1 << 20);
    else if (r.flag() == "--channels") o.channels = r.integer<std::uint32_t>(1, protocol::kMaxChannelCount);
    else if (r.flag() == "--idle") o.idle = r.number(0, 1e5);
    else if (r.flag() == "--seconds") o.seconds = r.number(1, 1e5);
    else if (r.flag() == "--server-pid") o.server_pid = r.integer<long>(1, 1L << 30);
    else if (r.flag() == "--report-json") o.report_json = r.text();
    else r.unknown();
  }
  if (o.server.empty()) usage_error(kTool, "--server HOST:PORT is required");
  return o;
}

// Progress counters every shard adds to; the main thread watches them to change phases.
struct Progress {
  std::atomic<std::uint64_t> connected{0}, finished{0}, failed{0}, refused{0}, dropped{0};
  std::atomic<std::uint64_t> gone{0}, clean{0}, bad_echoes{0}, round_trips{0};
  std::atomic<std::int64_t> first_connect_us{INT64_MAX}, last_connect_us{0}, last_finish_us{0};
};

void atomic_min(std::atomic<std::int64_t>& a, std::int64_t v) {
  std::int64_t prev = a.load();
  while (v < prev && !a.compare_exchange_weak(prev, v)) {
  }
}
void atomic_max(std::atomic<std::int64_t>& a, std::int64_t v) {
  std::int64_t prev = a.load();
  while (v > prev && !a.compare_exchange_weak(prev, v)) {
  }
}

enum class SlotState : std::uint8_t { kIdle, kConnecting, kEchoing, kFinished, kLeaving, kGone };

struct Slot {
  explicit Slot(std::uint16_t id) : peer(protocol::PeerRole::kClient, id) {}
  protocol::Peer peer;
  engine::TimerId timer;
  SlotState state = SlotState::kIdle;
  bool touched = false;       // already in this batch's list of peers to flush
  std::uint32_t seq = 0;      // round trips completed (= sequence of the one in flight)
  engine::TimePoint sent_at = 0;
};

// One socket, one Loop, one thread, up to --peers-per-socket peers with ids 0..n-1.
class Shard {
 public:
  Shard(const Options& o, std::size_t first_index, std::size_t count, Progress& progress)
      : o_(o), first_(first_index), progress_(progress), rng_(static_cast<std::uint32_t>(first_index * 7919 + 1)) {
    slots_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      slots_.emplace_back(static_cast<std::uint16_t>(i));
    }
    payload_.assign(o.size, 0xa5);
  }

  std::string open() {
    engine::LoopConfig c;
    bool v4 = o_.server.family() == engine::AddressFamily::kIpv4;
    c.bind = v4 ? engine::Address::loopback_v4(0) : engine::Address::loopback_v6(0);
    if (o_.server.to_string().rfind(v4 ? "127." : "[::1]", 0) != 0) {
      c.bind = v4 ? engine::Address::any_v4(0) : engine::Address::any_v6(0);
    }
    // Thousands of handshakes land together; let the kernel hold a burst of them.
    c.recv_buffer_bytes = 4 << 20;
    c.send_buffer_bytes = 4 << 20;
    c.max_datagram_bytes = 4096;
    c.on_datagrams = [this](std::span<const engine::DatagramView> batch) { on_batch(batch); };
    auto opened = engine::Loop::open(std::move(c));
    if (!opened) return opened.error;
    loop_ = std::move(opened.loop);
    return {};
  }

  // Runs on this shard's thread until the main thread posts stop().
  void run(engine::TimePoint start) {
    start_ = start;
    pace_timer_ = loop_->schedule(loop_->time(), [this] { pace(); });
    loop_->run();
    loop_->close();
  }
  engine::Loop& loop() { return *loop_; }

  // Posted by the main thread when the idle window ends: every peer leaves gracefully.
  void leave_all() {
    leaving_ = true;
    engine::TimePoint now = loop_->time();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (s.state == SlotState::kGone) continue;
      if (s.state == SlotState::kIdle) {  // never started (hard bound hit): nothing to say
        s.state = SlotState::kGone;
        ++progress_.gone;
        continue;
      }
      s.state = SlotState::kLeaving;
      s.peer.disconnect(kGoodbyeData);
      flush(i, now);
    }
  }

  std::vector<std::uint32_t> take_rtts() { return std::move(rtt_us_); }

 private:
  // Starts as many connects as this shard's share of --connect-rate allows by now.
  void pace() {
    engine::TimePoint now = loop_->time();
    double share = o_.connect_rate * static_cast<double>(slots_.size()) / static_cast<double>(o_.peers);
    auto due = static_cast<std::size_t>(static_cast<double>(now - start_) * 1e-6 * share) + 1;
    while (!leaving_ && started_ < std::min(due, slots_.size())) {
      Slot& s = slots_[started_];
      std::array<std::uint8_t, 4> id{};
      std::uint32_t r = rng_();
      std::memcpy(id.data(), &r, 4);
      s.state = SlotState::kConnecting;
      s.peer.connect(now, o_.channels, static_cast<std::uint32_t>(first_ + started_), id);
      atomic_min(progress_.first_connect_us, now);
      flush(started_, now);
      ++started_;
    }
    if (started_ < slots_.size() && !leaving_) pace_timer_ = loop_->schedule(now + 1000, [this] { pace(); });
  }

  void on_batch(std::span<const engine::DatagramView> batch) {
    engine::TimePoint now = loop_->time();
    for (const engine::DatagramView& d : batch) {
      if (d.bytes.size() < 2) continue;
      // The header's low 12 bits name the receiving peer: our slot index.
      auto id = static_cast<std::size_t>(((d.bytes[0] << 8) | d.bytes[1]) & protocol::kMaxPeerId);
      if (id >= slots_.size()) continue;
      Slot& s = slots_[id];
      s.peer.on_datagram(now, d.bytes);
      if (!s.touched) {
        s.touched = true;
        touched_.push_back(static_cast<std::uint32_t>(id));
      }
    }
    // Events and replies once per batch per peer: acknowledgements of one batch go out together.
    for (std::uint32_t id : touched_) {
      slots_[id].touched = false;
      flush(id, now);
    }
    touched_.clear();
  }

  void on_timer(std::size_t i) {
    Slot& s = slots_[i];
    s.timer = {};
    engine::TimePoint now = loop_->time();
    s.peer.on_deadline(now);
    flush(i, now);
  }

  // Drains events and outgoing datagrams of one peer and re-arms its single timer.
  void flush(std::size_t i, engine::TimePoint now) {
    Slot& s = slots_[i];
    while (auto ev = s.peer.poll_event()) handle(i, *ev, now);
    while (std::size_t n = s.peer.poll_datagram(now, protocol::MutableBytes(buffer_))) {
      loop_->send(engine::OutDatagram{volley::Bytes(buffer_.data(), n), o_.server});
    }
    std::optional<engine::TimePoint> deadline = s.peer.next_deadline();
    if (!deadline) {
      if (s.timer) loop_->cancel(s.timer);
      s.timer = {};
    } else if (!s.timer || !loop_->reschedule(s.timer, *deadline)) {
      s.timer = loop_->schedule(*deadline, [this, i] { on_timer(i); });
    }
  }

  void send_next(Slot& s, std::size_t i, engine::TimePoint now) {
    std::uint32_t header[2] = {static_cast<std::uint32_t>(first_ + i), s.seq};
    std::memcpy(payload_.data(), header, sizeof header);
    s.sent_at = now;
    if (s.peer.send(0, payload_, protocol::PacketFlags::kReliable) != protocol::SendResult::kOk) {
      ++progress_.bad_echoes;
    }
  }

  void finish(Slot& s, engine::TimePoint now) {
    s.state = SlotState::kFinished;
    ++progress_.finished;
    atomic_max(progress_.last_finish_us, now);
  }

  void handle(std::size_t i, const protocol::PeerEvent& ev, engine::TimePoint now) {
    Slot& s = slots_[i];
    using Type = protocol::PeerEvent::Type;
    if (ev.type == Type::kConnect) {
      if (s.state != SlotState::kConnecting) return;
      ++progress_.connected;
      atomic_max(progress_.last_connect_us, now);
      s.state = SlotState::kEchoing;
      if (o_.round_trips == 0) finish(s, now);
      else send_next(s, i, now);
    } else if (ev.type == Type::kReceive) {
      std::uint32_t header[2] = {};
      if (ev.payload.size() >= sizeof header) std::memcpy(header, ev.payload.data(), sizeof header);
      bool good = s.state == SlotState::kEchoing && ev.channel == 0 &&
                  ev.delivery == protocol::Delivery::kReliable && ev.payload.size() == o_.size &&
                  header[0] == first_ + i && header[1] == s.seq;
      if (!good) {
        // Lost, duplicated, reordered or foreign: the echo does not match the one in flight.
        ++progress_.bad_echoes;
        return;
      }
      rtt_us_.push_back(static_cast<std::uint32_t>(std::min<engine::TimePoint>(now - s.sent_at, UINT32_MAX)));
      ++progress_.round_trips;
      if (++s.seq == o_.round_trips) finish(s, now);
      else send_next(s, i, now);
    } else {  // kDisconnect
      SlotState was = s.state;
      if (was == SlotState::kGone) return;
      s.state = SlotState::kGone;
      ++progress_.gone;
      if (was == SlotState::kLeaving && ev.reason == protocol::DisconnectReason::kLocal) {
        ++progress_.clean;
      } else if (was == SlotState::kConnecting) {
        ++progress_.failed;
        if (ev.reason == protocol::DisconnectReason::kRefused) ++progress_.refused;
      } else if (was == SlotState::kEchoing) {
        ++progress_.failed;  // dropped before finishing: it never completed its round trips
        ++progress_.dropped;
      } else if (was == SlotState::kFinished) {
        ++progress_.dropped;
      }
    }
  }

  const Options& o_;
  std::size_t first_;
  Progress& progress_;
  std::mt19937 rng_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> touched_;
  std::vector<std::uint8_t> payload_;
  std::array<std::uint8_t, 4096> buffer_{};
  std::unique_ptr<engine::Loop> loop_;
  engine::TimePoint start_ = 0;
  engine::TimerId pace_timer_;
  std::size_t started_ = 0;
  bool leaving_ = false;
  std::vector<std::uint32_t> rtt_us_;
};

int run(const Options& o) {
  const std::size_t shards_n = (o.peers + o.peers_per_socket - 1) / o.peers_per_socket;
  Progress progress;
  std::vector<std::unique_ptr<Shard>> shards;
  for (std::size_t k = 0; k < shards_n; ++k) {
    // Even split, so no socket carries much more than the others.
    std::size_t first = o.peers * k / shards_n, last = o.peers * (k + 1) / shards_n;
    shards.push_back(std::make_unique<Shard>(o, first, last - first, progress));
    if (std::string err = shards.back()->open(); !err.empty()) {
      std::fprintf(stderr, "%s: cannot open socket: %s\n", kTool, err.c_str());
      return 1;
    }
  }
  const engine::TimePoint start = engine::now();
  const engine::TimePoint hard_end = start + static_cast<engine::TimePoint>(o.seconds * 1e6);
  const double cpu0 = o.server_pid ? proc_cpu_seconds(o.server_pid) : -1;
  std::vector<std::thread> threads;
  for (auto& s : shards) threads.emplace_back([&s, start] { s->run(start); });
  auto wait_for = [&](auto done, engine::TimePoint until) {
    while (!done() && engine::now() < std::min(until, hard_end)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };

  // Phase 1: connects and round trips, until every peer finished or failed.
  std::int64_t last_print = start;
  wait_for([&] {
    if (engine::now() - last_print >= 1'000'000) {
      last_print = engine::now();
      std::fprintf(stderr, "%s: %.1f s connected %llu finished %llu failed %llu\n", kTool,
                   (last_print - start) * 1e-6, static_cast<unsigned long long>(progress.connected.load()),
                   static_cast<unsigned long long>(progress.finished.load()),
                   static_cast<unsigned long long>(progress.failed.load()));
    }
    return progress.finished + progress.failed >= o.peers;
  }, hard_end);
  const engine::TimePoint phase1_end = engine::now();
  const double cpu1 = o.server_pid ? proc_cpu_seconds(o.server_pid) : -1;
  const std::uint64_t hwm1 = o.server_pid ? proc_memory_kib(o.server_pid, "VmHWM:") : 0;
  const std::uint64_t rss1 = o.server_pid ? proc_memory_kib(o.server_pid, "VmRSS:") : 0;
  const std::uint64_t connected_all = progress.connected - progress.dropped;

  // Phase 2: everyone idle and connected for --idle seconds.
  const std::uint64_t dropped_before_idle = progress.dropped;
  wait_for([] { return false; }, phase1_end + static_cast<engine::TimePoint>(o.idle * 1e6));
  const engine::TimePoint idle_end = engine::now();
  const double cpu2 = o.server_pid ? proc_cpu_seconds(o.server_pid) : -1;
  const std::uint64_t dropped_in_idle = progress.dropped - dropped_before_idle;

  // Phase 3: graceful disconnects (bounded: 3 s past the hard end at most), then stop.
  for (auto& s : shards) s->loop().post([p = s.get()] { p->leave_all(); });
  const engine::TimePoint leave_end = std::max(engine::now(), hard_end) + 3'000'000;
  while (progress.gone < o.peers && engine::now() < leave_end) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (auto& s : shards) s->loop().stop();
  for (std::thread& t : threads) t.join();

  std::vector<std::uint32_t> rtt;
  for (auto& s : shards) {
    std::vector<std::uint32_t> part = s->take_rtts();
    rtt.insert(rtt.end(), part.begin(), part.end());
  }
  const std::uint64_t unfinished = o.peers - progress.finished - progress.failed;
  const std::int64_t first = progress.first_connect_us, last = progress.last_connect_us;
  const bool ok = progress.finished == o.peers && progress.failed == 0 && progress.dropped == 0 &&
                  progress.bad_echoes == 0;
  CpuTimes self = process_cpu();
  JsonObject j;
  j.add("tool", std::string_view(kTool));
  j.add("peers", std::uint64_t{o.peers});
  j.add("sockets", std::uint64_t{shards_n});
  j.add("connected", progress.connected.load());
  j.add("connected_at_once", connected_all);
  j.add("failed", progress.failed.load() + unfinished);
  j.add("refused", progress.refused.load());
  j.add("connect_time_s", last > first ? (last - first) * 1e-6 : 0.0);
  j.add("all_done_time_s", progress.last_finish_us > first ? (progress.last_finish_us - first) * 1e-6 : 0.0);
  j.add("round_trips", progress.round_trips.load());
  j.add("bad_echoes", progress.bad_echoes.load());
  j.add("rtt_p50_us", percentile(rtt, 50));
  j.add("rtt_p99_us", percentile(rtt, 99));
  j.add("rtt_max_us", percentile(rtt, 100));
  j.add("dropped", progress.dropped.load());
  j.add("dropped_during_idle", dropped_in_idle);
  j.add("disconnected_clean", progress.clean.load());
  j.add("phase1_s", (phase1_end - start) * 1e-6);
  j.add("idle_s", (idle_end - phase1_end) * 1e-6);
  j.add("server_cpu_connect_s", cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0);
  j.add("server_cpu_idle_s", cpu1 >= 0 && cpu2 >= 0 ? cpu2 - cpu1 : -1.0);
  j.add("server_hwm_kib", hwm1);
  j.add("server_rss_kib", rss1);
  j.add("swarm_cpu_s", self.user_s + self.sys_s);
  j.add("ok", ok);
  std::fputs(j.text().c_str(), stdout);
  bool written = j.write(o.report_json, kTool);
  if (!ok) std::fprintf(stderr, "%s: FAILED (see report: failed/dropped/bad_echoes)\n", kTool);
  return ok && written ? 0 : 1;
}

}  // namespace
}  // namespace volley::tools

int main(int argc, char** argv) {
  return volley::tools::run(volley::tools::parse(argc, argv));
}
