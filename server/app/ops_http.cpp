// OpsHttp: three request handlers on a civetweb context with no document root (nothing else is
// served), two worker threads, and short timeouts.
#include "ops_http.hpp"

#include <civetweb.h>

#include <mutex>

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
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "2",
                           "request_timeout_ms", "5000", "enable_keep_alive", "no", nullptr};
  char text[256] = "";
  unsigned code = 0;
  mg_error_data errors{&code, text, sizeof(text)};
  mg_init_data init{nullptr, ops.get(), options};
  ops->context_ = mg_start2(&init, &errors);
  if (ops->context_ == nullptr) {
    error = "--metrics " + listen + ": cannot listen (" + (text[0] != 0 ? text : "civetweb failed") + ")";
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

OpsHttp::~OpsHttp() {
  if (context_ != nullptr) mg_stop(context_);
}

int OpsHttp::on_metrics(mg_connection* conn, void* self) {
  const auto& ops = *static_cast<OpsHttp*>(self);
  const auto stats = ops.board_.latest();
  if (!stats) return reply(conn, 503, "text/plain", "not serving yet\n");
  const ProcessFigures process{support::process_cpu(), support::process_rss_bytes()};
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
