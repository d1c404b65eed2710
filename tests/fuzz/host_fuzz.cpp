// Fuzz target: the sans-IO server Host driven by a script the fuzzer chooses. The input is read
// as a sequence of operations (see Op): raw datagrams and grammar-built ENet datagrams from five
// source addresses (IPv4, a second port on the same IP, another IP, IPv6, and the IPv4-mapped
// form of the first), honest client-role Peers that connect, send and disconnect, exchanges of
// their datagrams with drops, duplicates and bit flips, virtual time advances that fire the
// Host's timers, and the Host's API (send, broadcast, disconnect modes, queries on live and stale
// handles), called between operations and, in echo mode, from inside the Host's callbacks (see
// Script::react). The grammar learns from what the Host sends to each address (the peer id and session
// a VERIFY_CONNECT hands out, the CRC seed, every reliable command to acknowledge with its sent
// time), so forged datagrams get past the handshake and into connected peers.
// Invariants after every operation: peers never exceed the limit, the connect/disconnect events
// agree with the Host's counts, a receive comes only from a connected peer, every datagram the
// Host emits is a sane size, timers stay bounded by the slot table, and at the end a
// disconnect_all followed by two minutes of silence leaves no peer and no timer behind.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "fuzz_target.hpp"
#include "server/host_driver.hpp"
#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"

namespace {

using namespace volley;
using namespace volley::protocol;
using server::Host;
using server::HostConfig;
using server::test::WheelTimers;

constexpr std::size_t kMaxPeers = 6;
constexpr std::size_t kAddresses = 5;
constexpr std::size_t kClients = 4;        // honest clients at addresses 0..3
constexpr std::size_t kMaxPendingOut = 512;  // host output not yet delivered (oldest dropped)
constexpr std::size_t kMaxOps = 256;
constexpr std::size_t kChannelSlots = 6;   // channels 0..3, the peer-level channel, any other

// VOLLEY_FUZZ_TRACE=1 in the environment: each script ends with a line of what it reached and a
// digest of everything the Host did (each datagram with its time and address, each event), so
// two builds of the harness can be shown to drive the Host identically (docs/fuzzing.md).
bool tracing() {
  static const bool on = std::getenv("VOLLEY_FUZZ_TRACE") != nullptr;
  return on;
}

struct Digest {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  void add(const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  void add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) add_byte(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void add_byte(std::uint8_t b) { h = (h ^ b) * 0x100000001b3ull; }
};

const std::array<engine::Address, kAddresses>& addresses() {
  static const std::array<engine::Address, kAddresses> a = {
      *engine::Address::from_ip("10.0.0.1", 1000),
      *engine::Address::from_ip("10.0.0.1", 1001),
      *engine::Address::from_ip("10.0.0.2", 2000),
      *engine::Address::from_ip("2001:db8::1", 3000),
      *engine::Address::from_ip("::ffff:10.0.0.1", 1000),  // address 0 as a dual-stack socket sees it
  };
  return a;
}

std::size_t address_index(const engine::Address& to) {
  const engine::Address plain = to.unmapped();
  for (std::size_t i = 0; i < kAddresses; ++i) {
    if (addresses()[i].unmapped() == plain) return i;
  }
  return kAddresses;
}

// Datagrams held between operations, in fixed slots of static storage that every input reuses: a
// heap block per datagram cost more than the Host's work on it under ASan.
class DatagramRing {
 public:
  static constexpr std::size_t kCapacity = kMaxPendingOut;
  struct Slot {
    std::array<std::uint8_t, kMaxMtu> bytes;
    std::size_t size;
    engine::Address to;
    Bytes view() const { return {bytes.data(), size}; }
  };
  void clear() { head_ = count_ = 0; }
  std::size_t size() const { return count_; }
  // Keeps the newest kCapacity: a full ring drops its oldest datagram.
  Slot& push(Bytes bytes, const engine::Address& to) {
    if (count_ == kCapacity) {
      head_ = (head_ + 1) % kCapacity;
      --count_;
    }
    Slot& slot = slots_[(head_ + count_++) % kCapacity];
    std::memcpy(slot.bytes.data(), bytes.data(), bytes.size());
    slot.size = bytes.size();
    slot.to = to;
    return slot;
  }
  Slot& operator[](std::size_t i) { return slots_[(head_ + i) % kCapacity]; }

 private:
  std::array<Slot, kCapacity> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

// Buffers the script reuses across inputs (static storage; cleared, not reallocated, per input).
struct Scratch {
  DatagramRing host_out;    // the Host's datagrams not yet handed to the clients
  DatagramRing client_out;  // the clients' datagrams of one exchange
  std::array<std::uint8_t, kMaxMtu> datagram;
  std::array<std::uint8_t, kMaxDecompressedBody> body;
  std::array<std::uint8_t, 255 * 40> payload;
  std::vector<engine::DatagramView> batch;
};

Scratch& scratch() {
  static Scratch s;
  return s;
}

struct Ack {
  std::uint8_t channel = 0;
  std::uint16_t sequence = 0;
  std::uint16_t sent_time = 0;
};

// What a client at one address has seen of the Host (an on-path observer: everything sent there).
struct Learned {
  std::uint16_t peer_id = kMaxPeerId;  // the id VERIFY_CONNECT told the client to use
  std::uint8_t session = 0;
  ChecksumSeed seed{};                  // the connectID of the last CONNECT / VERIFY
  std::deque<Ack> acks;                 // reliable commands received, newest last (at most 16)
  std::array<std::uint16_t, kChannelSlots> next_reliable{};
  std::uint16_t next_unreliable = 1;
  std::uint16_t next_group = 1;
};

std::size_t channel_slot(std::uint8_t channel) {
  if (channel < 4) return channel;
  return channel == kPeerLevelChannel ? 4 : 5;
}

enum class Op : std::uint8_t {
  kRaw,           // arbitrary bytes from an address
  kForged,        // grammar-built datagram from an address
  kClientConnect,
  kClientSend,
  kClientDisconnect,
  kExchange,      // clients' datagrams to the Host, the Host's to the clients
  kAdvance,       // virtual time (deadline by deadline, or one late wake-up)
  kHostApi,
  kCount
};

class Script final : public server::HostEvents {
 public:
  explicit Script(fuzz::Reader& in) : in_(in), timers_(now_, [this](std::uint32_t slot) { host_->on_timer(now_, slot); }) {
    const std::uint8_t mode = in_.u8();
    config_.max_peers = kMaxPeers;
    config_.peer.checksum = (mode & 1) != 0;
    config_.peer.compress = (mode & 2) != 0;
    config_.per_ip_cap = (mode & 4) != 0 ? 2 : 0;
    config_.fast_refusal = (mode & 8) == 0;
    echo_ = (mode & 16) != 0;
    // Both keepalive rules (the server's default is kWhenSilent); tied to the echo bit so the
    // committed corpus keeps its meaning.
    config_.peer.keepalive = echo_ ? KeepalivePolicy::kWhenSilent : KeepalivePolicy::kLibenet;
    // Tables sized for six slots and five addresses (the defaults cost 1.5 MiB of zeroed memory
    // per Host, most of an execution), small enough that eviction and shared per-IP budgets happen.
    config_.handshake.half_open_entries = (mode & 32) != 0 ? 2 : 16;
    config_.handshake.reply_buckets = (mode & 64) != 0 ? 1 : 64;
    if ((mode & 128) != 0) {  // tight reply budgets: the global and per-IP limits refuse
      config_.handshake.replies = {20, 4};
      config_.handshake.replies_per_ip = {4, 2};
    }
    pending_out_.clear();
    client_config_.checksum = config_.peer.checksum;
    client_config_.compress = config_.peer.compress;
    host_.emplace(config_, timers_, [this](std::span<const engine::OutDatagram> out) { sink(out); }, this);
  }

  void run() {
    for (std::size_t ops = 0; ops < kMaxOps && !in_.empty(); ++ops) {
      emitted_this_op_ = 0;
      step(static_cast<Op>(in_.u8() % static_cast<std::uint8_t>(Op::kCount)));
      check();
    }
    finish();
  }

  // --- HostEvents ----------------------------------------------------------------------------
  void on_connect(PeerHandle peer, std::uint32_t data) override {
    VOLLEY_FUZZ_CHECK(std::find(connected_.begin(), connected_.end(), peer) == connected_.end());
    VOLLEY_FUZZ_CHECK(host_->peer(peer) != nullptr && host_->address(peer) != nullptr);
    connected_.push_back(peer);
    if (seen_.size() < 64) seen_.push_back(peer);
    if (tracing()) trace_event(1, peer);
    // A game greets the newcomer and tells everyone else, or turns it away at once (the connect
    // data chooses): packets that came with the handshake must then not be delivered.
    if (!echo_) return;
    if ((data & 1) != 0) host_->send(peer, 0, payload(data >> 8 & 0xFF, 0x11), PacketFlags::kReliable);
    if ((data & 2) != 0) host_->broadcast(0, payload(8, 0x22), PacketFlags::kReliable);
    if ((data & 0x70000) == 0x70000 && host_->disconnect(peer, data, server::DisconnectMode::kNow)) {
      connected_.erase(std::remove(connected_.begin(), connected_.end(), peer), connected_.end());
    }
  }
  void on_receive(PeerHandle peer, const PeerEvent& event) override {
    VOLLEY_FUZZ_CHECK(std::find(connected_.begin(), connected_.end(), peer) != connected_.end());
    if (tracing()) {
      trace_event(2, peer);
      digest_.add(event.bytes().data(), event.bytes().size());
    }
    if (!echo_) return;
    react(peer, event);
  }
  void on_disconnect(PeerHandle peer, DisconnectReason reason, std::uint32_t) override {
    if (tracing()) trace_event(3 + static_cast<std::uint64_t>(reason), peer);
    connected_.erase(std::remove(connected_.begin(), connected_.end(), peer), connected_.end());
    // The others hear that a player left, from inside the event.
    if (echo_ && (peer.index & 1) != 0) host_->broadcast(1, payload(4, 0x33), PacketFlags::kUnreliable);
  }

 private:
  // What the app does with a packet, chosen by its first byte's top three bits: echo it to the
  // sender (half of the values, as before these reactions existed), or, from inside the
  // callback, send it to another peer, broadcast it, disconnect a peer (itself included) in any
  // mode, or answer and then disconnect. Sends to peers the pass has already served put them back
  // on its list; a disconnect_now removes a peer while its own events are being delivered.
  void react(PeerHandle peer, const PeerEvent& event) {
    PacketFlags flags = PacketFlags::kUnreliable;
    if (event.delivery == Delivery::kReliable) flags = PacketFlags::kReliable;
    if (event.delivery == Delivery::kUnsequenced) flags = PacketFlags::kUnsequenced;
    const Bytes bytes = event.bytes();
    const std::uint8_t first = bytes.empty() ? 0 : bytes[0];
    const std::uint8_t second = bytes.size() < 2 ? 0 : bytes[1];
    const PeerHandle other = connected_.empty() ? peer : connected_[second % connected_.size()];
    switch (first >> 5) {
      case 4: host_->send(other, event.channel, bytes, flags); break;
      case 5: host_->broadcast(event.channel, bytes, flags); break;
      case 6: {
        static constexpr server::DisconnectMode kModes[] = {
            server::DisconnectMode::kNormal, server::DisconnectMode::kLater, server::DisconnectMode::kNow,
            server::DisconnectMode::kNow};
        const server::DisconnectMode mode = kModes[first & 3];
        if (host_->disconnect(other, first, mode) && mode == server::DisconnectMode::kNow) {
          connected_.erase(std::remove(connected_.begin(), connected_.end(), other), connected_.end());
        }
        break;
      }
      case 7:
        host_->send(peer, event.channel, bytes, flags);
        host_->disconnect(peer, second, (first & 1) != 0 ? server::DisconnectMode::kLater
                                                         : server::DisconnectMode::kNormal);
        break;
      default: host_->send(peer, event.channel, bytes, flags); break;
    }
  }


  void trace_event(std::uint64_t what, PeerHandle peer) {
    digest_.add(what);
    digest_.add(static_cast<std::uint64_t>(now_));
    digest_.add(peer.index);
    digest_.add(peer.generation);
  }

  void sink(std::span<const engine::OutDatagram> out) {
    for (const auto& d : out) {
      VOLLEY_FUZZ_CHECK(d.bytes.size() >= 2 && d.bytes.size() <= kMaxMtu);
      const std::size_t a = address_index(d.to);
      VOLLEY_FUZZ_CHECK(a < kAddresses);  // the Host only answers addresses that sent to it
      if (tracing()) {
        digest_.add(static_cast<std::uint64_t>(now_));
        digest_.add(a);
        digest_.add(d.bytes.data(), d.bytes.size());
      }
      learn(a == 4 ? 0 : a, d.bytes);
      pending_out_.push(d.bytes, d.to);
      ++emitted_this_op_;
    }
  }

  void learn(std::size_t a, Bytes bytes) {
    const OpenOptions options{config_.peer.checksum, config_.peer.compress};
    auto& body_scratch = scratch().body;
    // The client checks the CRC with its own seed; the observer takes the datagram as it is.
    const auto header = decode_header(bytes, options.checksum);
    VOLLEY_FUZZ_CHECK(header.ok());
    const auto body = open_body(*header.value, options.compression, body_scratch);
    VOLLEY_FUZZ_CHECK(body.ok());
    Learned& l = learned_[a];
    CommandReader reader(*body.value, false);
    Command c;
    while (reader.next(c)) {
      if (const auto* v = std::get_if<VerifyConnect>(&c.body)) {
        l.peer_id = v->params.outgoing_peer_id;
        l.session = v->params.outgoing_session_id;
        l.seed = v->params.connect_id;
      }
      if (c.header.acknowledge && header.value->header.sent_time) {
        if (l.acks.size() == 16) l.acks.pop_front();
        l.acks.push_back({c.header.channel, c.header.reliable_sequence, *header.value->header.sent_time});
      }
    }
    // What the Host sends must decode cleanly (a client would drop it otherwise).
    VOLLEY_FUZZ_CHECK(!reader.error());
  }

  void step(Op op) {
    switch (op) {
      case Op::kRaw: {
        const std::size_t a = in_.u8() % kAddresses;
        const auto bytes = in_.bytes(in_.u8());
        deliver_to_host({bytes, addresses()[a]});
        break;
      }
      case Op::kForged: forged(); break;
      case Op::kClientConnect: {
        const std::size_t c = in_.u8() % kClients;
        const std::uint32_t channels = 1 + in_.u8() % 8;
        const std::uint32_t data = in_.u32();
        if (clients_[c] && clients_[c]->peer.state() != PeerState::kDisconnected) break;
        clients_[c].emplace(addresses()[c], 0, client_config_);
        const std::uint32_t id = in_.u32();
        clients_[c]->peer.connect(now_, channels, data,
                                  {static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8),
                                   static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 24)});
        break;
      }
      case Op::kClientSend: {
        auto& client = clients_[in_.u8() % kClients];
        const std::uint8_t channel = in_.u8() % 8;
        const std::uint8_t kind = in_.u8();
        const std::size_t size = (kind & 0x80) != 0 ? std::size_t{in_.u8()} * 32 : in_.u8();
        static constexpr PacketFlags kFlags[] = {PacketFlags::kReliable, PacketFlags::kUnreliable,
                                                 PacketFlags::kUnsequenced, PacketFlags::kUnreliableFragment};
        if (!client) break;
        client->peer.send(channel, payload(size, kind), kFlags[kind % 4]);
        break;
      }
      case Op::kClientDisconnect: {
        auto& client = clients_[in_.u8() % kClients];
        const std::uint8_t how = in_.u8();
        if (!client) break;
        switch (how % 4) {
          case 0: client->peer.disconnect(how); break;
          case 1: client->peer.disconnect_later(how); break;
          case 2: client->peer.disconnect_now(how); break;
          default: client->peer.reset(); break;
        }
        break;
      }
      case Op::kExchange: exchange(); break;
      case Op::kAdvance: {
        static constexpr TimePoint kSteps[] = {1, 7, 30, 100, 250, 1000, 5000, 31000};
        const std::uint8_t step = in_.u8();
        advance(kSteps[step % 8] * kMillisecond, (step & 8) != 0);
        break;
      }
      case Op::kHostApi: host_api(); break;
      case Op::kCount: break;
    }
  }

  // `size` bytes of `fill` (the payload of a send) in the scratch buffer.
  Bytes payload(std::size_t size, std::uint8_t fill) {
    auto& p = scratch().payload;
    VOLLEY_FUZZ_CHECK(size <= p.size());
    std::memset(p.data(), fill, size);
    return {p.data(), size};
  }

  void deliver_to_host(engine::DatagramView one) {
    auto& batch = scratch().batch;
    batch.assign(1, one);
    deliver_to_host(batch);
  }

  void deliver_to_host(std::span<const engine::DatagramView> batch) {
    for (std::size_t i = 0; i < batch.size(); i += 64) {
      const std::size_t n = std::min<std::size_t>(64, batch.size() - i);
      host_->on_datagrams(now_, std::span(batch).subspan(i, n));
    }
  }

  PeerHandle pick_handle() {
    const std::uint8_t how = in_.u8();
    if ((how & 0x80) == 0 && !connected_.empty()) return connected_[how % connected_.size()];
    if ((how & 0x40) == 0 && !seen_.empty()) return seen_[how % seen_.size()];
    return {static_cast<std::uint32_t>(how % 16), static_cast<std::uint32_t>(in_.u8() % 4)};
  }

  void host_api() {
    const std::uint8_t what = in_.u8();
    switch (what % 7) {
      case 0: {
        const PeerHandle h = pick_handle();
        const std::uint8_t channel = in_.u8();
        const std::size_t size = std::size_t{in_.u8()} * ((what & 0x80) != 0 ? 40 : 1);
        static constexpr PacketFlags kFlags[] = {PacketFlags::kReliable, PacketFlags::kUnreliable,
                                                 PacketFlags::kUnsequenced, PacketFlags::kUnreliableFragment};
        host_->send(h, channel % 10, payload(size, what), kFlags[(what >> 3) % 4]);
        break;
      }
      case 1: {
        const Bytes bytes = payload(in_.u8(), what);
        host_->broadcast(in_.u8() % 10, bytes, (what & 0x80) != 0 ? PacketFlags::kReliable : PacketFlags::kUnreliable);
        break;
      }
      case 2: {
        const PeerHandle h = pick_handle();
        static constexpr server::DisconnectMode kModes[] = {
            server::DisconnectMode::kNormal, server::DisconnectMode::kLater, server::DisconnectMode::kNow};
        const server::DisconnectMode mode = kModes[(what >> 3) % 3];
        // disconnect_now raises no event (as in libenet): the peer is gone when it returns.
        if (host_->disconnect(h, in_.u8(), mode) && mode == server::DisconnectMode::kNow) {
          connected_.erase(std::remove(connected_.begin(), connected_.end(), h), connected_.end());
        }
        break;
      }
      case 3: host_->disconnect_all(what); break;
      case 4: host_->set_accepting((what & 0x80) == 0); break;
      case 5: host_->flush(now_); break;
      default: {
        const PeerHandle h = pick_handle();
        const Peer* p = host_->peer(h);
        VOLLEY_FUZZ_CHECK((p != nullptr) == (host_->address(h) != nullptr));
        if (std::find(connected_.begin(), connected_.end(), h) != connected_.end()) VOLLEY_FUZZ_CHECK(p != nullptr);
        break;
      }
    }
    host_->flush(now_);
  }

  void exchange() {
    const std::uint8_t how = in_.u8();
    const std::uint16_t flip_at = in_.u16();
    const std::uint8_t flip = in_.u8();
    DatagramRing& up = scratch().client_out;
    up.clear();
    auto& buf = scratch().datagram;
    for (std::size_t c = 0; c < kClients; ++c) {
      if (!clients_[c]) continue;
      for (int i = 0; i < 64; ++i) {
        const std::size_t n = clients_[c]->peer.poll_datagram(now_, buf);
        if (n == 0) break;
        up.push({buf.data(), n}, addresses()[c == 0 && (how & 16) != 0 ? 4 : c]);
      }
    }
    if ((how & 8) != 0 && up.size() != 0) {
      auto& victim = up[flip_at % up.size()];
      victim.bytes[(flip_at >> 4) % victim.size] ^= flip == 0 ? 1 : flip;
    }
    if ((how & 1) == 0) {
      auto& batch = scratch().batch;
      batch.clear();
      for (std::size_t i = 0; i < up.size(); ++i) {
        batch.push_back({up[i].view(), up[i].to});
        if ((how & 4) != 0) batch.push_back({up[i].view(), up[i].to});
      }
      deliver_to_host(batch);
    }
    const std::size_t down = pending_out_.size();
    if ((how & 2) == 0) {
      for (std::size_t i = 0; i < down; ++i) {
        const std::size_t a = address_index(pending_out_[i].to);
        const std::size_t c = a == 4 ? 0 : a;
        if (c < kClients && clients_[c]) clients_[c]->peer.on_datagram(now_, pending_out_[i].view());
      }
    }
    // Only the Host adds to the ring, and the clients do not call it.
    VOLLEY_FUZZ_CHECK(pending_out_.size() == down);
    pending_out_.clear();
    if ((how & 2) != 0) return;
    drain_clients();
  }

  void drain_clients() {
    for (auto& c : clients_) {
      if (!c) continue;
      for (int i = 0; i < 4096; ++i) {
        if (!c->peer.poll_event()) break;
      }
    }
  }

  // Steps the clock from deadline to deadline up to `target`, firing what is due at each. Once
  // an instant has been fired, a deadline at or before it is not a reason to fire it again: a
  // client with output waiting reports `last_now` until the next exchange polls it, and the loop
  // used to spin on that instant up to its cap (2.1 M of the corpus's 2.2 M steps), then jump
  // over every deadline before `target`. A second fire_due at one instant changes nothing (the
  // wheel is drained, on_deadline at the same time is idempotent).
  // `late`: a stalled server loop that wakes once at `target` and fires everything due by then.
  void advance(TimePoint by, bool late = false) {
    const TimePoint target = now_ + by;
    for (int i = 0; i < 512 && !late; ++i) {
      std::optional<TimePoint> next = timers_.next();
      for (auto& c : clients_) {
        if (!c) continue;
        auto d = c->peer.next_deadline();
        if (!d) continue;
        if (*d <= now_) {
          if (i > 0) continue;  // fired at this instant already
          d = now_;
        }
        if (!next || *d < *next) next = d;
      }
      if (!next || *next > target) break;
      ++wakeups_;
      now_ = std::max(now_, *next);
      fire_due();
    }
    now_ = target;
    fire_due();
  }

  void fire_due() {
    timers_.fire_due(now_);
    for (auto& c : clients_) {
      if (!c) continue;
      if (const auto d = c->peer.next_deadline(); d && *d <= now_) c->peer.on_deadline(now_);
    }
    drain_clients();
  }

  // One datagram from the grammar: a header (the learned peer id and session, or 0xFFF, or any
  // id) and 1..4 commands, CRC and range coding as the Host's mode expects (or not, sometimes).
  void forged() {
    const std::size_t a = in_.u8() % kAddresses;
    const std::uint8_t shape = in_.u8();
    Learned& l = learned_[a == 4 ? 0 : a];
    Header header;
    switch (shape & 3) {
      case 0:
      case 1: header.peer_id = l.peer_id; break;
      case 2: header.peer_id = kMaxPeerId; break;
      default: header.peer_id = in_.u16() & kMaxPeerId; break;
    }
    header.session = (shape & 16) != 0 ? in_.u8() & 3 : l.session & 3;
    if ((shape & 4) == 0) header.sent_time = static_cast<std::uint16_t>(now_ / kMillisecond);

    auto& buf = scratch().datagram;
    const bool checksum = config_.peer.checksum != ((shape & 64) != 0);
    const std::size_t header_bytes = encode_header(header, checksum, buf);
    std::size_t end = header_bytes;
    const std::size_t count = 1 + in_.u8() % 4;
    for (std::size_t i = 0; i < count; ++i) {
      const std::optional<Command> command = forged_command(l);
      if (!command) continue;
      const std::size_t n = encode_command(*command, std::span(buf).subspan(end));
      end += n;
    }
    FinishOptions finish;
    finish.checksum = checksum;
    finish.seed = header.peer_id == kMaxPeerId || (shape & 32) != 0 ? ChecksumSeed{} : l.seed;
    finish.compress = (shape & 8) != 0;
    const std::size_t size =
        finish_datagram(std::span(buf).first(end), header_bytes - (checksum ? kChecksumSize : 0), finish);
    deliver_to_host({Bytes(buf.data(), size), addresses()[a]});
  }

  std::optional<Command> forged_command(Learned& l) {
    const std::uint8_t kind = in_.u8();
    const std::uint8_t knobs = in_.u8();
    Command c;
    // Channels 0..3 mostly, sometimes the peer level or any other.
    std::uint8_t channel = knobs % 4;
    if ((knobs & 0x30) == 0x30) channel = (knobs & 0x40) != 0 ? kPeerLevelChannel : in_.u8();
    auto reliable = [&](std::uint8_t ch) {
      c.header.channel = ch;
      c.header.acknowledge = true;
      std::uint16_t& next = l.next_reliable[channel_slot(ch)];
      c.header.reliable_sequence = (knobs & 0x80) != 0 ? in_.u16() : ++next;
    };
    auto payload = [&] { return in_.bytes(in_.u8() % 200); };
    switch (kind % 11) {
      case 0: {  // ACK of something the Host sent here, or of anything
        Acknowledge ack;
        if (!l.acks.empty() && (knobs & 0x80) == 0) {
          const Ack& a = l.acks[kind / 11 % l.acks.size()];
          c.header.channel = a.channel;
          c.header.reliable_sequence = a.sequence;
          ack = {a.sequence, a.sent_time};
        } else {
          c.header.channel = in_.u8();
          c.header.reliable_sequence = in_.u16();
          ack = {c.header.reliable_sequence, in_.u16()};
        }
        c.header.type = CommandType::kAcknowledge;
        c.body = ack;
        return c;
      }
      case 1: {
        Connect connect;
        static constexpr std::uint32_t kMtus[] = {kMinMtu, kDefaultMtu, kMaxMtu, 100};
        static constexpr std::uint32_t kWindows[] = {kMinWindowSize, kMaxWindowSize, 0, 1u << 31};
        connect.params.outgoing_peer_id = knobs % 4;
        connect.params.mtu = (kind & 0x80) != 0 ? in_.u32() : kMtus[kind / 11 % 4];
        connect.params.window_size = kWindows[(kind >> 4) % 4];
        const std::uint8_t channels = in_.u8();
        connect.params.channel_count = channels < 0xF0 ? 1 + channels % 8 : channels * 2u - 0x1E0;
        connect.params.incoming_bandwidth = (knobs & 8) != 0 ? in_.u32() : 0;
        connect.params.outgoing_bandwidth = (knobs & 8) != 0 ? in_.u32() : 0;
        const std::uint32_t id = in_.u32();
        connect.params.connect_id = {static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(id >> 8),
                                     static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 24)};
        connect.data = in_.u32();
        l.seed = connect.params.connect_id;
        l.next_reliable = {};
        c.header = {CommandType::kConnect, true, false, kPeerLevelChannel, ++l.next_reliable[4]};
        c.body = connect;
        return c;
      }
      case 2:
        reliable(channel);
        c.header.type = CommandType::kSendReliable;
        c.body = SendReliable{payload()};
        return c;
      case 3:
        c.header = {CommandType::kSendUnreliable, false, false, channel,
                    l.next_reliable[channel_slot(channel)]};
        c.body = SendUnreliable{l.next_unreliable++, payload()};
        return c;
      case 4:
        c.header = {CommandType::kSendUnsequenced, false, true, channel, 0};
        c.body = SendUnsequenced{(knobs & 0x80) != 0 ? in_.u16() : l.next_group++, payload()};
        return c;
      case 5:
      case 6: {
        const bool reliable_fragment = kind % 11 == 5;
        SendFragment f;
        if (reliable_fragment) {
          reliable(channel);
          f.start_sequence = static_cast<std::uint16_t>(c.header.reliable_sequence - kind / 11 % 3);
        } else {
          c.header = {CommandType::kSendUnreliableFragment, false, false, channel,
                      l.next_reliable[channel_slot(channel)]};
          f.start_sequence = l.next_unreliable;
          if (kind / 11 % 3 == 0) ++l.next_unreliable;
        }
        c.header.type = reliable_fragment ? CommandType::kSendFragment : CommandType::kSendUnreliableFragment;
        const std::uint8_t shape = in_.u8();
        f.fragment_count = (shape & 0x80) != 0 ? in_.u32() : 1 + shape % 4;
        f.fragment_number = (shape & 0x40) != 0 ? in_.u32() : shape / 4 % 4;
        f.payload = payload();
        f.total_length = (shape & 0x20) != 0 ? in_.u32()
                                             : static_cast<std::uint32_t>(f.payload.size()) * (1 + shape % 4);
        f.fragment_offset = (shape & 0x10) != 0 ? in_.u32()
                                                : static_cast<std::uint32_t>(f.payload.size()) * (shape / 4 % 4);
        c.body = f;
        return c;
      }
      case 7:
        reliable(kPeerLevelChannel);
        c.header.type = CommandType::kPing;
        c.body = Ping{};
        return c;
      case 8:
        reliable(kPeerLevelChannel);
        c.header.acknowledge = (knobs & 0x40) == 0;
        c.header.unsequenced = (knobs & 0x20) != 0;
        c.header.type = CommandType::kDisconnect;
        c.body = Disconnect{in_.u32()};
        return c;
      case 9:
        reliable(kPeerLevelChannel);
        if ((knobs & 0x40) != 0) {
          c.header.type = CommandType::kBandwidthLimit;
          c.body = BandwidthLimit{in_.u32(), in_.u32()};
        } else {
          c.header.type = CommandType::kThrottleConfigure;
          c.body = ThrottleConfigure{in_.u32(), in_.u32(), in_.u32()};
        }
        return c;
      default: {
        reliable(kPeerLevelChannel);
        c.header.type = CommandType::kVerifyConnect;
        VerifyConnect v;
        v.params.connect_id = l.seed;
        v.params.channel_count = 1 + knobs % 4;
        c.body = v;
        return c;
      }
    }
  }

  void check() {
    VOLLEY_FUZZ_CHECK(host_->live_peers() <= kMaxPeers);
    VOLLEY_FUZZ_CHECK(host_->connected_peers() <= host_->live_peers());
    VOLLEY_FUZZ_CHECK(host_->connected_peers() == connected_.size());
    VOLLEY_FUZZ_CHECK(host_->stats().connected == connected_.size());
    VOLLEY_FUZZ_CHECK(host_->stats().connected_peak <= kMaxPeers);
    // One timer per slot at most, plus a few Host-wide ones.
    VOLLEY_FUZZ_CHECK(timers_.armed() <= kMaxPeers + 8);
    // One operation is at most a few hundred input datagrams; the Host's answer stays in
    // proportion (acks, retransmissions, pings and echoes for at most kMaxPeers peers).
    VOLLEY_FUZZ_CHECK(emitted_this_op_ <= 16384);
  }

  // Shutdown with every client silent: within two minutes every peer is gone, and its timer too.
  void finish() {
    if (tracing()) {
      const auto& st = host_->stats();
      std::fprintf(stderr, "trace: connects=%llu connected=%zu live=%zu routed=%llu received_in=%llu bad=%llu wakeups=%zu digest=%016llx\n",
                   (unsigned long long)st.connects, connected_.size(), host_->live_peers(),
                   (unsigned long long)st.datagrams_routed,
                   (unsigned long long)st.peers[Counter::kPacketsIn], (unsigned long long)st.bad_datagrams(),
                   wakeups_, (unsigned long long)digest_.h);
    }
    host_->disconnect_all(0);
    host_->flush(now_);
    clients_ = {};
    for (int i = 0; i < 12; ++i) advance(10 * kSecond);
    check();
    VOLLEY_FUZZ_CHECK(host_->live_peers() == 0);
    VOLLEY_FUZZ_CHECK(connected_.empty());
    VOLLEY_FUZZ_CHECK(timers_.armed() == 0);
  }

  fuzz::Reader& in_;
  TimePoint now_ = 1000 * kSecond;
  HostConfig config_;
  PeerConfig client_config_;
  bool echo_ = false;
  WheelTimers timers_;
  std::optional<Host> host_;
  std::array<std::optional<server::test::Client>, kClients> clients_;
  std::array<Learned, kAddresses> learned_;
  DatagramRing& pending_out_ = scratch().host_out;
  std::vector<PeerHandle> connected_;
  std::vector<PeerHandle> seen_;
  std::size_t emitted_this_op_ = 0;
  Digest digest_;
  std::size_t wakeups_ = 0;  // virtual-time steps taken by advance()
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return volley::fuzz::run_script<Script>(data, size);
}
