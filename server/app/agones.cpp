// Agones: a small state machine on its own thread. Ready is retried every second until the
// sidecar answers (it may start after us); Health follows every interval while the loop is
// healthy; Shutdown is sent once when asked, even if Ready never got through.
#include "agones.hpp"

#include <civetweb.h>

#include <cstdlib>
#include <string_view>

namespace volley::server::app {

AgonesEndpoint agones_endpoint_from_env(std::string& error) {
  AgonesEndpoint endpoint;
  const char* port = std::getenv("AGONES_SDK_HTTP_PORT");
  if (port == nullptr || *port == 0) return endpoint;
  char* end = nullptr;
  const long value = std::strtol(port, &end, 10);
  if (*end != 0 || value < 1 || value > 65535) {
    error = "AGONES_SDK_HTTP_PORT must be a port number, got '" + std::string(port) + "'";
    return endpoint;
  }
  endpoint.port = static_cast<int>(value);
  return endpoint;
}

Agones::Agones(AgonesEndpoint endpoint, std::chrono::milliseconds health_interval,
               std::function<bool()> healthy, std::function<bool()> winding_down, Log log)
    : endpoint_(std::move(endpoint)),
      health_interval_(health_interval),
      healthy_(std::move(healthy)),
      winding_down_(std::move(winding_down)),
      log_(std::move(log)) {
  mg_init_library(0);
  thread_ = std::thread([this] { run(); });
}

Agones::~Agones() {
  shutdown();
  thread_.join();
}

void Agones::ready() {
  const std::lock_guard lock(mutex_);
  ready_asked_ = true;
  wake_.notify_all();
}

void Agones::shutdown() {
  const std::lock_guard lock(mutex_);
  shutdown_asked_ = true;
  wake_.notify_all();
}

void Agones::run() {
  constexpr auto kReadyRetry = std::chrono::seconds(1);
  bool is_ready = false;
  std::unique_lock lock(mutex_);
  while (true) {
    if (shutdown_asked_) break;
    if (ready_asked_ && !is_ready) {
      if (winding_down_()) {
        ready_asked_ = false;
        log_("info", "agones: draining or stopping before Ready got through: Ready withdrawn");
        continue;
      }
      lock.unlock();
      is_ready = call("/ready");
      if (is_ready) log_("info", "agones: Ready");
      lock.lock();
      if (!is_ready) wake_.wait_for(lock, kReadyRetry, [&] { return shutdown_asked_; });
      continue;
    }
    if (is_ready) {
      wake_.wait_for(lock, health_interval_, [&] { return shutdown_asked_; });
      if (shutdown_asked_) break;
      lock.unlock();
      if (healthy_()) call("/health");
      lock.lock();
      continue;
    }
    wake_.wait(lock, [&] { return shutdown_asked_ || ready_asked_; });
  }
  lock.unlock();
  if (call("/shutdown")) log_("info", "agones: Shutdown");
}

void Agones::note_result(const char* path, bool ok, const std::string& failure) {
  constexpr auto kFailureLogInterval = std::chrono::seconds(60);
  const auto now = std::chrono::steady_clock::now();
  if (ok) {
    if (failing_) log_("info", std::string("agones: POST ") + path + " succeeded again");
    failing_ = false;
    return;
  }
  if (!failing_ || now >= next_failure_log_) {
    log_("warn", std::string("agones: POST ") + path + ": " + failure +
                     (failing_ ? " (still failing; logged once a minute)" : ""));
    next_failure_log_ = now + kFailureLogInterval;
  }
  failing_ = true;
}

bool Agones::call(const char* path) {
  char error[256] = "";
  mg_connection* conn = mg_connect_client(endpoint_.host.c_str(), endpoint_.port, 0, error, sizeof(error));
  if (conn == nullptr) {
    note_result(path, false, error);
    return false;
  }
  constexpr std::string_view body = "{}";
  mg_printf(conn,
            "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            path, endpoint_.host.c_str(), endpoint_.port, body.size(), body.data());
  constexpr int kTimeoutMs = 5000;
  bool ok = false;
  std::string failure;
  if (mg_get_response(conn, error, sizeof(error), kTimeoutMs) >= 0) {
    const int status = mg_get_response_info(conn)->status_code;
    ok = status >= 200 && status < 300;
    if (!ok) failure = "HTTP " + std::to_string(status);
  } else {
    failure = error;
  }
  mg_close_connection(conn);
  note_result(path, ok, failure);
  return ok;
}

}  // namespace volley::server::app
