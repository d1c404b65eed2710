// Fifo: a first-in first-out queue on one std::vector plus a head index. It replaces std::deque
// for the per-peer ack and event queues: libstdc++'s deque allocates a 64-byte map and a 512-byte
// node as soon as it is constructed, so two of them cost every pooled Peer ~1.1 KiB even while
// both queues are empty (docs/scale.md, "Memory"). An empty Fifo owns no heap memory. Popped
// elements are reset at once (a popped PeerEvent frees its payload); the dead prefix is
// compacted when it outgrows the live part, and a large buffer is released once drained, so a
// burst does not pin its high-water mark on an idle peer.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace volley::protocol::detail {

template <class T>
class Fifo {
 public:
  // Compared as addresses: items_.size() would divide by sizeof(T) (48 for a PeerEvent), and
  // the service pass asks several times per peer.
  bool empty() const noexcept { return items_.data() + head_ == std::to_address(items_.end()); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }

  void push_back(T value) { items_.push_back(std::move(value)); }
  // A default element appended in place, for the caller to fill.
  T& emplace_back() { return items_.emplace_back(); }

  void pop_front() {
    if (items_.data() + head_ + 1 == std::to_address(items_.end())) {
      clear();  // the last one: destroyed with the rest, no reset first
      return;
    }
    items_[head_] = T{};
    ++head_;
    if (head_ >= kCompactAt && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void clear() noexcept {
    if (items_.capacity() > kKeepCapacity) {
      std::vector<T>().swap(items_);
    } else {
      items_.clear();
    }
    head_ = 0;
  }

  // Removes every element matching pred, keeping the order of the rest.
  template <class Pred>
  void erase_if(Pred pred) {
    std::size_t out = head_;
    for (std::size_t i = head_; i < items_.size(); ++i) {
      if (pred(static_cast<const T&>(items_[i]))) continue;
      if (out != i) items_[out] = std::move(items_[i]);
      ++out;
    }
    items_.resize(out);
    if (head_ == items_.size()) clear();
  }

  auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const noexcept { return items_.end(); }

 private:
  static constexpr std::size_t kCompactAt = 32;     // dead prefix worth a memmove
  static constexpr std::size_t kKeepCapacity = 64;  // drained buffers above this are freed

  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace volley::protocol::detail
