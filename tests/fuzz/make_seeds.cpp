// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/seed-*): real traffic
// from the project's own encoders, so the fuzzers start from inputs that pass every check and
// mutate from there. Run: volley_fuzz_make_seeds <tests/fuzz/corpus>. Deterministic: the same
// build writes the same files (the replay tests run whatever the directory holds).
//   datagram:    every datagram of a client/server Peer pair (handshake, each delivery kind,
//                fragments, pings, acks, disconnect) in the four checksum/compression modes;
//   range_coder: datagram bodies of that traffic, and a few edge shapes;
//   snapshot:    full and delta packets of the fixed world, and input messages;
//   host:        scripts for the Host target (honest clients connecting, echoing, leaving;
//                forged handshakes; floods; time jumps; API calls);
//   sender:      scripts for the snapshot sender target (clients joining, ticks, deliveries with
//                loss and reordering, honest and forged acknowledgements).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "snapshot_fixture.hpp"
#include "volley/protocol/datagram.hpp"
#include "volley/protocol/enet_wire.hpp"
#include "volley/protocol/peer.hpp"
#include "volley/snapshot/codec.hpp"
#include "volley/snapshot/session.hpp"

namespace {

using namespace volley;
using namespace volley::protocol;
namespace fs = std::filesystem;

using Blob = std::vector<std::uint8_t>;

std::size_t g_written = 0;

void write(const fs::path& dir, const std::string& name, const Blob& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ++g_written;
}

Blob pattern(std::size_t size, std::uint8_t salt) {
  Blob v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(salt + i * 31 + (i >> 5));
  return v;
}

// A client and a server Peer talking directly; every datagram is captured.
struct Pair {
  explicit Pair(const PeerConfig& config)
      : client(PeerRole::kClient, 0, config), server(PeerRole::kServer, 0, config) {}
  Peer client;
  Peer server;
  TimePoint now = 1000 * kSecond;
  std::vector<Blob> captured;

  void pump() {
    std::array<std::uint8_t, kMaxMtu> buf{};
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      while (const std::size_t n = client.poll_datagram(now, buf)) {
        captured.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        server.on_datagram(now, captured.back());
        any = true;
      }
      while (const std::size_t n = server.poll_datagram(now, buf)) {
        captured.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        client.on_datagram(now, captured.back());
        any = true;
      }
      while (client.poll_event()) {}
      while (server.poll_event()) {}
      if (!any) return;
    }
  }
  void wait(TimePoint duration) {
    now += duration;
    if (client.next_deadline() && *client.next_deadline() <= now) client.on_deadline(now);
    if (server.next_deadline() && *server.next_deadline() <= now) server.on_deadline(now);
    pump();
  }
};

// The CRC seed the datagram target uses when its mode bit 2 is set.
constexpr std::array<std::uint8_t, 4> kConnectId = {0x12, 0x34, 0x56, 0x78};

void datagram_and_range_coder_seeds(const fs::path& root) {
  for (int mode = 0; mode < 4; ++mode) {
    PeerConfig config;
    config.checksum = (mode & 1) != 0;
    config.compress = (mode & 2) != 0;
    Pair p(config);
    p.client.connect(p.now, 4, 42, kConnectId);
    p.pump();
    p.client.send(0, pattern(40, 1), PacketFlags::kReliable);
    p.client.send(1, pattern(300, 2), PacketFlags::kUnreliable);
    p.client.send(2, pattern(9, 3), PacketFlags::kUnsequenced);
    p.client.send(3, pattern(3000, 4), PacketFlags::kReliable);
    p.server.send(3, pattern(2500, 5), PacketFlags::kUnreliableFragment);
    p.server.send(0, pattern(64, 6), PacketFlags::kReliable);
    p.pump();
    p.wait(600 * kMillisecond);  // pings
    p.wait(600 * kMillisecond);
    p.client.disconnect(7);
    p.pump();
    const std::uint8_t mode_byte = static_cast<std::uint8_t>(mode | 4);
    for (std::size_t i = 0; i < p.captured.size(); ++i) {
      Blob seed{mode_byte};
      seed.insert(seed.end(), p.captured[i].begin(), p.captured[i].end());
      write(root / "datagram", "m" + std::to_string(mode) + "-" + std::to_string(i), seed);
      // Range coder: the uncompressed command bytes of the plain-mode traffic.
      if (mode == 0 && i % 2 == 0) {
        const auto header = decode_header(p.captured[i], false);
        if (!header.ok()) continue;
        Blob body{0x00};
        body.insert(body.end(), header.value->body.begin(), header.value->body.end());
        write(root / "range_coder", "body-" + std::to_string(i), body);
      }
      // And the coded bodies of the compressed traffic, for decompression.
      if (mode == 2) {
        const auto header = decode_header(p.captured[i], false);
        if (!header.ok() || !header.value->header.compressed) continue;
        Blob coded{0x00};
        coded.insert(coded.end(), header.value->body.begin(), header.value->body.end());
        write(root / "range_coder", "coded-" + std::to_string(i), coded);
        // The same body into a 273-byte output: decompression must stop at the bound.
        if (header.value->body.size() > 200) {
          coded[0] = 0xF1;
          write(root / "range_coder", "coded-small-out-" + std::to_string(i), coded);
        }
      }
    }
  }
  write(root / "range_coder", "zeros", Blob(1 + 1000, 0));
  Blob ramp{0xF3};  // a small output capacity
  for (int i = 0; i < 600; ++i) ramp.push_back(static_cast<std::uint8_t>(i));
  write(root / "range_coder", "ramp-small-out", ramp);
}

void snapshot_seeds(const fs::path& root) {
  fuzz::SnapshotWorld world;
  snapshot::Encoder encoder(world.schema, world.codec);
  Blob buf(256 * 1024);
  auto packet = [&](std::uint8_t mode, const snapshot::Frame* baseline, const snapshot::Frame& next,
                    bool events) {
    const std::size_t n = encoder.encode(baseline, next, events ? std::span(world.events)
                                                                  : std::span<const snapshot::Event>(), buf);
    Blob out{mode};
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  };
  write(root / "snapshot", "full-100", packet(0, nullptr, world.base, true));
  write(root / "snapshot", "delta-101-on-100", packet(4, &world.base, world.next, true));
  write(root / "snapshot", "delta-102-on-101", packet(0, &world.next, world.later, false));
  write(root / "snapshot", "delta-102-on-100", packet(0, &world.base, world.later, true));
  write(root / "snapshot", "full-102", packet(1, nullptr, world.later, false));
  std::array<std::uint8_t, snapshot::kInputHeaderBytes + 16> input{};
  const Blob game = pattern(16, 9);
  std::size_t n = snapshot::encode_input(101, game, input);
  Blob msg{0};
  msg.insert(msg.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n));
  write(root / "snapshot", "input-ack-101", msg);
  n = snapshot::encode_input(std::nullopt, {}, input);
  msg = {0};
  msg.insert(msg.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n));
  write(root / "snapshot", "input-no-ack", msg);
}

// A script target's input: the mode byte, then operations appended by `Self`'s named steps.
template <class Self>
struct ScriptBytes {
  Blob bytes;
  explicit ScriptBytes(std::uint8_t mode) : bytes{mode} {}
  Self& raw(std::initializer_list<std::uint8_t> b) {
    bytes.insert(bytes.end(), b);
    return static_cast<Self&>(*this);
  }
};

// Host scripts, in the op encoding of host_fuzz.cpp (Op numbers and operand bytes).
struct ScriptBuilder : ScriptBytes<ScriptBuilder> {
  using ScriptBytes::ScriptBytes;
  ScriptBuilder& u32(std::uint32_t v) {
    return raw({static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)});
  }
  ScriptBuilder& connect(std::uint8_t client, std::uint8_t channels, std::uint32_t id) {
    return raw({2, client, channels}).u32(42).u32(id);
  }
  ScriptBuilder& send(std::uint8_t client, std::uint8_t channel, std::uint8_t kind, std::uint8_t size) {
    return raw({3, client, channel, kind, size});
  }
  ScriptBuilder& exchange(std::uint8_t how = 0) { return raw({5, how, 0, 0, 0}); }
  ScriptBuilder& advance(std::uint8_t step) { return raw({6, step}); }
};

void host_seeds(const fs::path& root) {
  for (std::uint8_t mode = 0; mode < 4; ++mode) {
    // Two honest clients connect, send every kind (echoed), and leave.
    ScriptBuilder s(static_cast<std::uint8_t>(mode | 16));
    s.connect(0, 4, 0x01020304).connect(3, 2, 0x0A0B0C0D);
    for (int i = 0; i < 4; ++i) s.exchange().advance(2);
    s.send(0, 0, 0x00, 100).send(0, 1, 0x01, 50).send(3, 2, 0x02, 10).send(0, 3, 0x83, 80);
    for (int i = 0; i < 4; ++i) s.exchange().advance(3);
    s.raw({4, 0, 9});  // client 0 disconnects
    for (int i = 0; i < 4; ++i) s.exchange().advance(3);
    write(root / "host", "honest-m" + std::to_string(mode), s.bytes);
  }
  // Lossy: drops, duplicates and bit flips while connecting, then time jumps to the timeouts.
  ScriptBuilder lossy(0);
  lossy.connect(1, 3, 0x11111111).connect(2, 3, 0x22222222);
  for (std::uint8_t how : {1, 2, 4, 8, 0, 0, 16, 0}) lossy.exchange(how).advance(4);
  lossy.send(1, 0, 0x80, 200).exchange(2).advance(5).exchange(0).advance(7).advance(7);
  write(root / "host", "lossy", lossy.bytes);

  // A forged handshake from address 2: CONNECT, then the ACK of the VERIFY learned from the
  // Host's reply, then a reliable send and a ping on the learned id.
  ScriptBuilder forged(0);
  forged.raw({1, 2, 0x02, 0, 1, 0, 0x01}).u32(0xC0FFEE).u32(7);  // op, addr, shape, n-1, CONNECT
  forged.raw({1, 2, 0x00, 1, 0, 0x00, 2, 0x01, 5}).raw({'h', 'e', 'l', 'l', 'o'});  // ACK + SEND_RELIABLE
  forged.advance(3).raw({1, 2, 0x00, 0, 7, 0x00}).advance(5);          // PING
  forged.raw({1, 2, 0x00, 0, 8, 0x00}).u32(1).advance(4);                // DISCONNECT
  write(root / "host", "forged-handshake", forged.bytes);

  // A CONNECT flood from every address (more than the slot table), with API calls mixed in.
  ScriptBuilder flood(4);
  for (std::uint8_t i = 0; i < 12; ++i) {
    flood.raw({1, static_cast<std::uint8_t>(i % 5), 0x02, 0, 1, 0, 0x01}).u32(0x1000u + i).u32(i);
  }
  flood.raw({7, 5}).raw({7, 0, 0x00, 1, 20}).raw({7, 1, 30, 1}).raw({7, 3}).raw({7, 6, 0xC0, 3, 1});
  flood.advance(7).advance(7);
  write(root / "host", "connect-flood", flood.bytes);

  // Raw garbage from the IPv6 and the mapped address.
  ScriptBuilder garbage(1);
  garbage.raw({0, 3, 6, 0x8F, 0xFF, 0x00, 0x01, 0x82, 0xFF}).raw({0, 4, 3, 0xFF, 0xFF, 0xFF});
  garbage.connect(0, 1, 5).exchange(16).exchange(16).advance(6);
  write(root / "host", "garbage", garbage.bytes);
}

// Snapshot sender scripts, in the op encoding of sender_fuzz.cpp (op, client, operands).
struct SenderScript : ScriptBytes<SenderScript> {
  using ScriptBytes::ScriptBytes;
  SenderScript& add(std::uint8_t k) { return raw({0, k}); }
  // Spawns `spawn` entities, moves `move` of them, raises one event of `event` bytes (0: none).
  SenderScript& tick(std::uint8_t spawn, std::uint8_t move, std::uint8_t event) {
    raw({2, 0, static_cast<std::uint8_t>(spawn + move)});
    for (std::uint8_t i = 0; i < spawn; ++i) raw({0, static_cast<std::uint8_t>(100 + i), 128, 10, 3});
    for (std::uint8_t i = 0; i < move; ++i) raw({static_cast<std::uint8_t>(0x02 | (i % 4) << 2), i, 5});
    if (event == 0) return raw({0});
    return raw({1, event, 9});
  }
  SenderScript& deliver(std::uint8_t k, std::uint8_t how = 0) { return raw({3, k, how}); }
  SenderScript& input(std::uint8_t k) { return raw({4, k, 6}); }
};

void sender_seeds(const fs::path& root) {
  // Two clients join, then ticks with deliveries and honest inputs, in several configurations.
  for (const std::uint8_t mode : {0, 1 | 2, 8 | 32, 4 | 16 | 64}) {
    SenderScript s(mode);
    s.add(0).add(1).tick(6, 0, 0).deliver(0).input(0).deliver(1).input(1);
    for (int i = 0; i < 12; ++i) s.tick(i % 4 == 0 ? 1 : 0, 3, i % 3 == 0 ? 20 : 0).deliver(0).input(0).deliver(1).input(1);
    write(root / "sender", "two-clients-m" + std::to_string(mode), s.bytes);
  }
  // Loss, duplication and reordering, a view filter, a stride, a client leaving and a new one.
  SenderScript lossy(0);
  lossy.add(0).add(2).raw({7, 2, 0x05, 0}).raw({7, 0, 0x0B});  // a filter on 2, stride 2
  for (int i = 0; i < 10; ++i) {
    lossy.tick(1, 2, 30).tick(0, 2, 0);
    lossy.deliver(0, 3).raw({2, 0}).input(0).deliver(2, 0).input(2);  // reversed, the first twice
  }
  lossy.raw({1, 2, 0}).add(3).tick(0, 2, 5).deliver(3).input(3);
  write(root / "sender", "lossy", lossy.bytes);
  // Forged acknowledgements: raw input bytes, an input acking a future frame, acknowledge().
  SenderScript forged(0);
  forged.add(1).tick(4, 0, 8).deliver(1).input(1).tick(0, 3, 0);
  forged.raw({5, 1, 0x02, 0, 0x02, 0});                 // an input acknowledging the next frame
  forged.raw({5, 1, 0x01, 0, 4, 'V', 'I', 1, 3});        // raw bytes
  forged.raw({6, 1, 0, 0x03, 0xFF, 0xFF, 0xFF, 0x7F});  // acknowledge() of any frame
  forged.tick(0, 2, 0).deliver(1).input(1).tick(0, 1, 0).deliver(1);
  write(root / "sender", "forged-acks", forged.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const fs::path root(argv[1]);
  datagram_and_range_coder_seeds(root);
  snapshot_seeds(root);
  host_seeds(root);
  sender_seeds(root);
  std::printf("wrote %zu seed files under %s\n", g_written, root.string().c_str());
  return 0;
}
