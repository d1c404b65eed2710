// Runs a tool executable under the shell for the CLI tests: stdin from a string, stdout split
// into lines, stderr kept whole, and whether it exited normally (a crash is not an exit code).
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace volley::test {

struct Run {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;
  std::vector<std::string> lines;  // stdout
  std::string err;
};

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/volley-tools-test-XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline constexpr int kRunLimitS = 120;

inline Run run(const TempDir& dir, const std::string& command, const std::string& input = {}) {
  {
    std::ofstream(dir.file("stdin"), std::ios::binary) << input;
  }
  // Bounded: a tool that should have refused its flags at once but runs instead ends within
  // kRunLimitS (coreutils timeout, exit code 124) rather than holding the suite until ctest's
  // own timeout.
  const std::string full = "timeout -k 5 " + std::to_string(kRunLimitS) + " " + command + " < '" +
                           dir.file("stdin") + "' > '" + dir.file("stdout") + "' 2> '" + dir.file("stderr") + "'";
  const int status = std::system(full.c_str());
  Run result;
  // The shell reports a tool killed by signal N as exit code 128 + N.
  result.exited = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) < 128;
  result.code = result.exited ? WEXITSTATUS(status) : -1;
  std::istringstream out(read_file(dir.file("stdout")));
  for (std::string line; std::getline(out, line);) result.lines.push_back(line);
  result.err = read_file(dir.file("stderr"));
  return result;
}

}  // namespace volley::test
