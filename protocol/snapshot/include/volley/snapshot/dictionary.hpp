// zstd dictionary training from recorded snapshots. Both ends must load the same dictionary
// (CodecConfig::dictionary); a packet's header says whether it was compressed with one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace volley::snapshot {

// Trains a dictionary of at most `dictionary_bytes` (ZDICT) from packets exactly as
// Encoder::encode wrote them *without* a dictionary: each is decompressed (bounded to 64 KiB) and
// the dictionary is trained on the FlatBuffer bodies. Samples that are not such packets are
// skipped. Returns an empty vector when zstd cannot train one (too few or too small samples).
std::vector<std::uint8_t> train_dictionary(std::span<const std::vector<std::uint8_t>> samples,
                                           std::size_t dictionary_bytes);

}  // namespace volley::snapshot
