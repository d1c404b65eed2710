// What every fuzz target shares: the libFuzzer entry point, a reader that turns the input bytes
// into the values a target needs, and a check that aborts (libFuzzer records the input as a
// crash; the corpus replay test fails) with the broken condition named.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#define VOLLEY_FUZZ_CHECK(cond)                                                       \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace volley::fuzz {

// Reads fixed-size values from the front of the input; past the end every read yields zero, so
// a target never has to check lengths and every input is a complete (if short) script.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}
  explicit Reader(std::span<const std::uint8_t> bytes) : rest_(bytes) {}

  bool empty() const noexcept { return rest_.empty(); }
  std::size_t remaining() const noexcept { return rest_.size(); }
  std::uint8_t u8() noexcept {
    if (rest_.empty()) return 0;
    const std::uint8_t v = rest_[0];
    rest_ = rest_.subspan(1);
    return v;
  }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(u16() | (std::uint32_t{u16()} << 16)); }
  bool flag() noexcept { return (u8() & 1) != 0; }
  // Up to `n` bytes (fewer at the end of the input).
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    if (n > rest_.size()) n = rest_.size();
    const auto out = rest_.first(n);
    rest_ = rest_.subspan(n);
    return out;
  }
  std::span<const std::uint8_t> rest() noexcept { return bytes(rest_.size()); }

 private:
  std::span<const std::uint8_t> rest_;
};

// The entry point of a script target: `Script` reads its operations from the input and runs
// them (its run() checks the invariants and aborts on a broken one).
template <class Script>
int run_script(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  Script script(in);
  script.run();
  return 0;
}

}  // namespace volley::fuzz
