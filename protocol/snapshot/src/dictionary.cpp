#include "volley/snapshot/dictionary.hpp"

#include <zdict.h>
#include <zstd.h>

#include "volley/snapshot/codec.hpp"
#include "wire.hpp"

namespace volley::snapshot {

std::vector<std::uint8_t> train_dictionary(std::span<const std::vector<std::uint8_t>> samples,
                                           std::size_t dictionary_bytes) {
  constexpr std::size_t kMaxBody = 64 * 1024;
  std::vector<std::uint8_t> bodies;
  std::vector<std::size_t> sizes;
  std::vector<std::uint8_t> scratch(kMaxBody);
  for (const auto& packet : samples) {
    const auto header = Decoder::peek(packet);
    if (!header || (header->flags & kFlagDictionary) != 0) continue;
    const std::uint8_t* z = packet.data() + kHeaderBytes;
    const std::size_t zsize = packet.size() - kHeaderBytes;
    const unsigned long long content = ZSTD_getFrameContentSize(z, zsize);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN || content > kMaxBody)
      continue;
    const std::size_t n = ZSTD_decompress(scratch.data(), scratch.size(), z, zsize);
    if (ZSTD_isError(n)) continue;
    bodies.insert(bodies.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
    sizes.push_back(n);
  }
  if (sizes.empty() || dictionary_bytes == 0) return {};
  std::vector<std::uint8_t> dict(dictionary_bytes);
  const std::size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), bodies.data(), sizes.data(),
                                              static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) return {};
  dict.resize(n);
  return dict;
}

}  // namespace volley::snapshot
