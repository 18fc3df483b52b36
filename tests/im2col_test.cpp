// im2col and col2im against their definitions, element by element, over
// geometries whose padding, stride and dilation put the valid columns of a
// kernel offset anywhere, including nowhere (padding wider than the image).
#include <gtest/gtest.h>

#include <vector>

#include "engine/shape.h"
#include "layers/im2col_cpu.h"

namespace cnne::cpu {
namespace {

struct Geometry {
  int64_t c, h, w, r, s;
  int stride_h, stride_w, pad_h, pad_w;
  int dilation_h = 1, dilation_w = 1;
};

ConvGeometry make(const Geometry& t) {
  Conv2dParams p;
  p.stride_h = t.stride_h;
  p.stride_w = t.stride_w;
  p.pad_h = t.pad_h;
  p.pad_w = t.pad_w;
  p.dilation_h = t.dilation_h;
  p.dilation_w = t.dilation_w;
  return conv_geometry(p, Shape{1, t.c, t.h, t.w}, Shape{1, t.c, t.r, t.s});
}

// The input pixel col[(c, r, s), (op, oq)] reads, or -1 for padding.
int64_t source(const ConvGeometry& g, int64_t c, int64_t r, int64_t s, int64_t op, int64_t oq) {
  const int64_t ih = op * g.params.stride_h - g.params.pad_h + r * g.params.dilation_h;
  const int64_t iw = oq * g.params.stride_w - g.params.pad_w + s * g.params.dilation_w;
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
  return (c * g.h + ih) * g.w + iw;
}

// Calls f(c, r, s, op, oq, at) for every col entry in col2im's order; `at` is its index.
template <typename F>
void for_each_entry(const ConvGeometry& g, F f) {
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t r = 0; r < g.r; ++r)
      for (int64_t s = 0; s < g.s; ++s)
        for (int64_t op = 0; op < g.p; ++op)
          for (int64_t oq = 0; oq < g.q; ++oq)
            f(c, r, s, op, oq, ((c * g.r + r) * g.s + s) * g.p * g.q + op * g.q + oq);
}

const Geometry kGeometries[] = {
    {3, 32, 32, 5, 5, 1, 1, 0, 0},  // the tutorial's conv1
    {6, 14, 14, 5, 5, 1, 1, 0, 0},  // conv2
    {4, 8, 8, 3, 3, 1, 1, 1, 1},    // a ResNet 3x3
    {4, 9, 7, 3, 3, 2, 2, 1, 1},    // strided, odd sizes
    {2, 5, 6, 3, 2, 3, 2, 2, 1},    // stride 3 rows, stride 2 columns
    {2, 4, 3, 5, 5, 1, 1, 3, 4},    // padding wider than the kernel's reach: whole rows of zeros
    {1, 2, 2, 3, 3, 2, 3, 2, 2},    // a 2x2 image, more padding than pixels
    {2, 7, 7, 1, 1, 2, 2, 0, 0},    // a strided 1x1 (not pointwise)
    {3, 9, 8, 3, 3, 1, 1, 2, 2, 2, 2},    // dilation 2, "same"
    {2, 11, 10, 3, 2, 2, 1, 1, 2, 2, 3},  // dilated and strided, unequal per axis
    {1, 5, 6, 3, 3, 1, 2, 4, 3, 3, 4},    // taps farther apart than the image is wide
};

TEST(Im2col, EveryEntryIsThePixelItsWindowReadsOrZero) {
  for (const Geometry& t : kGeometries) {
    const ConvGeometry g = make(t);
    ASSERT_GT(g.p, 0);
    ASSERT_GT(g.q, 0);
    std::vector<float> x(static_cast<size_t>(g.c * g.h * g.w));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1);
    std::vector<float> col(static_cast<size_t>(g.col_rows() * g.col_cols()), -7.0f);
    im2col(g, x.data(), col.data());
    for_each_entry(g, [&](int64_t c, int64_t r, int64_t s, int64_t op, int64_t oq, int64_t at) {
      const int64_t from = source(g, c, r, s, op, oq);
      const float want = from < 0 ? 0.0f : x[static_cast<size_t>(from)];
      ASSERT_EQ(col[static_cast<size_t>(at)], want)
          << "geometry c" << t.c << " " << t.h << "x" << t.w << " k" << t.r << "x" << t.s
          << " at (c" << c << " r" << r << " s" << s << ", " << op << "," << oq << ")";
    });
  }
}

TEST(Col2im, EveryPixelGetsTheSumOfTheEntriesThatReadItInOrder) {
  for (const Geometry& t : kGeometries) {
    const ConvGeometry g = make(t);
    std::vector<float> col(static_cast<size_t>(g.col_rows() * g.col_cols()));
    for (size_t i = 0; i < col.size(); ++i) col[i] = 0.25f * static_cast<float>(i % 97) - 3.0f;
    std::vector<float> want(static_cast<size_t>(g.c * g.h * g.w), 0.0f);
    for_each_entry(g, [&](int64_t c, int64_t r, int64_t s, int64_t op, int64_t oq, int64_t at) {
      const int64_t to = source(g, c, r, s, op, oq);
      if (to >= 0) want[static_cast<size_t>(to)] += col[static_cast<size_t>(at)];
    });
    std::vector<float> dx(want.size(), 123.0f);  // col2im assigns
    col2im(g, col.data(), dx.data());
    for (size_t i = 0; i < dx.size(); ++i)
      ASSERT_EQ(dx[i], want[i]) << "geometry c" << t.c << " " << t.h << "x" << t.w << " k" << t.r
                                << "x" << t.s << " pixel " << i;
  }
}

}  // namespace
}  // namespace cnne::cpu
