// volley-server's operations endpoints on civetweb (Debian's libcivetweb), on civetweb's own
// threads: GET /metrics (Prometheus text, app/prometheus.hpp), /healthz (200 while the loop has
// published within the health bound, else 503) and /readyz (200 while accepting peers, 503
// while draining or stopping). Everything comes from an OpsBoard; the loop is never touched.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "ops_board.hpp"

struct mg_context;
struct mg_connection;

namespace volley::server::app {

class OpsHttp {
 public:
  // `listen` is ADDR:PORT as --metrics takes it ("127.0.0.1:9100", "[::1]:0"); port 0 = any.
  // Null with a one-line `error` when it cannot listen.
  static std::unique_ptr<OpsHttp> start(const std::string& listen, const OpsBoard& board,
                                        std::chrono::milliseconds health_bound, std::string& error);
  ~OpsHttp();
  OpsHttp(const OpsHttp&) = delete;
  OpsHttp& operator=(const OpsHttp&) = delete;

  std::string address() const { return address_; }  // as bound, with the real port

 private:
  OpsHttp(const OpsBoard& board, std::chrono::milliseconds health_bound)
      : board_(board),
        health_bound_(health_bound),
        start_time_s_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {}
  void wake_listener() const;
  static int on_metrics(::mg_connection* conn, void* self);
  static int on_healthz(::mg_connection* conn, void* self);
  static int on_readyz(::mg_connection* conn, void* self);

  const OpsBoard& board_;
  std::chrono::milliseconds health_bound_;
  double start_time_s_;  // process_start_time_seconds: the server starts this endpoint first thing
  mg_context* context_ = nullptr;
  std::string address_;
};

}  // namespace volley::server::app
