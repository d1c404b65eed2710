// Decoder: every length, count and value read from the packet is checked before it is used;
// the work is bounded by max_packet_bytes and max_entities whatever the packet says.
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "model.hpp"
#include "rice.hpp"
#include "snapshot_generated.h"
#include "volley/snapshot/checksum.hpp"
#include "volley/snapshot/codec.hpp"
#include "wire.hpp"

namespace volley::snapshot {

using detail::BitModel;
using detail::BitReader;
using detail::FieldFlags;
using detail::RangeReader;
using detail::Predictor;
using detail::RiceContext;
using detail::TypeModel;

namespace {
// The body is one table of vectors: nothing nests deeper than 2, nothing has more than 1 table.
constexpr flatbuffers::uoffset_t kMaxDepth = 4;
constexpr flatbuffers::uoffset_t kMaxTables = 4;

template <class T>
bool elements_aligned(const flatbuffers::Vector<T>* v) {
  return v == nullptr || reinterpret_cast<std::uintptr_t>(v->data()) % alignof(T) == 0;
}
}  // namespace

struct Decoder::Impl {
  Schema schema;
  CodecConfig config;
  std::vector<std::uint8_t> dictionary;
  ZSTD_DCtx* dctx = nullptr;
  ZSTD_DDict* ddict = nullptr;
  std::vector<std::uint8_t> body;  // max_packet_bytes, allocated once
  std::vector<std::uint32_t> removed;
  std::vector<RiceContext> delta_ctx, created_ctx;
  std::vector<Predictor> predictors;         // per field of every type
  std::vector<FieldFlags> field_flags;       // per field of every type
  std::vector<TypeModel> models;             // per type
  std::vector<std::uint32_t> created_epoch;  // per type: created_ctx reset for this packet
  std::uint32_t epoch = 0;
  Frame created;

  Impl(const Schema& s, CodecConfig c) : schema(s), config(c) {
    dictionary.assign(c.dictionary.begin(), c.dictionary.end());
    config.dictionary = dictionary;
    dctx = ZSTD_createDCtx();
    // Single-segment frames need no window beyond the content; cap it anyway.
    int window_log = 10;
    while (window_log < 27 && (std::size_t{1} << window_log) < config.max_packet_bytes) ++window_log;
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log);
    if (!dictionary.empty()) {
      ddict = ZSTD_createDDict(dictionary.data(), dictionary.size());
      ZSTD_DCtx_refDDict(dctx, ddict);
    }
    body.resize(config.max_packet_bytes);
    delta_ctx.resize(schema.total_fields());
    created_ctx.resize(schema.total_fields());
    predictors.resize(schema.total_fields());
    field_flags.resize(schema.total_fields());
    models.resize(schema.type_count());
    created_epoch.assign(schema.type_count(), 0);
  }
  ~Impl() {
    ZSTD_freeDDict(ddict);
    ZSTD_freeDCtx(dctx);
  }

  // Reads one created entity (id gap, type, values) into `created`.
  DecodeError read_created(BitReader& r, RiceContext& gap, RiceContext& type_ctx,
                           std::uint64_t& next_id, Frame& into) {
    std::uint32_t z = 0;
    if (!r.rice(gap, 32, z)) return r.overrun() ? DecodeError::kTruncated : DecodeError::kCorruptStream;
    const std::uint64_t id = next_id + z;
    if (id > 0xFFFFFFFFu) return DecodeError::kEntityOutOfRange;
    next_id = id + 1;
    std::uint32_t type = 0;
    if (schema.type_count() > 1 && !r.rice(type_ctx, 16, type))
      return r.overrun() ? DecodeError::kTruncated : DecodeError::kEntityOutOfRange;
    if (type >= schema.type_count()) return DecodeError::kEntityOutOfRange;
    const auto widths = schema.fields(static_cast<std::uint16_t>(type));
    RiceContext* ctx = &created_ctx[schema.first_field(static_cast<std::uint16_t>(type))];
    if (created_epoch[type] != epoch) {
      created_epoch[type] = epoch;
      std::fill(ctx, ctx + widths.size(), RiceContext{});
    }
    const auto values = into.emplace(static_cast<std::uint32_t>(id), static_cast<std::uint16_t>(type), widths.size());
    for (std::size_t k = 0; k < widths.size(); ++k) {
      if (!r.rice(ctx[k], field_bits(widths[k]), z))
        return r.overrun() ? DecodeError::kTruncated : DecodeError::kFieldOutOfRange;
      values[k] = detail::value_from_code(z, widths[k]);
    }
    return DecodeError::kOk;
  }

  DecodeError decode(std::span<const std::uint8_t> packet, const Frame* baseline, Frame& out,
                     std::vector<Event>& events) {
    if (packet.size() > config.max_packet_bytes) return DecodeError::kOversize;
    if (packet.size() < kHeaderBytes) return DecodeError::kTruncated;
    if (packet[0] != detail::kMagic0 || packet[1] != detail::kMagic1) return DecodeError::kBadMagic;
    if (packet[2] != kWireVersion) return DecodeError::kBadVersion;
    const Header h = detail::read_header(packet.data());
    if ((h.flags & ~detail::kKnownFlags) != 0) return DecodeError::kBadFlags;
    if (((h.flags & kFlagDictionary) != 0) != !dictionary.empty())
      return DecodeError::kDictionaryMismatch;
    const Frame* base = h.delta() ? baseline : nullptr;
    if (h.delta() && (baseline == nullptr || baseline->number != h.baseline))
      return DecodeError::kBaselineMismatch;

    const auto zframe = packet.subspan(kHeaderBytes);
    const unsigned long long content = ZSTD_getFrameContentSize(zframe.data(), zframe.size());
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN)
      return DecodeError::kCorruptCompression;
    if (content > config.max_packet_bytes) return DecodeError::kOversize;
    if (ZSTD_findFrameCompressedSize(zframe.data(), zframe.size()) != zframe.size())
      return DecodeError::kCorruptCompression;
    // Capacity is the buffer's, not the declared size: the check above is not the only guard.
    const std::size_t n = ZSTD_decompressDCtx(dctx, body.data(), body.size(), zframe.data(), zframe.size());
    if (ZSTD_isError(n) || n != content) return DecodeError::kCorruptCompression;

    flatbuffers::Verifier verifier(body.data(), n, kMaxDepth, kMaxTables);
    if (!wire::VerifySnapshotBuffer(verifier)) return DecodeError::kVerifyFailed;
    const wire::Snapshot* s = wire::GetSnapshot(body.data());

    if (const DecodeError e = read_events(*s, events); e != DecodeError::kOk) return e;
    if (const DecodeError e = read_entities(*s, base, out); e != DecodeError::kOk) return e;
    out.number = h.frame;
    if (state_checksum(out, events) != h.checksum) return DecodeError::kBadChecksum;
    return DecodeError::kOk;
  }

  DecodeError read_events(const wire::Snapshot& s, std::vector<Event>& events) {
    const auto* ids = s.event_ids();
    const auto* kinds = s.event_kinds();
    const auto* sizes = s.event_sizes();
    const auto* payload = s.event_payload();
    // The FlatBuffers verifier checks a vector's length field, not its elements' alignment: a
    // crafted body can put [uint64] at an address that is not a multiple of 8, and reading it
    // would be undefined behaviour. Our encoder always aligns them (found by the fuzz target).
    if (!elements_aligned(ids) || !elements_aligned(kinds)) return DecodeError::kVerifyFailed;
    const std::size_t count = ids != nullptr ? ids->size() : 0;
    if (count > config.max_events) return DecodeError::kEventOutOfRange;
    if ((kinds != nullptr ? kinds->size() : 0) != count || (sizes != nullptr ? sizes->size() : 0) != count)
      return DecodeError::kEventOutOfRange;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += sizes->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (total != (payload != nullptr ? payload->size() : 0)) return DecodeError::kEventOutOfRange;
    events.resize(count);
    // No payload vector at all is valid when every event is empty (total is 0 then).
    const std::uint8_t* bytes = payload != nullptr ? payload->data() : nullptr;
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const auto idx = static_cast<flatbuffers::uoffset_t>(i);
      events[i].id = ids->Get(idx);
      events[i].kind = kinds->Get(idx);
      const std::size_t size = sizes->Get(idx);
      events[i].payload.clear();
      if (size > 0) events[i].payload.assign(bytes + at, bytes + at + size);
      at += size;
    }
    return DecodeError::kOk;
  }

  DecodeError read_entities(const wire::Snapshot& s, const Frame* base, Frame& out) {
    const std::size_t base_size = base != nullptr ? base->size() : 0;
    const auto* data_v = s.data();
    if (data_v == nullptr) return DecodeError::kTruncated;
    const std::span<const std::uint8_t> data(data_v->data(), data_v->size());
    std::size_t flags_size = 0, at_byte = 0;
    for (int shift = 0;; shift += 7) {  // LEB128 length of the flags
      if (at_byte >= data.size() || shift > 28) return DecodeError::kTruncated;
      const std::uint8_t byte = data[at_byte++];
      flags_size |= static_cast<std::size_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (flags_size > data.size() - at_byte) return DecodeError::kTruncated;
    const auto flags = data.subspan(at_byte, flags_size);
    BitReader r(data.subspan(at_byte + flags_size));
    std::uint32_t counts[4] = {};
    for (std::uint32_t& c : counts)
      if (!r.universal(c)) return DecodeError::kTruncated;
    const std::size_t entities = counts[0], n_removed = counts[1], n_changed = counts[2],
                      n_created = counts[3];
    if (n_created > entities || n_removed > base_size || n_changed > base_size - n_removed ||
        base_size - n_removed + n_created != entities)
      return DecodeError::kEntityOutOfRange;
    // Apart from the consistency errors: a frame this end's cap refuses (a client's Receiver
    // caps lower than a server may send) is a setting to raise, not a corrupt packet.
    if (entities > config.max_entities) return DecodeError::kTooManyEntities;
    // The changed flags' hint field follows the counts when there are flags to code.
    std::uint32_t hint = detail::kNoHint;
    if (n_changed > 0 && n_changed != base_size - n_removed) {
      std::uint32_t coded = 0;
      if (!r.universal(coded)) return DecodeError::kTruncated;
      if (coded > kMaxFieldsPerType) return DecodeError::kCorruptStream;
      if (coded > 0) hint = coded - 1;
    }
    if (base != nullptr) {
      for (std::size_t i = 0; i < base_size; ++i)
        if (base->type(i) >= schema.type_count() ||
            base->values(i).size() != schema.fields(base->type(i)).size())
          return DecodeError::kBaselineMismatch;
    }
    if (++epoch == 0) {  // after 2^32 packets: make every stale epoch stale again
      for (TypeModel& m : models) m.epoch = 0;
      std::fill(created_epoch.begin(), created_epoch.end(), 0);
      epoch = 1;
    }
    // The removed-gap context starts from the mean gap the counts imply (as the encoder's does).
    const std::size_t kept = base_size - n_removed;
    RiceContext removed_gap(kept / (n_removed + 1)), created_gap, type_ctx;
    std::uint32_t z = 0;
    const auto stream_error = [&r](DecodeError otherwise) {
      return r.overrun() ? DecodeError::kTruncated : otherwise;
    };

    // One allocation at most per frame, not a growth sequence (a fresh `out` reaches its size
    // at once; a reused one already has it).
    out.reserve(entities, base != nullptr ? base->all_values().size() + n_created * 8 : entities * 8);
    removed.clear();
    std::uint64_t at = 0;
    for (std::size_t i = 0; i < n_removed; ++i) {
      if (!r.rice(removed_gap, 32, z)) return stream_error(DecodeError::kCorruptStream);
      at += z;
      if (at >= base_size) return DecodeError::kEntityOutOfRange;
      removed.push_back(static_cast<std::uint32_t>(at));
      ++at;
    }

    out.clear();
    Frame& created_into = base != nullptr ? created : out;
    created_into.clear();
    std::uint64_t next_id = 0;
    for (std::size_t i = 0; i < n_created; ++i)
      if (const DecodeError e = read_created(r, created_gap, type_ctx, next_id, created_into);
          e != DecodeError::kOk)
        return e;
    if (base == nullptr) return flags.empty() ? finish_stream(r) : DecodeError::kCorruptStream;

    // Walk the kept baseline entities in id order, applying the changed ones and merging the
    // created ones in between.
    std::size_t next_created = 0, removed_at = 0, changed_done = 0;
    RangeReader f(n_changed > 0 ? flags : std::span<const std::uint8_t>());
    if (n_changed == 0 && !flags.empty()) return DecodeError::kCorruptStream;
    BitModel changed_flag[2][2];
    const bool every_kept_changed = n_changed == kept;

    bool previous_changed = false;
    // Unchanged kept entities are copied in runs, not one by one.
    std::size_t run_first = 0, run_count = 0;
    const auto flush_run = [&]() {
      out.append(*base, run_first, run_count);
      run_count = 0;
    };
    const auto flush_created = [&](std::uint64_t below) {
      if (next_created < created.size() && created.id(next_created) < below) flush_run();
      while (next_created < created.size() && created.id(next_created) < below) {
        out.add(created.id(next_created), created.type(next_created), created.values(next_created));
        ++next_created;
      }
    };
    for (std::size_t b = 0; b < base_size; ++b) {
      if (removed_at < removed.size() && removed[removed_at] == b) {
        ++removed_at;
        flush_run();
        continue;
      }
      const std::uint32_t id = base->id(b);
      flush_created(id);
      if (next_created < created.size() && created.id(next_created) == id)
        return DecodeError::kEntityOutOfRange;
      const std::uint16_t type = base->type(b);
      const auto bv = base->values(b);
      bool changed = false;
      if (changed_done < n_changed) {
        changed = every_kept_changed || f.bit(changed_flag[previous_changed][detail::hinted(bv, hint)]);
        previous_changed = changed;
      }
      if (changed) {
        flush_run();
        const auto widths = schema.fields(type);
        const std::size_t first = schema.first_field(type);
        RiceContext* ctx = &delta_ctx[first];
        FieldFlags* ff = &field_flags[first];
        Predictor* pred = &predictors[first];
        TypeModel& model = models[type];
        if (model.epoch != epoch) {  // first changed entity of this type: its predictors
          model.reset(epoch);
          std::fill(ff, ff + widths.size(), FieldFlags{});
          for (std::size_t k = 0; k < widths.size(); ++k) {
            pred[k] = Predictor{};
            std::uint32_t k0 = 0;
            if (!r.universal(k0)) return stream_error(DecodeError::kCorruptStream);
            if (k0 > 31) return DecodeError::kCorruptStream;
            ctx[k] = RiceContext(std::uint64_t{1} << k0);
            if (r.get(1) == 0) continue;
            std::uint32_t source = 0, a = 0, c = 0;
            if (!r.universal(source) || !r.universal(a) || !r.universal(c))
              return stream_error(DecodeError::kCorruptStream);
            if (source >= widths.size()) return DecodeError::kFieldOutOfRange;
            pred[k].used = true;
            pred[k].source = static_cast<std::uint8_t>(source);
            pred[k].a = detail::unzigzag(a);
            pred[k].c = detail::unzigzag(c);
          }
        }
        std::uint64_t mask = 0;
        bool previous = true;
        for (std::size_t k = 0; k < widths.size(); ++k) {
          previous = f.bit(ff[k].changed[previous]);
          mask |= std::uint64_t{previous} << k;
        }
        if (f.overrun()) return DecodeError::kTruncated;
        if (mask == 0) return DecodeError::kCorruptStream;
        const auto values = out.emplace(id, type, widths.size());
        int shift = 0;  // as the encoder's write_changed()
        for (std::size_t k = 0; k < widths.size(); ++k) {
          values[k] = bv[k];
          if (((mask >> k) & 1u) == 0) continue;
          const int bits = field_bits(widths[k]);
          if (!pred[k].used && bits == 1) {
            z = 1;  // the only change a 1-bit field has
          } else {
            const int used = std::clamp(ctx[k].k() + shift, 0, 31);
            if (!r.rice(ctx[k], bits, z, shift)) return stream_error(DecodeError::kFieldOutOfRange);
            shift = detail::nudge(z, used);
            if (!pred[k].used) {  // z - 1 was sent
              if (bits < 32 ? (z + 1) >> bits != 0 : z == 0xFFFFFFFFu) return DecodeError::kFieldOutOfRange;
              ++z;
            }
          }
          values[k] = detail::apply_residual(static_cast<std::int32_t>(pred[k].target(bv[k], bv.data())), z, widths[k]);
        }
        ++changed_done;
      } else {
        if (run_count == 0) run_first = b;
        ++run_count;
      }
    }
    flush_run();
    if (changed_done != n_changed) return DecodeError::kEntityOutOfRange;
    if (n_changed > 0 && f.overrun()) return DecodeError::kTruncated;
    if (f.remaining() != 0) return DecodeError::kCorruptStream;
    flush_created(std::uint64_t{1} << 32);
    return finish_stream(r);
  }

  // Everything the counts announced was read; nothing but the last byte's padding may remain.
  static DecodeError finish_stream(const BitReader& r) {
    if (r.overrun()) return DecodeError::kTruncated;
    if (r.remaining_bits() >= 8) return DecodeError::kCorruptStream;
    return DecodeError::kOk;
  }
};

Decoder::Decoder(const Schema& schema, CodecConfig config)
    : impl_(std::make_unique<Impl>(schema, config)) {}
Decoder::~Decoder() = default;

std::optional<Header> Decoder::peek(std::span<const std::uint8_t> packet) noexcept {
  if (packet.size() < kHeaderBytes || packet[0] != detail::kMagic0 ||
      packet[1] != detail::kMagic1 || packet[2] != kWireVersion)
    return std::nullopt;
  return detail::read_header(packet.data());
}

DecodeError Decoder::decode(std::span<const std::uint8_t> packet, const Frame* baseline, Frame& out,
                            std::vector<Event>& events) {
  return impl_->decode(packet, baseline, out, events);
}

}  // namespace volley::snapshot
