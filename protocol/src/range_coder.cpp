// ENet's range coder, written from shared docs/enet-protocol.md Appendix A: an adaptive order-2
// context model (a pool of at most 4096 nodes, rebuilt per call) driving a 32-bit carry-less
// range coder. Arithmetic deliberately mirrors libenet's integer widths (u8 counts, u16 tallies,
// u32 coder state, all wrapping) because byte-for-byte equality with libenet depends on it.
// The model lives on the caller's stack: no heap allocation per call.
#include "volley/protocol/range_coder.hpp"

#include <array>
#include <cstdint>

namespace volley::protocol {
namespace {

constexpr std::size_t kPoolSize = 4096;
// The pool is reset once a byte leaves this many nodes in use; a byte adds at most 3 nodes
// (two sub-contexts and the root), so the pool can never overflow.
constexpr std::size_t kPoolResetAt = kPoolSize - 2;

constexpr std::uint32_t kCoderTop = 1U << 24;
constexpr std::uint32_t kCoderBottom = 1U << 16;

constexpr std::uint16_t kRootEscapes = 1;
constexpr std::uint16_t kRootInc = 3;
constexpr std::uint16_t kRootMin = 1;
constexpr std::uint16_t kSubInc = 2;
constexpr std::uint16_t kSubMin = 0;
constexpr std::uint16_t kSubEscapeBump = 5;
constexpr std::size_t kSubOrder = 2;
// A context is rescaled once a symbol count or its total approaches the u8 / u16 ceilings.
constexpr std::uint16_t kSubRescaleCount = 0xFF - 2 * kSubInc;
constexpr std::uint16_t kRootRescaleCount = 0xFF - 2 * kRootInc + kRootMin;
constexpr std::uint16_t kRescaleTotal = kCoderBottom - 0x100;

// A valid stream needs at most ~5 normalisation steps per symbol; a corrupt one can drive the
// range to zero and spin forever (libenet would hang), so the decoder gives up past this.
constexpr int kMaxNormaliseSteps = 32;

constexpr std::uint16_t kRoot = 0;

// Trivial on purpose: the 64 KiB pool is not zeroed per call; create() sets every field.
struct Node {
  std::uint8_t value;
  std::uint8_t count;
  std::uint16_t under;
  std::uint16_t left;     // forward offset from this node; 0 = none
  std::uint16_t right;    // forward offset from this node; 0 = none
  std::uint16_t symbols;  // forward offset to this context's tree; 0 = empty
  std::uint16_t escapes;
  std::uint16_t total;
  std::uint16_t parent;  // absolute index of the same symbol in the next shorter context
};

// Result of a tree lookup: the node, its cumulative frequency below it, and its frequency.
struct Hit {
  std::uint16_t node = 0;
  std::uint16_t cum = 0;
  std::uint16_t cnt = 0;
};

class Model {
 public:
  Model() noexcept { reset(); }

  void reset() noexcept {
    used_ = 0;
    const std::uint16_t root = create(0, 0);
    nodes_[root].escapes = kRootEscapes;
    nodes_[root].total = static_cast<std::uint16_t>(kRootEscapes + 256 * kRootMin);
    predicted_ = kRoot;
    order_ = 0;
  }

  Node& operator[](std::uint16_t index) noexcept { return nodes_[index]; }
  std::uint16_t& predicted() noexcept { return predicted_; }

  std::uint16_t create(std::uint8_t value, std::uint16_t inc) noexcept {
    const auto index = static_cast<std::uint16_t>(used_++);
    nodes_[index] = Node{value, static_cast<std::uint8_t>(inc), inc, 0, 0, 0, 0, 0, 0};
    return index;
  }

  // Finds `value` in the context's tree, inserting it when absent (cnt then equals `min`, so a
  // zero cnt in a sub-context means "not seen here yet").
  Hit find_or_insert(std::uint16_t ctx, std::uint8_t value, std::uint16_t inc,
                     std::uint16_t min) noexcept {
    Hit hit;
    hit.cum = static_cast<std::uint16_t>(value * min);
    hit.cnt = min;
    if (nodes_[ctx].symbols == 0) {
      hit.node = create(value, inc);
      nodes_[ctx].symbols = static_cast<std::uint16_t>(hit.node - ctx);
      return hit;
    }
    std::uint16_t at = static_cast<std::uint16_t>(ctx + nodes_[ctx].symbols);
    for (;;) {
      Node& node = nodes_[at];
      if (value < node.value) {
        node.under = static_cast<std::uint16_t>(node.under + inc);
        if (node.left != 0) {
          at = static_cast<std::uint16_t>(at + node.left);
          continue;
        }
        hit.node = create(value, inc);
        node.left = static_cast<std::uint16_t>(hit.node - at);
      } else if (value > node.value) {
        hit.cum = static_cast<std::uint16_t>(hit.cum + node.under);
        if (node.right != 0) {
          at = static_cast<std::uint16_t>(at + node.right);
          continue;
        }
        hit.node = create(value, inc);
        node.right = static_cast<std::uint16_t>(hit.node - at);
      } else {
        hit.cnt = static_cast<std::uint16_t>(hit.cnt + node.count);
        hit.cum = static_cast<std::uint16_t>(hit.cum + node.under - node.count);
        node.under = static_cast<std::uint16_t>(node.under + inc);
        node.count = static_cast<std::uint8_t>(node.count + inc);
        hit.node = at;
      }
      return hit;
    }
  }

  void rescale_if_needed(std::uint16_t ctx, std::uint16_t cnt, std::uint16_t count_limit,
                         std::uint16_t min) noexcept {
    if (cnt > count_limit || nodes_[ctx].total > kRescaleTotal) rescale(ctx, min);
  }

  // Byte done: slide the order-2 window, and start over when the pool is nearly full.
  void advance() noexcept {
    if (order_ >= kSubOrder) {
      predicted_ = nodes_[predicted_].parent;
    } else {
      ++order_;
    }
    if (used_ >= kPoolResetAt) reset();
  }

 private:
  // Halves every count and rebuilds the `under` tallies. Iterative rather than recursive: a
  // corrupt stream can grow a root tree thousands of nodes deep. Children always have larger
  // indices than their parents and each node hangs in exactly one tree, so a pre-order listing
  // walked backwards visits every child before its parent.
  void rescale(std::uint16_t ctx, std::uint16_t min) noexcept {
    Node& context = nodes_[ctx];
    std::uint16_t sum = 0;
    if (context.symbols != 0) {
      std::size_t listed = 0;
      std::size_t stacked = 0;
      // scratch_ serves as the DFS stack first and as per-node subtree sums afterwards.
      scratch_[stacked++] = static_cast<std::uint16_t>(ctx + context.symbols);
      while (stacked > 0) {
        const std::uint16_t at = scratch_[--stacked];
        order_list_[listed++] = at;
        Node& node = nodes_[at];
        node.count = static_cast<std::uint8_t>(node.count - (node.count >> 1));
        if (node.right != 0) scratch_[stacked++] = static_cast<std::uint16_t>(at + node.right);
        if (node.left != 0) scratch_[stacked++] = static_cast<std::uint16_t>(at + node.left);
      }
      for (std::size_t i = listed; i-- > 0;) {
        const std::uint16_t at = order_list_[i];
        Node& node = nodes_[at];
        const std::uint16_t left_sum = node.left != 0 ? scratch_[at + node.left] : 0;
        const std::uint16_t right_sum = node.right != 0 ? scratch_[at + node.right] : 0;
        node.under = static_cast<std::uint16_t>(node.count + left_sum);
        scratch_[at] = static_cast<std::uint16_t>(node.under + right_sum);
      }
      sum = scratch_[ctx + context.symbols];
    }
    context.escapes = static_cast<std::uint16_t>(context.escapes - (context.escapes >> 1));
    context.total = static_cast<std::uint16_t>(sum + context.escapes + 256 * min);
  }

  std::array<Node, kPoolSize> nodes_;
  std::array<std::uint16_t, kPoolSize> order_list_;
  std::array<std::uint16_t, kPoolSize> scratch_;
  std::size_t used_ = 0;
  std::uint16_t predicted_ = kRoot;
  std::size_t order_ = 0;
};

class Encoder {
 public:
  explicit Encoder(MutableBytes out) noexcept : out_(out) {}

  bool encode(std::uint32_t cum, std::uint32_t freq, std::uint32_t total) noexcept {
    range_ /= total;
    low_ += cum * range_;
    range_ *= freq;
    for (;;) {
      if ((low_ ^ (low_ + range_)) >= kCoderTop) {
        if (range_ >= kCoderBottom) return true;
        range_ = (0U - low_) & (kCoderBottom - 1);
      }
      if (!emit(static_cast<std::uint8_t>(low_ >> 24))) return false;
      range_ <<= 8;
      low_ <<= 8;
    }
  }

  bool flush() noexcept {
    while (low_ != 0) {
      if (!emit(static_cast<std::uint8_t>(low_ >> 24))) return false;
      low_ <<= 8;
    }
    return true;
  }

  std::size_t size() const noexcept { return written_; }

 private:
  bool emit(std::uint8_t byte) noexcept {
    if (written_ >= out_.size()) return false;
    out_[written_++] = byte;
    return true;
  }

  MutableBytes out_;
  std::size_t written_ = 0;
  std::uint32_t low_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFU;
};

class Decoder {
 public:
  explicit Decoder(Bytes in) noexcept : in_(in) {
    for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next_byte();
  }

  // Narrows the range to `total` slots and says which slot the code falls in. Truncation to
  // 16 bits matches libenet; only a corrupt stream yields a slot >= total.
  std::uint16_t freq(std::uint16_t total) noexcept {
    range_ /= total;
    return static_cast<std::uint16_t>((code_ - low_) / range_);
  }

  // False when a corrupt stream leaves the coder unable to renormalise.
  bool consume(std::uint32_t cum, std::uint32_t count) noexcept {
    low_ += cum * range_;
    range_ *= count;
    for (int step = 0; step < kMaxNormaliseSteps; ++step) {
      if ((low_ ^ (low_ + range_)) >= kCoderTop) {
        if (range_ >= kCoderBottom) return true;
        range_ = (0U - low_) & (kCoderBottom - 1);
      }
      code_ = (code_ << 8) | next_byte();
      range_ <<= 8;
      low_ <<= 8;
    }
    return false;
  }

 private:
  std::uint32_t next_byte() noexcept { return pos_ < in_.size() ? in_[pos_++] : 0U; }

  Bytes in_;
  std::size_t pos_ = 0;
  std::uint32_t code_ = 0;
  std::uint32_t low_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFU;
};

bool encode_byte(Model& model, Encoder& coder, std::uint8_t value) noexcept {
  // `link` is where the next context's node index gets recorded: first the predicted slot,
  // then the parent field of each node found on the way down to the root.
  std::uint16_t* link = &model.predicted();
  for (std::uint16_t ctx = model.predicted(); ctx != kRoot; ctx = model[ctx].parent) {
    const Hit hit = model.find_or_insert(ctx, value, kSubInc, kSubMin);
    *link = hit.node;
    link = &model[hit.node].parent;
    Node& context = model[ctx];
    const std::uint16_t total = context.total;
    if (hit.cnt > 0) {
      if (!coder.encode(context.escapes + hit.cum, hit.cnt, total)) return false;
    } else {
      if (context.escapes > 0 && context.escapes < total &&
          !coder.encode(0, context.escapes, total)) {
        return false;
      }
      context.escapes = static_cast<std::uint16_t>(context.escapes + kSubEscapeBump);
      context.total = static_cast<std::uint16_t>(context.total + kSubEscapeBump);
    }
    context.total = static_cast<std::uint16_t>(context.total + kSubInc);
    model.rescale_if_needed(ctx, hit.cnt, kSubRescaleCount, kSubMin);
    if (hit.cnt > 0) {
      model.advance();
      return true;
    }
  }
  const Hit hit = model.find_or_insert(kRoot, value, kRootInc, kRootMin);
  *link = hit.node;
  Node& root = model[kRoot];
  if (!coder.encode(root.escapes + hit.cum, hit.cnt, root.total)) return false;
  root.total = static_cast<std::uint16_t>(root.total + kRootInc);
  model.rescale_if_needed(kRoot, hit.cnt, kRootRescaleCount, kRootMin);
  model.advance();
  return true;
}

enum class Step { kByte, kEnd, kCorrupt };

// Looks up the symbol whose slot holds `code` in a context's tree. A miss inserts only in the
// root (every byte value is implicitly present there); a miss in a sub-context is corruption.
// The signed comparisons follow libenet's int promotions, so corrupt streams decode alike too.
bool decode_symbol(Model& model, std::uint16_t ctx, std::uint16_t code, std::uint16_t inc,
                   std::uint16_t min, bool insert_on_miss, Hit& hit,
                   std::uint8_t& value) noexcept {
  std::uint16_t cum = 0;
  hit.cnt = min;
  if (model[ctx].symbols == 0) {
    if (!insert_on_miss) return false;
    value = static_cast<std::uint8_t>(code / min);
    hit.cum = static_cast<std::uint16_t>(code - code % min);
    hit.node = model.create(value, inc);
    model[ctx].symbols = static_cast<std::uint16_t>(hit.node - ctx);
    return true;
  }
  std::uint16_t at = static_cast<std::uint16_t>(ctx + model[ctx].symbols);
  for (;;) {
    Node& node = model[at];
    const auto hi = static_cast<std::uint16_t>(cum + node.under + (node.value + 1) * min);
    const auto span = static_cast<std::uint16_t>(node.count + min);
    if (code >= hi) {
      cum = static_cast<std::uint16_t>(cum + node.under);
      if (node.right != 0) {
        at = static_cast<std::uint16_t>(at + node.right);
        continue;
      }
      if (!insert_on_miss) return false;
      value = static_cast<std::uint8_t>(node.value + 1 + (code - hi) / min);
      hit.cum = static_cast<std::uint16_t>(code - (code - hi) % min);
      hit.node = model.create(value, inc);
      model[at].right = static_cast<std::uint16_t>(hit.node - at);
    } else if (static_cast<int>(code) < hi - span) {
      node.under = static_cast<std::uint16_t>(node.under + inc);
      if (node.left != 0) {
        at = static_cast<std::uint16_t>(at + node.left);
        continue;
      }
      if (!insert_on_miss) return false;
      value = static_cast<std::uint8_t>(node.value - 1 - (hi - span - code - 1) / min);
      hit.cum = static_cast<std::uint16_t>(code - (hi - span - code - 1) % min);
      hit.node = model.create(value, inc);
      model[at].left = static_cast<std::uint16_t>(hit.node - at);
    } else {
      value = node.value;
      hit.cnt = static_cast<std::uint16_t>(hit.cnt + node.count);
      hit.cum = static_cast<std::uint16_t>(hi - span);
      node.under = static_cast<std::uint16_t>(node.under + inc);
      node.count = static_cast<std::uint8_t>(node.count + inc);
      hit.node = at;
    }
    return true;
  }
}

Step decode_byte(Model& model, Decoder& coder, std::uint8_t& value) noexcept {
  value = 0;
  std::uint16_t ctx = model.predicted();
  std::uint16_t bottom = 0;
  for (; ctx != kRoot; ctx = model[ctx].parent) {
    Node& context = model[ctx];
    if (context.escapes == 0) continue;
    const std::uint16_t total = context.total;
    if (context.escapes >= total) continue;
    std::uint16_t code = coder.freq(total);
    if (code < context.escapes) {
      if (!coder.consume(0, context.escapes)) return Step::kCorrupt;
      continue;
    }
    code = static_cast<std::uint16_t>(code - context.escapes);
    Hit hit;
    if (!decode_symbol(model, ctx, code, kSubInc, kSubMin, false, hit, value)) {
      return Step::kCorrupt;
    }
    bottom = hit.node;
    if (!coder.consume(context.escapes + hit.cum, hit.cnt)) return Step::kCorrupt;
    context.total = static_cast<std::uint16_t>(context.total + kSubInc);
    model.rescale_if_needed(ctx, hit.cnt, kSubRescaleCount, kSubMin);
    break;
  }
  if (ctx == kRoot) {
    Node& root = model[kRoot];
    const std::uint16_t total = root.total;
    // Counts that wrapped in a corrupt stream can zero the total; libenet would divide by it.
    if (total == 0) return Step::kCorrupt;
    std::uint16_t code = coder.freq(total);
    if (code < root.escapes) {
      return coder.consume(0, root.escapes) ? Step::kEnd : Step::kCorrupt;
    }
    code = static_cast<std::uint16_t>(code - root.escapes);
    Hit hit;
    decode_symbol(model, kRoot, code, kRootInc, kRootMin, true, hit, value);
    bottom = hit.node;
    if (!coder.consume(root.escapes + hit.cum, hit.cnt)) return Step::kCorrupt;
    root.total = static_cast<std::uint16_t>(root.total + kRootInc);
    model.rescale_if_needed(kRoot, hit.cnt, kRootRescaleCount, kRootMin);
  }
  // Teach the byte to every longer context that escaped past it, as the encoder did.
  std::uint16_t* link = &model.predicted();
  for (std::uint16_t at = model.predicted(); at != ctx; at = model[at].parent) {
    const Hit hit = model.find_or_insert(at, value, kSubInc, kSubMin);
    *link = hit.node;
    link = &model[hit.node].parent;
    Node& context = model[at];
    if (hit.cnt == 0) {
      context.escapes = static_cast<std::uint16_t>(context.escapes + kSubEscapeBump);
      context.total = static_cast<std::uint16_t>(context.total + kSubEscapeBump);
    }
    context.total = static_cast<std::uint16_t>(context.total + kSubInc);
    model.rescale_if_needed(at, hit.cnt, kSubRescaleCount, kSubMin);
  }
  *link = bottom;
  return Step::kByte;
}

}  // namespace

std::size_t range_coder_compress(Bytes in, MutableBytes out) noexcept {
  if (in.empty()) return 0;
  Model model;
  Encoder coder(out);
  for (const std::uint8_t byte : in) {
    if (!encode_byte(model, coder, byte)) return 0;
  }
  if (!coder.flush()) return 0;
  return coder.size();
}

std::size_t range_coder_decompress(Bytes in, MutableBytes out) noexcept {
  if (in.empty()) return 0;
  Model model;
  Decoder coder(in);
  std::size_t written = 0;
  for (;;) {
    std::uint8_t value = 0;
    switch (decode_byte(model, coder, value)) {
      case Step::kEnd:
        return written;
      case Step::kCorrupt:
        return 0;
      case Step::kByte:
        break;
    }
    if (written >= out.size()) return 0;
    out[written++] = value;
    model.advance();
  }
}

}  // namespace volley::protocol
