// Child-process control for interop tests; see server_process.hpp for the contract it follows.
#include "support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace volley::test {
namespace {

using Clock = std::chrono::steady_clock;

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  void space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool at_end() {
    space();
    return i_ == s_.size();
  }
  std::optional<std::string> string() {
    space();
    if (i_ >= s_.size() || s_[i_] != '"') return std::nullopt;
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;  // keeps the escaped char (enough for keys)
      out += s_[i_++];
    }
    if (i_ >= s_.size()) return std::nullopt;
    ++i_;
    return out;
  }
  // A non-string value: a scalar token, or a nested object/array kept as raw text.
  std::optional<std::string> raw_value() {
    space();
    const std::size_t start = i_;
    if (i_ < s_.size() && (s_[i_] == '{' || s_[i_] == '[')) {
      int depth = 0;
      bool in_string = false;
      for (; i_ < s_.size(); ++i_) {
        const char c = s_[i_];
        if (in_string) {
          if (c == '\\') ++i_;
          else if (c == '"') in_string = false;
          continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') ++depth;
        else if ((c == '}' || c == ']') && --depth == 0) {
          ++i_;
          return s_.substr(start, i_ - start);
        }
      }
      return std::nullopt;
    }
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' &&
           !std::isspace(static_cast<unsigned char>(s_[i_]))) {
      ++i_;
    }
    if (i_ == start) return std::nullopt;
    return s_.substr(start, i_ - start);
  }
  bool peek_quote() {
    space();
    return i_ < s_.size() && s_[i_] == '"';
  }

 private:
  const std::string& s_;
  std::size_t i_ = 0;
};

}  // namespace

std::optional<FlatJson> FlatJson::parse(const std::string& text) {
  FlatJson out;
  Parser p(text);
  if (!p.eat('{')) return std::nullopt;
  if (!p.eat('}')) {
    do {
      auto key = p.string();
      if (!key || !p.eat(':')) return std::nullopt;
      const bool quoted = p.peek_quote();
      auto value = quoted ? p.string() : p.raw_value();
      if (!value) return std::nullopt;
      out.values_[*key] = *value;
      out.is_string_[*key] = quoted;
    } while (p.eat(','));
    if (!p.eat('}')) return std::nullopt;
  }
  if (!p.at_end()) return std::nullopt;
  return out;
}

double FlatJson::number(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::runtime_error("stats JSON has no key " + key);
  if (is_string_.at(key)) throw std::runtime_error("stats JSON key " + key + " is a string");
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end != '\0') throw std::runtime_error("stats JSON key " + key + " is not a number");
  return v;
}

std::string FlatJson::text(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::runtime_error("stats JSON has no key " + key);
  return it->second;
}

std::string FlatJson::dump() const {
  std::string s;
  for (const auto& [k, v] : values_) s += k + "=" + v + " ";
  return s;
}

std::string unique_temp_path(const std::string& stem) {
  static std::atomic<unsigned> counter{0};
  const char* dir = std::getenv("TMPDIR");
  std::string base = (dir != nullptr && *dir != '\0') ? dir : "/tmp";
  const auto now = Clock::now().time_since_epoch().count();
  return base + "/" + stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(now % 1000000007);
}

std::optional<std::string> read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ServerProcess::ServerProcess(const std::string& exe, std::vector<std::string> args,
                             std::chrono::milliseconds ready_timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> argv_store;
  argv_store.push_back(exe);
  for (auto& a : args) argv_store.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  // fork + exec rather than posix_spawn: the child asks the kernel to SIGKILL it when this test
  // process dies, so a test that crashes (a sanitizer abort) never leaves a server running that
  // holds ctest's output pipe open. Only async-signal-safe calls between fork and exec.
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent already died
    ::dup2(fds[1], STDOUT_FILENO);           // dup2 clears close-on-exec on fd 1 only
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  stdout_fd_ = fds[0];

  // Read until the listening line, the child's exit (EOF) or the deadline.
  const auto deadline = Clock::now() + ready_timeout;
  std::string buffer;
  while (true) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      output_ += line + "\n";
      if (line.rfind("listening ", 0) == 0) {
        line_ = line;
        break;
      }
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      stop(std::chrono::seconds(5));
      throw std::runtime_error("server printed no 'listening' line in time; stdout so far: " + output_ + buffer);
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100))) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: the child closed stdout, normally by exiting (bad flags: exit 2 and a stderr line).
    const int code = stop(std::chrono::seconds(5));
    throw std::runtime_error("server exited before listening (exit " + std::to_string(code) + "); stdout: " +
                             output_ + buffer);
  }
  output_ += buffer;

  // "listening ADDR:PORT": the port is after the last ':' (IPv6 addresses contain ':' too).
  const std::string endpoint = line_.substr(std::strlen("listening "));
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    stop(std::chrono::seconds(5));
    throw std::runtime_error("malformed listening line: " + line_);
  }
  address_ = endpoint.substr(0, colon);
  const long port = std::strtol(endpoint.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) {
    stop(std::chrono::seconds(5));
    throw std::runtime_error("bad port in listening line: " + line_);
  }
  port_ = static_cast<std::uint16_t>(port);
  // Keep draining stdout so a chatty child never blocks on a full pipe.
  drainer_ = std::thread([this] { drain_stdout(); });
}

void ServerProcess::drain_stdout() {
  char chunk[4096];
  std::string local;
  while (true) {
    const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n > 0) {
      local.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  const std::lock_guard lock(output_mutex_);
  output_ += local;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exit_code_) stop(std::chrono::seconds(10));
  if (drainer_.joinable()) drainer_.join();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ServerProcess::reap_status(int status) {
  if (killed_) exit_code_ = -1;
  else if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) exit_code_ = 128 + WTERMSIG(status);
  else exit_code_ = -1;
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reap_status(status);
    return false;
  }
  return true;
}

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

int ServerProcess::stop(std::chrono::milliseconds timeout, int signal) {
  if (pid_ <= 0) return -1;
  if (exit_code_) return *exit_code_;
  ::kill(pid_, signal);
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reap_status(status);
      return *exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      exit_code_ = -1;
      return -1;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Last resort: the child ignored the signal past the bound. Kill it by its own pid and reap it.
  killed_ = true;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap_status(status);
  return -1;
}

std::string ServerProcess::output() {
  if (exit_code_ && drainer_.joinable()) drainer_.join();
  const std::lock_guard lock(output_mutex_);
  return output_;
}

}  // namespace volley::test
