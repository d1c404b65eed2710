// OpsHttp: three request handlers on a civetweb context with no document root (nothing else is
// served), eight worker threads, and short timeouts.
#include "ops_http.hpp"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "prometheus.hpp"
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
// read (check_listen_address has vetted it).
std::string bind_error(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return {};
  std::string host = listen.substr(0, colon);
  const bool v6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (v6) host = host.substr(1, host.size() - 2);
  const auto port = static_cast<std::uint16_t>(std::atoi(listen.c_str() + colon + 1));
  sockaddr_storage address{};
  socklen_t length = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&address);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return {};
    length = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&address);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return {};
    length = sizeof(sockaddr_in);
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string reason;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) reason = std::strerror(errno);
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
  sockaddr_storage to{};
  socklen_t length = 0;
  std::string host = address_.substr(0, address_.rfind(':'));
  const auto port = static_cast<std::uint16_t>(std::stoi(address_.substr(address_.rfind(':') + 1)));
  if (host.starts_with("[")) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    host = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET6, host == "::" ? "::1" : host.c_str(), &a->sin6_addr) != 1) return;
    length = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, host == "0.0.0.0" ? "127.0.0.1" : host.c_str(), &a->sin_addr) != 1) return;
    length = sizeof(sockaddr_in);
  }
  const int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  ::connect(fd, reinterpret_cast<const sockaddr*>(&to), length);
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
