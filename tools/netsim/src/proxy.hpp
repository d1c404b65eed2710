// The proxy itself, on an engine Loop: datagrams from a client address arriving on the loop's
// primary (listen) socket go up through one Link to the upstream server, sent from that
// client's own upstream socket (Loop::open_socket), so the server sees one address per client;
// replies arriving on that socket come down through the other Link to the client. Delayed
// datagrams wait inside the Links; one loop timer fires at the earliest delivery. Client
// addresses are forgotten (socket closed) after the idle timeout; the table is bounded.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "options.hpp"
#include "volley/engine/loop.hpp"
#include "volley/netsim/link.hpp"

namespace volley::netsim {

struct ProxyCounters {
  // Per direction, beyond the Link's own LinkStats.
  struct Direction {
    std::uint64_t received = 0;        // datagrams that entered the proxy in this direction
    std::uint64_t bytes_received = 0;
    std::uint64_t refused = 0;         // up only: the client table was full or no socket
    std::uint64_t client_gone = 0;     // due for a client that had expired meanwhile
    // Forwarded after a datagram the same client (up) or its server socket (down) sent later:
    // what the receiver sees as reordering, whatever caused it (jitter, --reorder).
    std::uint64_t out_of_order = 0;
  } up, down;
  std::uint64_t clients_created = 0;
  std::uint64_t clients_expired = 0;
  std::uint64_t clients_refused = 0;   // the table was full, or the OS refused a socket
  std::uint64_t clients_peak = 0;
  std::uint64_t stray = 0;             // on an upstream socket, but not from the upstream address
};

class Proxy {
 public:
  // Installs itself as the loop's handler and schedules its timers.
  Proxy(engine::Loop& loop, const NetsimOptions& options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Cancels timers and closes every client socket (datagrams still held are dropped).
  void shutdown();

  const Link& up() const { return up_; }
  const Link& down() const { return down_; }
  const ProxyCounters& counters() const { return counters_; }
  std::size_t clients() const { return by_address_.size(); }

 private:
  struct Client {
    engine::Address address;
    engine::SocketId upstream = 0;
    TimePoint last_seen = 0;
    std::uint32_t generation = 0;
    bool live = false;
    // One past the Link order of the latest-sent datagram forwarded so far, per direction (the
    // Links number copies in the order they were sent): an older one forwarded after it is out
    // of order.
    std::uint64_t up_next_order = 0;
    std::uint64_t down_next_order = 0;
  };
  // Queues `f` for sending, up to the server or down to its client (counted gone if expired).
  void forward(const InFlight& f, bool up);

  void on_datagrams(std::span<const engine::DatagramView> batch);
  std::uint32_t* client_for(const engine::Address& from, TimePoint now);
  void pump();
  void sweep();
  static std::uint64_t tag_of(std::uint32_t index, std::uint32_t generation) {
    return (std::uint64_t{generation} << 32) | index;
  }

  engine::Loop& loop_;
  NetsimOptions options_;
  engine::Address upstream_;       // in the form datagrams from it arrive (unmapped)
  engine::Address upstream_bind_;  // what each client's upstream socket binds
  Link up_;
  Link down_;
  std::vector<Client> clients_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<engine::Address, std::uint32_t> by_address_;
  std::unordered_map<engine::SocketId, std::uint32_t> by_socket_;
  std::vector<engine::OutDatagram> out_;
  engine::TimerId delivery_;
  TimePoint delivery_at_ = 0;
  engine::TimerId sweeper_;
  ProxyCounters counters_;
  std::string scratch_error_;
};

}  // namespace volley::netsim
