// OpsHttp: three request handlers on a civetweb context with no document root (nothing else is
// served), eight worker threads, and short timeouts.
#include "ops_http.hpp"

#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "prometheus.hpp"
#include "volley/engine/udp.hpp"
#include "volley/support/process_memory.hpp"

namespace volley::server::app {
namespace {

constexpr unsigned kFeatureIpv6 = 8;  // mg_check_feature: built with IPv6

int reply(mg_connection* conn, int status, const char* content_type, const std::string& body) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type, -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  const mg_request_info* request = mg_get_request_info(conn);
  if (request != nullptr && std::string(request->request_method) != "HEAD") {
    mg_write(conn, body.data(), body.size());
  }
  return status;
}

// civetweb says "Failed to setup server ports" whatever the OS said. Its reason comes from a bind
// of our own to the same address, with SO_REUSEADDR as civetweb sets it ("Address already in
// use" for a port another program listens on); "" if that bind works or the address does not
// parse (check_listen_address has vetted it).
std::string bind_error(const std::string& listen) {
  const std::optional<engine::Address> address = engine::Address::parse(listen);
  if (!address) return {};
  const int fd = ::socket(address->family() == engine::AddressFamily::kIpv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string reason;
  if (::bind(fd, static_cast<const sockaddr*>(address->sockaddr()), static_cast<socklen_t>(address->size())) != 0)
    reason = std::strerror(errno);
  ::close(fd);
  return reason;
}

}  // namespace

std::unique_ptr<OpsHttp> OpsHttp::start(const std::string& listen, const OpsBoard& board,
                                        std::chrono::milliseconds health_bound, std::string& error) {
  static std::once_flag library;
  std::call_once(library, [] { mg_init_library(0); });
  if (listen.starts_with("[") && mg_check_feature(kFeatureIpv6) == 0) {
    error = "--metrics " + listen + ": this civetweb was built without IPv6; use an IPv4 address";
    return nullptr;
  }
  std::unique_ptr<OpsHttp> ops(new OpsHttp(board, health_bound));
  // civetweb gives each connection a worker until its request is read: with 2 workers and 5 s,
  // two connections that sent half a request kept /healthz from answering for 5 s (a liveness
  // probe waits 1 s by default). Eight workers and 1 s for a request (a scrape's is one short
  // packet) make that take eight such connections renewed every second.
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "8",
                           "request_timeout_ms", "1000", "enable_keep_alive", "no", nullptr};
  char text[256] = "";
  unsigned code = 0;
  mg_error_data errors{&code, text, sizeof(text)};
  mg_init_data init{nullptr, ops.get(), options};
  ops->context_ = mg_start2(&init, &errors);
  if (ops->context_ == nullptr) {
    const std::string civetweb = text[0] != 0 ? text : "civetweb failed";
    const std::string reason = bind_error(listen);
    error = "--metrics " + listen + ": cannot listen" + (reason.empty() ? "" : ": " + reason) + " (" + civetweb + ")";
    return nullptr;
  }
  mg_set_request_handler(ops->context_, "/metrics$", on_metrics, ops.get());
  mg_set_request_handler(ops->context_, "/healthz$", on_healthz, ops.get());
  mg_set_request_handler(ops->context_, "/readyz$", on_readyz, ops.get());
  mg_server_port port{};
  if (mg_get_server_ports(ops->context_, 1, &port) != 1) {
    error = "--metrics " + listen + ": civetweb reports no listening port";
    return nullptr;
  }
  ops->address_ = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port.port);
  return ops;
}

// civetweb's listener thread polls in 2 s quanta and sees the stop flag only when it wakes, so
// mg_stop() alone makes every exit up to 2 s late. While it waits, connections to our own port
// wake the listener (bounded: 200 tries, 10 ms apart).
OpsHttp::~OpsHttp() {
  if (context_ == nullptr) return;
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    mg_stop(context_);
    stopped.store(true);
  });
  for (int i = 0; i < 200 && !stopped.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    wake_listener();
  }
  stopper.join();
}

void OpsHttp::wake_listener() const {
  std::optional<engine::Address> to = engine::Address::parse(address_);
  if (!to) return;
  // A wildcard listener is reached on the loopback address of its family.
  if (*to == engine::Address::any_v4(to->port())) to = engine::Address::loopback_v4(to->port());
  if (*to == engine::Address::any_v6(to->port())) to = engine::Address::loopback_v6(to->port());
  const int family = to->family() == engine::AddressFamily::kIpv6 ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  ::connect(fd, static_cast<const sockaddr*>(to->sockaddr()), static_cast<socklen_t>(to->size()));
  ::close(fd);
}

int OpsHttp::on_metrics(mg_connection* conn, void* self) {
  const auto& ops = *static_cast<OpsHttp*>(self);
  const auto stats = ops.board_.latest();
  if (!stats) return reply(conn, 503, "text/plain", "not serving yet\n");
  const ProcessFigures process{support::process_cpu(), support::process_rss_bytes(), ops.start_time_s_};
  return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(*stats, process));
}

int OpsHttp::on_healthz(mg_connection* conn, void* self) {
  const auto& ops = *static_cast<OpsHttp*>(self);
  const bool ok = ops.board_.healthy(OpsBoard::Clock::now(), ops.health_bound_);
  return reply(conn, ok ? 200 : 503, "text/plain", ok ? "ok\n" : "loop stalled\n");
}

int OpsHttp::on_readyz(mg_connection* conn, void* self) {
  const auto& ops = *static_cast<OpsHttp*>(self);
  const bool ok = ops.board_.ready();
  return reply(conn, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not accepting\n");
}

}  // namespace volley::server::app
