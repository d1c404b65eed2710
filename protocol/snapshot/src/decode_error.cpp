#include "volley/snapshot/codec.hpp"

namespace volley::snapshot {

std::string_view decode_error_name(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::kOk: return "ok";
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kBadMagic: return "bad_magic";
    case DecodeError::kBadVersion: return "bad_version";
    case DecodeError::kBadFlags: return "bad_flags";
    case DecodeError::kDictionaryMismatch: return "dictionary_mismatch";
    case DecodeError::kBaselineMismatch: return "baseline_mismatch";
    case DecodeError::kCorruptCompression: return "corrupt_compression";
    case DecodeError::kOversize: return "oversize";
    case DecodeError::kVerifyFailed: return "verify_failed";
    case DecodeError::kEntityOutOfRange: return "entity_out_of_range";
    case DecodeError::kFieldOutOfRange: return "field_out_of_range";
    case DecodeError::kEventOutOfRange: return "event_out_of_range";
    case DecodeError::kCorruptStream: return "corrupt_stream";
    case DecodeError::kBadChecksum: return "bad_checksum";
    case DecodeError::kTooManyEntities: return "too_many_entities";
    case DecodeError::kCount: break;
  }
  return "unknown";
}

}  // namespace volley::snapshot
