// volley-capture-enet: a stock libenet 1.3.17 server and client in one process on 127.0.0.1 run
// one scripted session (connect with data, reliable, unreliable, unsequenced, reliable fragment,
// unreliable fragment, idle long enough for PING and BANDWIDTH_LIMIT, disconnect) and every
// datagram either host receives is written to a pcap file. A genuine stock-ENet capture for
// volley-dump's demo and tests, without root or tcpdump.
#include <enet/enet.h>
#include <sys/time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pcap_writer.hpp"
#include "volley/protocol/byte_io.hpp"
#include "volley/support/cli.hpp"

namespace {

using namespace volley::tools;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitIncomplete = 1;
constexpr int kExitUsage = 2;

constexpr std::size_t kChannels = 2;
constexpr enet_uint32 kConnectData = 42;
constexpr enet_uint32 kDisconnectData = 7;
constexpr std::size_t kFragmentedSize = 3000;  // > the 1400-byte default MTU
// libenet sends BANDWIDTH_LIMIT on its 1 s throttle tick and PINGs after 500 ms of quiet.
constexpr auto kIdlePhase = std::chrono::milliseconds(1300);
constexpr auto kSessionDeadline = std::chrono::seconds(5);
constexpr auto kDrainAfterDisconnect = std::chrono::milliseconds(50);
constexpr int kPacketsFromClient = 5;

const char* const kUsage =
    "usage: volley-capture-enet --out FILE [--checksum] [--range-coder] [--link ethernet|raw]\n"
    "                           [--server-port P]\n"
    "  runs a stock libenet server and client on 127.0.0.1 through one scripted session and\n"
    "  writes every datagram they exchange to FILE (pcap; link type EN10MB like `tcpdump -i lo`,\n"
    "  or RAW); --server-port fixes the server's port (default: an ephemeral one), e.g. to\n"
    "  record the same session with tcpdump as well\n";

struct Options {
  std::string out;
  bool checksum = false;
  bool range_coder = false;
  CaptureLink link = CaptureLink::kEthernet;
  std::uint16_t server_port = 0;
};

// libenet's intercept callback has no user pointer, so the recording lives here.
std::vector<CapturedDatagram>* g_recording = nullptr;

Ipv4Endpoint endpoint_of(const ENetAddress& address) {
  // ENetAddress::host holds the IPv4 address in network byte order.
  const auto* b = reinterpret_cast<const std::uint8_t*>(&address.host);
  return Ipv4Endpoint{volley::protocol::load_be32(std::span(b, sizeof address.host)), address.port};
}

int ENET_CALLBACK record_datagram(ENetHost* host, ENetEvent* /*event*/) {
  if (g_recording == nullptr) return 0;
  timeval now{};
  gettimeofday(&now, nullptr);
  CapturedDatagram d;
  d.seconds = now.tv_sec;
  d.microseconds = now.tv_usec;
  d.src = endpoint_of(host->receivedAddress);
  d.dst = endpoint_of(host->address);
  d.payload.assign(host->receivedData, host->receivedData + host->receivedDataLength);
  g_recording->push_back(std::move(d));
  return 0;  // let libenet process the datagram as usual
}

bool parse_options(int argc, char** argv, Options& options, std::string& error) {
  std::string link = "ethernet";
  CLI::App app("volley-capture-enet");
  app.add_option("--out", options.out)->required();
  app.add_flag("--checksum", options.checksum)->disable_flag_override();
  app.add_flag("--range-coder,--compressed", options.range_coder)->disable_flag_override();
  app.add_option("--link", link)->check(CLI::IsMember({"ethernet", "en10mb", "raw"}));
  app.add_option("--server-port", options.server_port)->check(CLI::Range(0, 65535));
  const std::vector<std::string> args(argv + 1, argv + argc);
  const volley::support::CliOutcome outcome = volley::support::parse_cli(app, args);
  if (outcome.help) {
    std::fputs(kUsage, stdout);
    std::exit(kExitOk);
  }
  error = outcome.error;
  if (error.empty() && options.out.empty()) error = "--out needs a file name";
  // Before the session, so a typo costs nothing (support::output_path_error).
  if (error.empty()) error = volley::support::output_path_error(app, "--out", options.out);
  options.link = link == "raw" ? CaptureLink::kRaw : CaptureLink::kEthernet;
  return error.empty();
}

ENetPacket* make_packet(std::size_t size, char fill, enet_uint32 flags, std::string_view text = {}) {
  std::vector<char> bytes(size, fill);
  std::copy(text.begin(), text.end(), bytes.begin());
  return enet_packet_create(bytes.data(), bytes.size(), flags);
}

// What the session has seen so far; the script advances on these.
struct Progress {
  bool server_connected = false;
  bool client_connected = false;
  int server_received = 0;
  bool client_received = false;
  bool server_disconnected = false;
  bool client_disconnected = false;
};

void pump(ENetHost* host, bool is_server, Progress& progress) {
  ENetEvent event;
  while (enet_host_service(host, &event, 0) > 0) {
    switch (event.type) {
      case ENET_EVENT_TYPE_CONNECT:
        (is_server ? progress.server_connected : progress.client_connected) = true;
        if (is_server) {
          // Server-to-client data too, so both directions carry SEND_RELIABLE.
          enet_peer_send(event.peer, 0, make_packet(16, '\0', ENET_PACKET_FLAG_RELIABLE, "welcome"));
        }
        break;
      case ENET_EVENT_TYPE_RECEIVE:
        if (is_server) {
          ++progress.server_received;
        } else {
          progress.client_received = true;
        }
        enet_packet_destroy(event.packet);
        break;
      case ENET_EVENT_TYPE_DISCONNECT:
        (is_server ? progress.server_disconnected : progress.client_disconnected) = true;
        break;
      case ENET_EVENT_TYPE_NONE:
        break;
    }
  }
}

void send_client_packets(ENetPeer* peer) {
  enet_peer_send(peer, 0, make_packet(14, '\0', ENET_PACKET_FLAG_RELIABLE, "hello reliable"));
  enet_peer_send(peer, 1, make_packet(16, '\0', 0, "hello unreliable"));
  enet_peer_send(peer, 1, make_packet(17, '\0', ENET_PACKET_FLAG_UNSEQUENCED, "hello unsequenced"));
  enet_peer_send(peer, 0, make_packet(kFragmentedSize, 'R', ENET_PACKET_FLAG_RELIABLE, "reliable fragments"));
  enet_peer_send(peer, 1,
                 make_packet(kFragmentedSize, 'U', ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT, "unreliable fragments"));
}

// Runs the scripted session; returns true when every step completed before the deadline.
bool run_session(ENetHost* server, ENetHost* client, std::string& failure) {
  ENetPeer* peer = enet_host_connect(client, &server->address, kChannels, kConnectData);
  if (peer == nullptr) {
    failure = "enet_host_connect failed";
    return false;
  }
  enum class Step { kConnecting, kSending, kIdle, kDisconnecting, kDraining, kDone } step = Step::kConnecting;
  Progress progress;
  const auto start = Clock::now();
  auto step_start = start;
  while (step != Step::kDone) {
    const auto now = Clock::now();
    if (now - start > kSessionDeadline) {
      failure = "session did not complete within 5 s";
      return false;
    }
    pump(server, true, progress);
    pump(client, false, progress);
    switch (step) {
      case Step::kConnecting:
        if (progress.server_connected && progress.client_connected) {
          send_client_packets(peer);
          step = Step::kSending;
          step_start = now;
        }
        break;
      case Step::kSending:
        if (progress.server_received >= kPacketsFromClient && progress.client_received) {
          step = Step::kIdle;
          step_start = now;
        }
        break;
      case Step::kIdle:
        if (now - step_start >= kIdlePhase) {
          enet_peer_disconnect(peer, kDisconnectData);
          step = Step::kDisconnecting;
        }
        break;
      case Step::kDisconnecting:
        if (progress.server_disconnected && progress.client_disconnected) {
          step = Step::kDraining;
          step_start = now;
        }
        break;
      case Step::kDraining:
        if (now - step_start >= kDrainAfterDisconnect) step = Step::kDone;
        break;
      case Step::kDone:
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  if (!parse_options(argc, argv, options, error)) {
    std::fprintf(stderr, "volley-capture-enet: %s\n", error.c_str());
    return kExitUsage;
  }
  if (enet_initialize() != 0) {
    std::fprintf(stderr, "volley-capture-enet: enet_initialize failed\n");
    return kExitIncomplete;
  }
  ENetAddress bind{};
  enet_address_set_host_ip(&bind, "127.0.0.1");
  // Port 0 is ephemeral: libenet reads the chosen port back into host->address.
  bind.port = options.server_port;
  ENetHost* server = enet_host_create(&bind, 4, kChannels, 0, 0);
  bind.port = 0;
  ENetHost* client = enet_host_create(&bind, 1, kChannels, 0, 0);
  if (server == nullptr || client == nullptr) {
    std::fprintf(stderr, "volley-capture-enet: cannot create ENet hosts on 127.0.0.1\n");
    return kExitIncomplete;
  }
  for (ENetHost* host : {server, client}) {
    if (options.checksum) host->checksum = enet_crc32;
    if (options.range_coder) enet_host_compress_with_range_coder(host);
    host->intercept = record_datagram;
  }

  std::vector<CapturedDatagram> recording;
  g_recording = &recording;
  const bool complete = run_session(server, client, error);
  g_recording = nullptr;
  const ENetAddress server_address = server->address;
  const ENetAddress client_address = client->address;
  enet_host_destroy(client);
  enet_host_destroy(server);
  enet_deinitialize();

  std::string write_error;
  if (!write_pcap(options.out, options.link, recording, write_error)) {
    std::fprintf(stderr, "volley-capture-enet: %s\n", write_error.c_str());  // it names the file
    return kExitUsage;
  }
  std::printf("volley-capture-enet: %zu datagrams between server 127.0.0.1:%u and client 127.0.0.1:%u -> %s\n",
              recording.size(), server_address.port, client_address.port, options.out.c_str());
  if (!complete) {
    std::fprintf(stderr, "volley-capture-enet: %s (the partial capture was written)\n", error.c_str());
    return kExitIncomplete;
  }
  return kExitOk;
}
