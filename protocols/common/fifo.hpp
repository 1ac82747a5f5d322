#pragma once
// A first-in first-out queue on one std::vector, for the per-session queues of pending
// requests (issue 15, memory per idle session). libstdc++'s std::deque allocates its map
// and a 512-byte node as soon as it is constructed, so an idle session paid ~0.5 KB per
// empty queue; it also frees and allocates a node every few elements in the steady
// state. Fifo allocates nothing until the first push and keeps its capacity: a queue
// that is filled and drained message by message allocates nothing after its first
// message. Popped elements stay in place (not destroyed) until the queue runs empty or
// the vector is compacted; both destroy them.
//
// Element references stay valid until the next push_back, clear or pop that empties the
// queue (push_back may move the elements); code that keeps a position across pushes keeps
// an index from front() instead of a pointer.
#include <cstddef>
#include <utility>
#include <vector>

namespace segproxy::protocols {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  const T& back() const { return items_.back(); }
  // The i-th element counted from front() (i < size()).
  T& operator[](std::size_t i) { return items_[head_ + i]; }
  const T& operator[](std::size_t i) const { return items_[head_ + i]; }

  // Elements the storage holds without growing (an empty, never used queue: 0).
  std::size_t capacity() const { return items_.capacity(); }

  void push_back(T v) {
    if (head_ > 0 && items_.size() == items_.capacity() && head_ * 2 >= items_.size()) {
      // Full, and at least half of it popped: move the live part down instead of growing
      // (amortised O(1): at least as many pops as elements moved happened since).
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    items_.push_back(std::move(v));
  }
  void pop_front() {
    if (++head_ == items_.size()) clear();
  }
  // Destroys every element; the capacity stays.
  void clear() {
    items_.clear();
    head_ = 0;
  }

  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) were popped
};

}  // namespace segproxy::protocols
