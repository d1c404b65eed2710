// --agones: the Agones game-server lifecycle through the SDK sidecar's local REST endpoints
// (POST /ready, /health, /shutdown with a JSON body "{}"), on one thread of its own using
// civetweb's HTTP client, so the calls leave in order and the loop never waits on them.
// The sidecar is at localhost:$AGONES_SDK_HTTP_PORT (9358 when unset).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace volley::server::app {

struct AgonesEndpoint {
  std::string host = "localhost";
  int port = 9358;
};
// From AGONES_SDK_HTTP_PORT; `error` is set (one line) when it is not a port number.
AgonesEndpoint agones_endpoint_from_env(std::string& error);

class Agones {
 public:
  using Log = std::function<void(const std::string& level, const std::string& text)>;
  // `healthy` is asked before each Health call: no ping while the loop is stalled, so Agones
  // sees the server unhealthy after its failure threshold. `winding_down` is asked before each
  // Ready attempt: once the server drains or stops, a Ready not yet through is never sent (it
  // would let Agones allocate players to a server that refuses them).
  Agones(AgonesEndpoint endpoint, std::chrono::milliseconds health_interval,
         std::function<bool()> healthy, std::function<bool()> winding_down, Log log);
  ~Agones();  // shutdown() if not yet asked, then joins
  Agones(const Agones&) = delete;
  Agones& operator=(const Agones&) = delete;

  void ready();     // the server is listening: Ready (retried until it succeeds), then Health
  void shutdown();  // the server is ending: Shutdown, then the thread ends

 private:
  void run();
  bool call(const char* path);  // one POST; true on a 2xx answer
  void note_result(const char* path, bool ok, const std::string& failure);  // logs, rate-limited

  AgonesEndpoint endpoint_;
  std::chrono::milliseconds health_interval_;
  std::function<bool()> healthy_;
  std::function<bool()> winding_down_;
  Log log_;
  // A failing call is logged when it starts failing, then once a minute while it keeps failing
  // (Ready is retried every second, Health every interval), and once when it succeeds again.
  std::chrono::steady_clock::time_point next_failure_log_{};
  bool failing_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool ready_asked_ = false;
  bool shutdown_asked_ = false;
  std::thread thread_;
};

}  // namespace volley::server::app
