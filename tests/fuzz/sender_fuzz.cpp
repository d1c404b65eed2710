// Fuzz target: the server's snapshot sender (sans-IO) driven by a script the fuzzer chooses,
// with up to four game clients, each a snapshot::Receiver behind a packet queue the script
// delivers with drops, duplicates and reordering. The script adds and removes clients, runs
// ticks (the world's entities spawn, move and despawn; events are raised, some over the size
// limit; now and then a frame breaks the codec's rules), sends honest inputs (the Receiver's own
// acknowledgement) and forged ones (raw bytes, or an acknowledgement of any frame), calls
// acknowledge() directly, sets view filters and the stride, and feeds stale handles.
// Invariants: packets go only to current clients and stay within the byte budget; a client whose
// every acknowledgement was honest applies every packet it gets or drops it as old (never a
// missing baseline, a bad checksum or a corrupt packet); every event it shows was raised after
// it joined, and it shows each once; pending events stay within the codec's window; and at the
// end, with every client gone, a few ticks leave no pending event and only the frame history.
// VOLLEY_FUZZ_TRACE=1 in the environment: each script ends with a line of what it reached.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "fuzz_target.hpp"
#include "snapshot_sender.hpp"
#include "volley/snapshot/receiver.hpp"
#include "volley/snapshot/session.hpp"

namespace {

using namespace volley;
using server::SenderConfig;
using server::SnapshotSender;
using snapshot::Frame;

constexpr std::size_t kClients = 4;
constexpr std::size_t kMaxEntities = 48;
constexpr std::size_t kMaxInFlight = 16;  // packets queued towards one client (oldest dropped)
constexpr std::size_t kMaxOps = 200;
constexpr std::array<snapshot::FieldWidth, 4> kFields{-16, -16, 12, 9};

snapshot::Schema make_schema() {
  snapshot::Schema schema;
  schema.add_type(kFields);
  return schema;
}

const snapshot::Schema& schema() {
  static const snapshot::Schema s = make_schema();
  return s;
}

struct Entity {
  std::uint32_t id;
  std::array<std::int32_t, 4> v;
};

struct Client {
  Client(PeerHandle p, std::size_t history, std::uint64_t first)
      : peer(p), rx(schema(), {}, snapshot::ReceiverConfig{history, 4096}), first_event(first) {}
  PeerHandle peer;
  snapshot::Receiver rx;
  std::uint64_t first_event;  // the first event id raised after it joined
  std::deque<std::vector<std::uint8_t>> in_flight;
  bool honest = true;  // every acknowledgement the sender got for it was the Receiver's own
  std::set<std::uint64_t> shown;
};

class Script {
 public:
  explicit Script(fuzz::Reader& in) : in_(in), sender_(schema(), config_from(in.u8())) {}

  void run() {
    for (std::size_t op = 0; op < kMaxOps && !in_.empty(); ++op) {
      step(in_.u8() % 8);
      check();
    }
    finish();
  }

 private:
  SenderConfig config_from(std::uint8_t mode) {
    static constexpr std::size_t kBudgets[] = {0, 200, 600, 1200};
    SenderConfig c;
    c.history = (mode & 1) != 0 ? 4 : 32;
    c.budget_bytes = kBudgets[(mode >> 1) & 3];
    c.share_encodings = (mode & 8) == 0;
    c.event_max_age = (mode & 16) != 0 ? 5 : 90;
    if ((mode & 32) != 0) {
      c.tick_hz = 30;
      c.max_inputs_per_second = 60;
      c.input_burst = 4;
    }
    if ((mode & 64) != 0) c.codec.max_events = 8;
    history_ = c.history;
    budget_ = c.budget_bytes;
    max_events_ = c.codec.max_events;
    return c;
  }

  void step(std::uint8_t op) {
    const std::size_t k = in_.u8() % kClients;
    switch (op) {
      case 0: add(k); break;
      case 1: remove(k); break;
      case 2: tick(); break;
      case 3: deliver(k); break;
      case 4: honest_input(k); break;
      case 5: forged_input(k); break;
      case 6: {
        const PeerHandle h = handle(k);
        const std::uint32_t frame = pick_frame(k);
        if (clients_[k] && clients_[k]->peer == h) note_ack(*clients_[k], frame);
        sender_.acknowledge(h, frame);
        break;
      }
      default: view(k); break;
    }
  }

  PeerHandle handle(std::size_t k) {
    // Mostly the client's own handle; sometimes a stale generation or an index never used.
    const std::uint8_t how = in_.u8();
    if ((how & 0xC0) == 0xC0) return PeerHandle{static_cast<std::uint32_t>(k + kClients * (how & 1)), generation_[k] + 1};
    if ((how & 0xC0) == 0x80) return PeerHandle{static_cast<std::uint32_t>(k), generation_[k] - 1};
    return PeerHandle{static_cast<std::uint32_t>(k), generation_[k]};
  }

  void add(std::size_t k) {
    if (clients_[k]) return;
    ++generation_[k];
    clients_[k] = std::make_unique<Client>(PeerHandle{static_cast<std::uint32_t>(k), generation_[k]}, history_,
                                           last_event_ + 1);
    sender_.add_client(clients_[k]->peer);
  }

  void remove(std::size_t k) {
    const PeerHandle h = handle(k);
    sender_.remove_client(h);
    if (clients_[k] && clients_[k]->peer == h) clients_[k].reset();
  }

  // Mutations of the world, then events, then the packets.
  void tick() {
    Frame& frame = sender_.begin_tick();
    const std::size_t changes = in_.u8() % 6;
    for (std::size_t i = 0; i < changes; ++i) mutate();
    const std::uint8_t shape = in_.u8();
    const bool broken = (shape & 0xF0) == 0xF0;
    for (const Entity& e : world_) frame.add(e.id, 0, e.v);
    if (broken) {
      // Ids out of order, or a value wider than its field: the encoder refuses the frame.
      const std::array<std::int32_t, 4> wide{0, 0, 5000, 0};
      if ((shape & 1) != 0 && !world_.empty()) frame.add(world_.front().id, 0, world_.front().v);
      else frame.add(next_id_ + 1000, 0, wide);
    }
    for (std::size_t i = 0; i < (shape & 3); ++i) {
      const std::size_t size = in_.u8() + ((shape & 4) != 0 ? 100 : 0);  // sometimes over 255
      std::vector<std::uint8_t> payload(size, static_cast<std::uint8_t>(size));
      const std::uint64_t id = sender_.raise_event(in_.u8(), payload);
      if (size > snapshot::kMaxEventPayload) VOLLEY_FUZZ_CHECK(id == 0);
      if (id != 0) {
        VOLLEY_FUZZ_CHECK(id > last_event_);
        last_event_ = id;
      }
    }
    sender_.end_tick([&](PeerHandle peer, std::span<const std::uint8_t> bytes) {
      VOLLEY_FUZZ_CHECK(peer.index < kClients && clients_[peer.index] && clients_[peer.index]->peer == peer);
      VOLLEY_FUZZ_CHECK(budget_ == 0 || bytes.size() <= budget_);
      auto& queue = clients_[peer.index]->in_flight;
      if (queue.size() == kMaxInFlight) queue.pop_front();
      queue.emplace_back(bytes.begin(), bytes.end());
    });
  }

  void mutate() {
    const std::uint8_t what = in_.u8();
    if (world_.empty() || ((what & 3) == 0 && world_.size() < kMaxEntities)) {
      next_id_ += 1 + what % 3;
      world_.push_back({next_id_, {in_.u8() * 100 - 12800, in_.u8() * 100 - 12800, in_.u8() * 16, in_.u8() * 2}});
      return;
    }
    Entity& e = world_[in_.u8() % world_.size()];
    if ((what & 3) == 1) {
      world_.erase(world_.begin() + (&e - world_.data()));
      return;
    }
    const std::size_t field = (what >> 2) % 4;
    const int delta = static_cast<std::int8_t>(in_.u8());
    static constexpr std::int32_t kLow[] = {-32768, -32768, 0, 0};
    static constexpr std::int32_t kHigh[] = {32767, 32767, 4095, 511};
    e.v[field] = std::clamp(e.v[field] + delta * ((what & 0x80) != 0 ? 300 : 1), kLow[field], kHigh[field]);
  }

  // The client's queued packets, each dropped, duplicated or kept, in order or reversed.
  void deliver(std::size_t k) {
    const std::uint8_t how = in_.u8();
    if (!clients_[k]) return;
    Client& c = *clients_[k];
    std::vector<std::vector<std::uint8_t>> packets(c.in_flight.begin(), c.in_flight.end());
    c.in_flight.clear();
    if ((how & 1) != 0) std::reverse(packets.begin(), packets.end());
    std::vector<snapshot::Event> events;
    for (std::size_t i = 0; i < packets.size(); ++i) {
      const std::uint8_t fate = (how & 2) != 0 ? in_.u8() : 0;
      if ((fate & 3) == 1) continue;  // lost
      for (int copy = 0; copy < ((fate & 3) == 2 ? 2 : 1); ++copy) {
        events.clear();
        const auto result = c.rx.receive(packets[i], events);
        applied_ += result == snapshot::ReceiveResult::kApplied ? 1 : 0;
        shown_ += events.size();
        if (c.honest) {
          VOLLEY_FUZZ_CHECK(result == snapshot::ReceiveResult::kApplied || result == snapshot::ReceiveResult::kOld);
        }
        for (const auto& e : events) {
          VOLLEY_FUZZ_CHECK(e.id >= c.first_event && e.id <= last_event_);
          VOLLEY_FUZZ_CHECK(c.shown.insert(e.id).second);
        }
      }
    }
  }

  void honest_input(std::size_t k) {
    const std::size_t game = in_.u8();
    if (!clients_[k]) return;
    Client& c = *clients_[k];
    std::array<std::uint8_t, snapshot::kInputHeaderBytes + 255> buf{};
    std::vector<std::uint8_t> bytes(game, 7);
    const std::size_t n = snapshot::encode_input(c.rx.ack(), bytes, buf);
    VOLLEY_FUZZ_CHECK(n != 0);
    const auto limited = sender_.counters().inputs_rate_limited;
    const auto input = sender_.on_input(c.peer, std::span(buf.data(), n));
    VOLLEY_FUZZ_CHECK(input.has_value() || sender_.counters().inputs_rate_limited == limited + 1);
    if (input) VOLLEY_FUZZ_CHECK(input->ack == c.rx.ack() && input->bytes.size() == game);
  }

  void forged_input(std::size_t k) {
    const std::uint8_t how = in_.u8();
    const PeerHandle h = handle(k);
    std::array<std::uint8_t, snapshot::kInputHeaderBytes + 255> buf{};
    std::span<const std::uint8_t> message;
    if ((how & 1) != 0) {
      message = in_.bytes(in_.u8());
    } else {
      std::optional<std::uint32_t> ack;
      if ((how & 2) != 0) ack = pick_frame(k);
      message = std::span(buf.data(), snapshot::encode_input(ack, in_.bytes(in_.u8()), buf));
    }
    // What the sender will take as this client's acknowledgement, if it reads the message.
    const auto decoded = snapshot::decode_input(message);
    const bool known = clients_[k] && clients_[k]->peer == h;
    if (known && decoded && decoded->ack) note_ack(*clients_[k], *decoded->ack);
    const auto unknown = sender_.counters().inputs_unknown_peer;
    const auto input = sender_.on_input(h, message);
    // Not a client's: dropped unread and counted, whatever the bytes.
    if (!known) VOLLEY_FUZZ_CHECK(!input && sender_.counters().inputs_unknown_peer == unknown + 1);
  }

  // A frame number near what the sender and the client know, or any.
  std::uint32_t pick_frame(std::size_t k) {
    const std::uint8_t how = in_.u8();
    const std::uint32_t now = sender_.frame_number();
    switch (how & 3) {
      case 0: return now - (how >> 2) % 8;
      case 1: return clients_[k] && clients_[k]->rx.ack() ? *clients_[k]->rx.ack() + (how >> 2) % 4 - 1 : now;
      case 2: return now + 1 + (how >> 2);
      default: return in_.u32();
    }
  }

  // An acknowledgement the Receiver did not make: the sender may delta against a frame the client
  // does not hold, which the client then rightly rejects.
  void note_ack(Client& c, std::uint32_t frame) {
    if (c.rx.ack() != frame) c.honest = false;
  }

  void view(std::size_t k) {
    const std::uint8_t how = in_.u8();
    switch (how & 3) {
      case 0: sender_.set_filter(handle(k), {}); break;
      case 1: {
        const std::uint32_t m = 2 + (how >> 2) % 4;
        const std::uint32_t r = (how >> 4) % m;
        sender_.set_filter(handle(k), [m, r](std::uint32_t id, std::uint16_t) { return id % m != r; });
        break;
      }
      case 2: sender_.set_filter(handle(k), [](std::uint32_t, std::uint16_t) { return false; }); break;
      default: sender_.set_stride((how >> 2) % 4); break;
    }
  }

  void check() {
    std::size_t present = 0;
    for (const auto& c : clients_) present += c ? 1 : 0;
    VOLLEY_FUZZ_CHECK(sender_.clients() == present);
    const auto& counters = sender_.counters();
    VOLLEY_FUZZ_CHECK(counters.events_pending <= max_events_);
    // The history, and per client its trimmed frames and views: bounded, whatever the script.
    VOLLEY_FUZZ_CHECK(counters.frames_pooled <= 4 * (history_ + 2) * (kClients + 1));
  }

  void finish() {
    if (std::getenv("VOLLEY_FUZZ_TRACE") != nullptr) {
      const auto& c = sender_.counters();
      std::fprintf(stderr,
                   "trace: frames=%llu full=%llu delta=%llu trimmed=%llu skipped=%llu encode_failed=%llu "
                   "events=%llu applied=%zu shown=%zu acks_stale=%llu acks_unknown=%llu malformed=%llu\n",
                   (unsigned long long)c.frames, (unsigned long long)c.snapshots_full,
                   (unsigned long long)c.snapshots_delta, (unsigned long long)c.budget_trimmed,
                   (unsigned long long)c.budget_skipped, (unsigned long long)c.encode_failed,
                   (unsigned long long)c.events_raised, applied_, shown_, (unsigned long long)c.acks_stale,
                   (unsigned long long)c.acks_unknown, (unsigned long long)c.inputs_malformed);
    }
    for (std::size_t k = 0; k < kClients; ++k) {
      if (clients_[k]) sender_.remove_client(clients_[k]->peer);
      clients_[k].reset();
    }
    for (std::size_t i = 0; i < 3; ++i) {
      sender_.begin_tick();
      sender_.end_tick([](PeerHandle, std::span<const std::uint8_t>) { VOLLEY_FUZZ_CHECK(false); });
    }
    check();
    VOLLEY_FUZZ_CHECK(sender_.clients() == 0);
    VOLLEY_FUZZ_CHECK(sender_.counters().events_pending == 0);
  }

  fuzz::Reader& in_;
  std::size_t history_ = 32;
  std::size_t budget_ = 0;
  std::size_t max_events_ = 0;
  SnapshotSender sender_;
  std::array<std::unique_ptr<Client>, kClients> clients_;
  std::array<std::uint32_t, kClients> generation_{1, 1, 1, 1};
  std::vector<Entity> world_;
  std::uint32_t next_id_ = 0;
  std::uint64_t last_event_ = 0;
  std::size_t applied_ = 0;  // packets the clients applied (for the trace)
  std::size_t shown_ = 0;    // events they showed
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return volley::fuzz::run_script<Script>(data, size);
}
