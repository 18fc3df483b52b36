#include "engine/shape.h"

#include "engine/error.h"

namespace cnne {

Shape::Shape(std::initializer_list<int64_t> dims)
    : Shape(of(std::span<const int64_t>(dims.begin(), dims.size()))) {}

Shape Shape::of(std::span<const int64_t> dims) {
  if (dims.size() > kMaxRank) throw Error("Shape: rank " + std::to_string(dims.size()) + " > 6");
  Shape s;
  for (int64_t d : dims) s.dims_[static_cast<size_t>(s.rank_++)] = d;
  return s;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

Shape Shape::without_batch() const {
  Shape s;
  for (int i = 1; i < rank_; ++i) s.dims_[static_cast<size_t>(s.rank_++)] = (*this)[i];
  return s;
}

Shape Shape::with_batch(int64_t n) const {
  if (rank_ >= kMaxRank) throw Error("Shape: cannot add a batch dimension to " + str());
  Shape s;
  s.dims_[0] = n;
  s.rank_ = rank_ + 1;
  for (int i = 0; i < rank_; ++i) s.dims_[static_cast<size_t>(i + 1)] = (*this)[i];
  return s;
}

std::string Shape::str() const {
  std::string out = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) out += ", ";
    out += std::to_string((*this)[i]);
  }
  return out + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace cnne
