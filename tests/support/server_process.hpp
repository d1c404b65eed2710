// Runs an executable that follows the volley-server contract (DESIGN.md) as a child process for
// tests: spawn it, wait for its `listening ADDR:PORT` line with a timeout, stop it by its own pid
// (SIGINT, the prompt graceful stop, a bounded wait, SIGKILL only as a last resort), and read the flat stats JSON object it
// writes at a graceful stop. Test code only.
#pragma once

#include <sys/types.h>

#include <csignal>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace volley::test {

// A flat JSON object ({"key": number | string | true | false | null, ...}) read into text values.
// Nested objects/arrays are skipped as whole values (kept as raw text); that is all the stats file
// needs. parse() returns nullopt on malformed input so a broken file fails the test loudly.
class FlatJson {
 public:
  static std::optional<FlatJson> parse(const std::string& text);
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // The value as a number; throws std::runtime_error when absent or not numeric.
  double number(const std::string& key) const;
  // The raw text of the value (strings unquoted, escapes resolved for \" and \\ only).
  std::string text(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return values_; }
  std::string dump() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> is_string_;
};

class ServerProcess {
 public:
  // Starts `exe args...` (fork + exec; the child is killed if this process dies) with stdout on a pipe and waits up to `ready_timeout` for a line starting
  // with "listening ". Throws std::runtime_error (with the child's fate) if it does not come.
  ServerProcess(const std::string& exe, std::vector<std::string> args,
                std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  ~ServerProcess();  // stops the child if still running (never leaves it behind)
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  const std::string& listening_address() const { return address_; }  // as printed, e.g. "[::]"
  const std::string& listening_line() const { return line_; }

  // Still running? (reaps it if it has exited, recording the status)
  bool running();
  // `signal` (SIGINT: volley-server's prompt stop; SIGTERM would drain first), then waits up to
  // `timeout`; SIGKILL if it did not exit in time. Returns the exit code, or 128 + signal number
  // if it died by a signal, or -1 if it had to be killed.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30), int signal = SIGINT);
  // Waits up to `timeout` for the child to exit on its own; its exit code, or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The exit code recorded by running()/stop(); nullopt while running.
  std::optional<int> exit_code() const { return exit_code_; }
  // Everything the child wrote on stdout (complete only after it has exited).
  std::string output();

 private:
  void reap_status(int status);
  void drain_stdout();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string address_;
  std::string line_;
  std::mutex output_mutex_;  // output_ is appended by the drainer thread
  std::string output_;
  std::optional<int> exit_code_;
  bool killed_ = false;
  std::thread drainer_;
};

// A unique, not-yet-existing path under $TMPDIR (or /tmp) for a stats file; removed by the caller.
std::string unique_temp_path(const std::string& stem);
std::optional<std::string> read_file_text(const std::string& path);

}  // namespace volley::test
