#pragma once
// Shape: the dimensions of a tensor, NCHW order for images. Fixed capacity so
// that computing shapes inside a training step never touches the heap.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace cnne {

class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  // From a list of dimensions; throws if there are more than kMaxRank.
  static Shape of(std::span<const int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  int64_t numel() const;
  // The shape without its first (batch) dimension.
  Shape without_batch() const;
  // This shape with a batch dimension n in front.
  Shape with_batch(int64_t n) const;
  // "[4, 3, 32, 32]"
  std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace cnne
