// Encoder: frame (+ baseline) -> columns -> FlatBuffer -> zstd, behind the fixed header.
// Body stream order (the decoder reads it in the same order): removed baseline indices as gaps,
// created entities (id gap, type, values), then changed kept entities (gap in kept order; the
// type's predictors the first time the type appears; the change mask; the residuals of the
// fields the mask names). Every buffer is a member, reused from call to call.
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "model.hpp"
#include "rice.hpp"
#include "snapshot_generated.h"
#include "volley/snapshot/checksum.hpp"
#include "volley/snapshot/codec.hpp"
#include "wire.hpp"

namespace volley::snapshot {

using detail::BitWriter;
using detail::BitModel;
using detail::FieldFlags;
using detail::Predictor;
using detail::RangeWriter;
using detail::RiceContext;
using detail::TypeModel;

namespace {

// Rough cost in bits of coding `z` with a well-adapted Rice code: enough to rank predictors.
int cost_bits(std::uint32_t z) noexcept { return std::bit_width(z) + 1; }

std::int32_t signed_residual(std::uint32_t next, std::uint32_t target, int bits) noexcept {
  const std::uint32_t m = detail::width_mask(bits);
  std::uint32_t d = (next - target) & m;
  if (bits < 32 && ((d >> (bits - 1)) & 1u)) d |= ~m;
  return static_cast<std::int32_t>(d);
}

int universal_bits(std::uint32_t v) noexcept {
  return 2 * (std::bit_width(std::uint64_t{v} + 1) - 1) + 1;
}

// Fields of types wider than this are not searched for a linear source (CPU bound).
constexpr std::size_t kMaxPredictorSearch = 16;

}  // namespace

struct Encoder::Impl {
  Schema schema;
  CodecConfig config;
  std::vector<std::uint8_t> dictionary;
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_CDict* cdict = nullptr;
  flatbuffers::FlatBufferBuilder fbb{4096};
  std::vector<std::uint8_t> bits, flags, data, event_sizes, event_payload;
  std::size_t bits_size = 0;  // bytes of `bits` in use (the buffer keeps its size)
  std::uint32_t hint = detail::kNoHint;  // see choose_hint()
  std::vector<std::uint64_t> event_ids;
  std::vector<std::uint16_t> event_kinds;
  std::vector<std::uint32_t> removed, created;           // baseline / next indices
  std::vector<std::uint32_t> changed_base, changed_next;  // pairs of indices
  std::vector<std::uint32_t> changed_kept;                // index among kept baseline entities
  std::vector<RiceContext> delta_ctx, created_ctx;
  std::vector<Predictor> predictors;      // per field of every type
  std::vector<std::pair<std::int32_t, std::int32_t>> ranges;  // per field: the values it holds
  std::vector<FieldFlags> field_flags;    // per field of every type
  std::vector<TypeModel> models;          // per type
  std::vector<std::uint32_t> created_epoch;  // per type: created_ctx reset for this packet
  std::uint32_t epoch = 0;
  std::vector<std::pair<std::uint16_t, std::uint32_t>> by_type;  // (type, changed index)
  std::vector<std::uint32_t> fit_set;
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
    delta_ctx.resize(schema.total_fields());
    created_ctx.resize(schema.total_fields());
    predictors.resize(schema.total_fields());
    for (std::uint16_t t = 0; t < schema.type_count(); ++t)
      for (const FieldWidth w : schema.fields(t)) {
        const int b = field_bits(w);
        if (b >= 32) ranges.emplace_back(INT32_MIN, INT32_MAX);
        else if (field_signed(w)) ranges.emplace_back(-(std::int32_t{1} << (b - 1)), (std::int32_t{1} << (b - 1)) - 1);
        else ranges.emplace_back(0, static_cast<std::int32_t>((std::int64_t{1} << b) - 1));
      }
    field_flags.resize(schema.total_fields());
    models.resize(schema.type_count());
    created_epoch.assign(schema.type_count(), 0);
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
      const auto* range = &ranges[schema.first_field(f.type(i))];
      for (std::size_t k = 0; k < values.size(); ++k)
        if (values[k] < range[k].first || values[k] > range[k].second) return false;
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
      } else if (base.type(b) != next.type(n) || base.values(b).size() != next.values(n).size()) {
        // Same id, new type (or a baseline entity of the wrong shape): replace it.
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

  // Chooses field i's predictor for `type` over the changed entities in by_type[lo, hi).
  Predictor fit(const Frame& base, const Frame& next, std::uint16_t type, std::size_t i,
                std::size_t lo, std::size_t hi) {
    const auto widths = schema.fields(type);
    const int width = field_bits(widths[i]);
    fit_set.clear();
    for (std::size_t e = lo; e < hi; ++e) {
      const std::uint32_t c = by_type[e].second;
      if (base.values(changed_base[c])[i] != next.values(changed_next[c])[i]) fit_set.push_back(c);
    }
    Predictor none;
    if (fit_set.size() < 8) return none;
    const auto cost_of = [&](const Predictor& p) {
      std::int64_t total = 0;
      for (const std::uint32_t c : fit_set) {
        const auto bv = base.values(changed_base[c]);
        const auto nv = next.values(changed_next[c]);
        total += cost_bits(detail::zz(signed_residual(static_cast<std::uint32_t>(nv[i]), p.target(bv[i], bv.data()), width)));
      }
      return total;
    };
    const std::int64_t plain = cost_of(none);
    Predictor best = none;
    std::int64_t best_cost = plain;
    const auto consider = [&](Predictor p) {
      p.used = true;
      const std::int64_t header = universal_bits(p.source) + universal_bits(detail::zz(p.a)) +
                                  universal_bits(detail::zz(p.c));
      const std::int64_t cost = cost_of(p) + header;
      if (cost < best_cost) best = p, best_cost = cost;
    };
    // Least squares of the change of field i on each baseline field j (with an intercept); the
    // source explaining most of the variance is the one whose real cost is measured.
    const std::size_t sources = widths.size() <= kMaxPredictorSearch ? widths.size() : 0;
    std::array<double, kMaxPredictorSearch> sx{}, sxx{}, sxy{};
    double n = 0, sy = 0, syy = 0;
    for (const std::uint32_t c : fit_set) {
      const auto bv = base.values(changed_base[c]);
      const auto nv = next.values(changed_next[c]);
      const double y = signed_residual(static_cast<std::uint32_t>(nv[i]), static_cast<std::uint32_t>(bv[i]), width);
      n += 1, sy += y, syy += y * y;
      for (std::size_t j = 0; j < sources; ++j) {
        const double x = bv[j];
        sx[j] += x, sxx[j] += x * x, sxy[j] += x * y;
      }
    }
    const double vy = n * syy - sy * sy;
    double best_r2 = 0.05;  // below this, no source is worth its header
    std::size_t best_j = sources;
    for (std::size_t j = 0; j < sources; ++j) {
      const double vx = n * sxx[j] - sx[j] * sx[j];
      if (vx <= 0 || vy <= 0) continue;
      const double cov = n * sxy[j] - sx[j] * sy;
      const double r2 = cov * cov / (vx * vy);
      if (r2 > best_r2) best_r2 = r2, best_j = j;
    }
    if (best_j == sources) return none;
    const double vx = n * sxx[best_j] - sx[best_j] * sx[best_j];
    const double slope = (n * sxy[best_j] - sx[best_j] * sy) / vx;
    const double icept = (sy - slope * sx[best_j]) / n;
    const double scaled = slope * (1 << detail::kPredictorShift);
    if (!(std::fabs(scaled) < 1e9) || !(std::fabs(icept) < 1e9)) return none;
    Predictor p;
    p.source = static_cast<std::uint8_t>(best_j);
    p.c = static_cast<std::int32_t>(std::lround(scaled));
    p.a = static_cast<std::int32_t>(std::lround(icept));
    if (p.c != 0) consider(p);
    return best;
  }

  void fit_predictors(const Frame& base, const Frame& next) {
    by_type.clear();
    for (std::uint32_t c = 0; c < changed_kept.size(); ++c) by_type.emplace_back(next.type(changed_next[c]), c);
    std::sort(by_type.begin(), by_type.end());
    for (std::size_t lo = 0; lo < by_type.size();) {
      std::size_t hi = lo;
      const std::uint16_t type = by_type[lo].first;
      while (hi < by_type.size() && by_type[hi].first == type) ++hi;
      const std::size_t first = schema.first_field(type);
      const std::size_t fields = schema.fields(type).size();
      for (std::size_t i = 0; i < fields; ++i) {
        Predictor& p = predictors[first + i];
        p = fit(base, next, type, i, lo, hi);
        // Starting Rice parameter: the one a context would reach on the first residuals.
        RiceContext start(0);
        int seen = 0;
        const int width = field_bits(schema.fields(type)[i]);
        for (std::size_t e = lo; e < hi && seen < 8; ++e) {
          const std::uint32_t c = by_type[e].second;
          const auto bv = base.values(changed_base[c]);
          const auto nv = next.values(changed_next[c]);
          if (bv[i] == nv[i]) continue;
          start.update(detail::residual(nv[i], static_cast<std::int32_t>(p.target(bv[i], bv.data())), width));
          ++seen;
        }
        p.k0 = static_cast<std::uint8_t>(seen > 0 ? start.k() : 0);
      }
      lo = hi;
    }
  }

  // One changed entity: its mask (flags column); the type's predictors if first; residuals.
  void write_changed(BitWriter& w, RangeWriter& f, const Frame& base, const Frame& next,
                     std::size_t c) {
    const std::uint16_t type = next.type(changed_next[c]);
    const auto widths = schema.fields(type);
    const auto bv = base.values(changed_base[c]);
    const auto nv = next.values(changed_next[c]);
    const std::size_t first = schema.first_field(type);
    RiceContext* ctx = &delta_ctx[first];
    FieldFlags* ff = &field_flags[first];
    const Predictor* pred = &predictors[first];
    TypeModel& model = models[type];
    if (model.epoch != epoch) {  // first changed entity of this type in the packet
      model.reset(epoch);
      std::fill(ff, ff + widths.size(), FieldFlags{});
      for (std::size_t k = 0; k < widths.size(); ++k) {
        w.universal(pred[k].k0);
        ctx[k] = RiceContext(std::uint64_t{1} << pred[k].k0);
        w.put(pred[k].used ? 1u : 0u, 1);
        if (!pred[k].used) continue;
        w.universal(pred[k].source);
        w.universal(detail::zz(pred[k].a));
        w.universal(detail::zz(pred[k].c));
      }
    }
    bool previous = true;
    for (std::size_t k = 0; k < widths.size(); ++k) {
      const bool changed = bv[k] != nv[k];
      f.bit(ff[k].changed[previous], changed);
      previous = changed;
    }
    int shift = 0;
    for (std::size_t k = 0; k < widths.size(); ++k) {
      if (bv[k] == nv[k]) continue;
      const int b = field_bits(widths[k]);
      const std::uint32_t z = detail::residual(nv[k], static_cast<std::int32_t>(pred[k].target(bv[k], bv.data())), b);
      // Unpredicted, a changed field's residual is never 0: send z - 1 (and nothing for 1 bit).
      const std::uint32_t coded = pred[k].used ? z : z - 1;
      if (!pred[k].used && b == 1) continue;
      const int used = std::clamp(ctx[k].k() + shift, 0, 31);
      w.rice(ctx[k], coded, b, shift);
      shift = detail::nudge(coded, used);
    }
  }

  // The baseline field whose being non-zero best predicts which kept entities changed (a
  // velocity, an "awake" bit), by the entropy of the changed flags in each context.
  std::uint32_t choose_hint(const Frame& base) {
    constexpr std::size_t kFields = kMaxFieldsPerType;
    std::array<std::array<std::uint32_t, 4>, kFields> counts{};  // [field][nonzero * 2 + changed]
    std::array<std::uint32_t, 2> all{};
    std::size_t c = 0, removed_at = 0, k = 0, widest = 0;
    for (std::size_t b = 0; b < base.size() && c < changed_kept.size(); ++b) {
      if (removed_at < removed.size() && removed[removed_at] == b) {
        ++removed_at;
        continue;
      }
      const bool changed = changed_kept[c] == k++;
      if (changed) ++c;
      const auto bv = base.values(b);
      widest = std::max(widest, bv.size());
      ++all[changed];
      for (std::size_t h = 0; h < bv.size(); ++h) ++counts[h][(bv[h] != 0 ? 2 : 0) + changed];
    }
    const auto entropy = [](double zeros, double ones) {
      const double n = zeros + ones;
      if (zeros == 0 || ones == 0) return 0.0;
      return -(zeros * std::log2(zeros / n) + ones * std::log2(ones / n));
    };
    double best = entropy(all[0], all[1]) - 16;  // a hint must pay for itself
    std::uint32_t hint_field = detail::kNoHint;
    for (std::size_t h = 0; h < widest; ++h) {
      const double cost = entropy(counts[h][0], counts[h][1]) + entropy(counts[h][2], counts[h][3]);
      if (cost < best) best = cost, hint_field = static_cast<std::uint32_t>(h);
    }
    return hint_field;
  }

  void write_stream(const Frame* base, const Frame& next) {
    // Worst case: 7 bytes per Rice code, predictor headers (< 25 bytes per field of a type,
    // once per packet) below 32 per value of the frame.
    BitWriter w(bits, 64 + 7 * (removed.size() + 2 * created.size()) + 32 * next.all_values().size());
    const std::size_t base_size = base != nullptr ? base->size() : 0;
    const std::size_t kept = base_size - removed.size();
    w.universal(static_cast<std::uint32_t>(next.size()));
    w.universal(static_cast<std::uint32_t>(removed.size()));
    w.universal(static_cast<std::uint32_t>(changed_kept.size()));
    w.universal(static_cast<std::uint32_t>(created.size()));
    hint = detail::kNoHint;
    if (!changed_kept.empty() && changed_kept.size() != kept) {
      hint = choose_hint(*base);
      w.universal(hint == detail::kNoHint ? 0u : hint + 1);
    }
    RiceContext removed_gap(kept / (removed.size() + 1)), created_gap, type_ctx;
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
      if (created_epoch[type] != epoch) {
        created_epoch[type] = epoch;
        std::fill(ctx, ctx + widths.size(), RiceContext{});
      }
      for (std::size_t k = 0; k < widths.size(); ++k)
        w.rice(ctx[k], detail::value_code(values[k], widths[k]), field_bits(widths[k]));
    }
    RangeWriter f(flags);
    BitModel changed_flag[2][2];
    const bool every_kept_changed = changed_kept.size() == kept;
    std::size_t c = 0, removed_at = 0, k = 0;
    bool previous_changed = false;
    for (std::size_t b = 0; b < base_size && c < changed_kept.size(); ++b) {
      if (removed_at < removed.size() && removed[removed_at] == b) {
        ++removed_at;
        continue;
      }
      const bool changed = changed_kept[c] == k++;
      if (!every_kept_changed)
        f.bit(changed_flag[previous_changed][detail::hinted(base->values(b), hint)], changed);
      previous_changed = changed;
      if (changed) write_changed(w, f, *base, next, c++);
    }
    if (!changed_kept.empty()) f.finish();
    bits_size = w.finish();
  }

  std::size_t encode(const Frame* base, const Frame& next, std::span<const Event> events,
                     std::span<std::uint8_t> out) {
    last_body = {};
    // The baseline is not validated again: it was a checked `next` once, and a wrong one only
    // makes the receiver's checksum fail (diff() replaces entities of the wrong shape).
    if (!valid(next) || (base != nullptr && base->size() > config.max_entities) ||
        events.size() > config.max_events)
      return 0;
    removed.clear(), created.clear(), changed_base.clear(), changed_next.clear();
    changed_kept.clear();
    if (++epoch == 0) {  // after 2^32 packets: make every stale epoch stale again
      for (TypeModel& m : models) m.epoch = 0;
      std::fill(created_epoch.begin(), created_epoch.end(), 0);
      epoch = 1;
    }
    if (base != nullptr) {
      diff(*base, next);
      fit_predictors(*base, next);
    } else {
      for (std::size_t n = 0; n < next.size(); ++n) created.push_back(static_cast<std::uint32_t>(n));
    }
    flags.clear();
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
    data.clear();
    for (std::size_t v = flags.size(); ; v >>= 7) {  // LEB128 length of the flags
      data.push_back(static_cast<std::uint8_t>((v & 0x7F) | (v >= 0x80 ? 0x80 : 0)));
      if (v < 0x80) break;
    }
    data.insert(data.end(), flags.begin(), flags.end());
    data.insert(data.end(), bits.begin(), bits.begin() + static_cast<std::ptrdiff_t>(bits_size));
    const auto data_v = fbb.CreateVector(data);
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
    sb.add_data(data_v);
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
