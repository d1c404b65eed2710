// Encoder: frame (+ baseline) -> columns -> FlatBuffer -> zstd, behind the fixed header.
// Body stream order (the decoder reads it in the same order): removed baseline indices as gaps,
// created entities (id gap, type, values), then changed kept entities (gap in kept order,
// residuals of the fields their mask names). Every buffer is a member, reused from call to call.
#include <zstd.h>

#include <cstring>

#include "rice.hpp"
#include "snapshot_generated.h"
#include "volley/snapshot/checksum.hpp"
#include "volley/snapshot/codec.hpp"
#include "wire.hpp"

namespace volley::snapshot {

using detail::BitWriter;
using detail::RiceContext;

struct Encoder::Impl {
  Schema schema;
  CodecConfig config;
  std::vector<std::uint8_t> dictionary;
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_CDict* cdict = nullptr;
  flatbuffers::FlatBufferBuilder fbb{4096};
  std::vector<std::uint8_t> bits, masks, event_sizes, event_payload;
  std::vector<std::uint64_t> event_ids;
  std::vector<std::uint16_t> event_kinds;
  std::vector<std::uint32_t> removed, created;           // baseline / next indices
  std::vector<std::uint32_t> changed_base, changed_next;  // pairs of indices
  std::vector<std::uint32_t> changed_kept;                // index among kept baseline entities
  std::vector<RiceContext> delta_ctx, created_ctx;
  std::span<const std::uint8_t> last_body;

  Impl(const Schema& s, CodecConfig c) : schema(s), config(c) {
    dictionary.assign(c.dictionary.begin(), c.dictionary.end());
    config.dictionary = dictionary;
    cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, config.zstd_level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    if (!dictionary.empty()) {
      cdict = ZSTD_createCDict(dictionary.data(), dictionary.size(), config.zstd_level);
      ZSTD_CCtx_refCDict(cctx, cdict);
    }
  }
  ~Impl() {
    ZSTD_freeCDict(cdict);
    ZSTD_freeCCtx(cctx);
  }

  bool valid(const Frame& f) const {
    if (f.size() > config.max_entities) return false;
    for (std::size_t i = 0; i < f.size(); ++i) {
      if (i > 0 && f.id(i) <= f.id(i - 1)) return false;
      if (f.type(i) >= schema.type_count()) return false;
      const auto widths = schema.fields(f.type(i));
      const auto values = f.values(i);
      if (values.size() != widths.size()) return false;
      for (std::size_t k = 0; k < values.size(); ++k)
        if (!fits(widths[k], values[k])) return false;
    }
    return true;
  }

  void diff(const Frame& base, const Frame& next) {
    std::size_t b = 0, n = 0, kept = 0;
    while (b < base.size() || n < next.size()) {
      if (n == next.size() || (b < base.size() && base.id(b) < next.id(n))) {
        removed.push_back(static_cast<std::uint32_t>(b++));
      } else if (b == base.size() || next.id(n) < base.id(b)) {
        created.push_back(static_cast<std::uint32_t>(n++));
      } else if (base.type(b) != next.type(n)) {  // same id, new type: replace it
        removed.push_back(static_cast<std::uint32_t>(b++));
        created.push_back(static_cast<std::uint32_t>(n++));
      } else {
        const auto bv = base.values(b);
        const auto nv = next.values(n);
        if (std::memcmp(bv.data(), nv.data(), bv.size() * sizeof(std::int32_t)) != 0) {
          changed_base.push_back(static_cast<std::uint32_t>(b));
          changed_next.push_back(static_cast<std::uint32_t>(n));
          changed_kept.push_back(static_cast<std::uint32_t>(kept));
        }
        ++b, ++n, ++kept;
      }
    }
  }

  void write_stream(const Frame* base, const Frame& next) {
    BitWriter w(bits);
    const std::size_t base_size = base != nullptr ? base->size() : 0;
    const std::size_t kept = base_size - removed.size();
    RiceContext removed_gap(kept / (removed.size() + 1)), created_gap, type_ctx;
    RiceContext changed_gap((kept - changed_kept.size()) / (changed_kept.size() + 1));
    std::uint32_t prev = 0;
    for (std::size_t i = 0; i < removed.size(); ++i) {
      w.rice(removed_gap, removed[i] - (i == 0 ? 0 : prev + 1), 32);
      prev = removed[i];
    }
    std::uint32_t next_id = 0;  // smallest id the next created entity may have
    for (const std::uint32_t n : created) {
      w.rice(created_gap, next.id(n) - next_id, 32);
      next_id = next.id(n) + 1;
      const std::uint16_t type = next.type(n);
      if (schema.type_count() > 1) w.rice(type_ctx, type, 16);
      const auto widths = schema.fields(type);
      const auto values = next.values(n);
      RiceContext* ctx = &created_ctx[schema.first_field(type)];
      for (std::size_t k = 0; k < widths.size(); ++k)
        w.rice(ctx[k], detail::value_code(values[k], widths[k]), field_bits(widths[k]));
    }
    for (std::size_t c = 0; c < changed_kept.size(); ++c) {
      w.rice(changed_gap, changed_kept[c] - (c == 0 ? 0 : changed_kept[c - 1] + 1), 32);
      const std::uint16_t type = next.type(changed_next[c]);
      const auto widths = schema.fields(type);
      const auto bv = base->values(changed_base[c]);
      const auto nv = next.values(changed_next[c]);
      RiceContext* ctx = &delta_ctx[schema.first_field(type)];
      std::uint64_t mask = 0;
      for (std::size_t k = 0; k < widths.size(); ++k) {
        if (bv[k] == nv[k]) continue;
        mask |= std::uint64_t{1} << k;
        w.rice(ctx[k], detail::residual(nv[k], bv[k], field_bits(widths[k])), field_bits(widths[k]));
      }
      for (std::size_t byte = 0; byte < (widths.size() + 7) / 8; ++byte)
        masks.push_back(static_cast<std::uint8_t>(mask >> (8 * byte)));
    }
    w.finish();
  }

  std::size_t encode(const Frame* base, const Frame& next, std::span<const Event> events,
                     std::span<std::uint8_t> out) {
    last_body = {};
    if (!valid(next) || (base != nullptr && !valid(*base)) || events.size() > config.max_events)
      return 0;
    removed.clear(), created.clear(), changed_base.clear(), changed_next.clear();
    changed_kept.clear(), masks.clear();
    delta_ctx.assign(schema.total_fields(), RiceContext{});
    created_ctx.assign(schema.total_fields(), RiceContext{});
    if (base != nullptr) {
      diff(*base, next);
    } else {
      for (std::size_t n = 0; n < next.size(); ++n) created.push_back(static_cast<std::uint32_t>(n));
    }
    write_stream(base, next);

    event_ids.clear(), event_kinds.clear(), event_sizes.clear(), event_payload.clear();
    for (const Event& e : events) {
      if (e.payload.size() > kMaxEventPayload) return 0;
      event_ids.push_back(e.id);
      event_kinds.push_back(e.kind);
      event_sizes.push_back(static_cast<std::uint8_t>(e.payload.size()));
      event_payload.insert(event_payload.end(), e.payload.begin(), e.payload.end());
    }

    fbb.Clear();
    const auto masks_v = fbb.CreateVector(masks);
    const auto bits_v = fbb.CreateVector(bits);
    flatbuffers::Offset<flatbuffers::Vector<std::uint64_t>> ids_v;
    flatbuffers::Offset<flatbuffers::Vector<std::uint16_t>> kinds_v;
    flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> sizes_v, payload_v;
    if (!events.empty()) {
      ids_v = fbb.CreateVector(event_ids);
      kinds_v = fbb.CreateVector(event_kinds);
      sizes_v = fbb.CreateVector(event_sizes);
      payload_v = fbb.CreateVector(event_payload);
    }
    wire::SnapshotBuilder sb(fbb);
    sb.add_entities(static_cast<std::uint32_t>(next.size()));
    sb.add_removed(static_cast<std::uint32_t>(removed.size()));
    sb.add_changed(static_cast<std::uint32_t>(changed_kept.size()));
    sb.add_created(static_cast<std::uint32_t>(created.size()));
    if (!masks.empty()) sb.add_masks(masks_v);
    if (!bits.empty()) sb.add_bits(bits_v);
    if (!events.empty()) {
      sb.add_event_ids(ids_v);
      sb.add_event_kinds(kinds_v);
      sb.add_event_sizes(sizes_v);
      sb.add_event_payload(payload_v);
    }
    fbb.Finish(sb.Finish());

    if (out.size() <= kHeaderBytes) return 0;
    const std::size_t n = ZSTD_compress2(cctx, out.data() + kHeaderBytes, out.size() - kHeaderBytes,
                                         fbb.GetBufferPointer(), fbb.GetSize());
    if (ZSTD_isError(n)) return 0;
    Header h;
    h.frame = next.number;
    h.baseline = base != nullptr ? base->number : 0;
    h.flags = static_cast<std::uint8_t>((base != nullptr ? kFlagDelta : 0) |
                                        (dictionary.empty() ? 0 : kFlagDictionary));
    h.checksum = state_checksum(next, events);
    detail::write_header(out.data(), h);
    last_body = {fbb.GetBufferPointer(), fbb.GetSize()};
    return kHeaderBytes + n;
  }
};

Encoder::Encoder(const Schema& schema, CodecConfig config)
    : impl_(std::make_unique<Impl>(schema, config)) {}
Encoder::~Encoder() = default;

std::size_t Encoder::encode(const Frame* baseline, const Frame& next, std::span<const Event> events,
                            std::span<std::uint8_t> out) {
  return impl_->encode(baseline, next, events, out);
}

std::span<const std::uint8_t> Encoder::last_body() const noexcept { return impl_->last_body; }

}  // namespace volley::snapshot
