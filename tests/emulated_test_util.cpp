#include "tests/emulated_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/half.h"

namespace cnne::emulated_test {

Staged stage(const std::vector<float>& nchw, Shape s, DType dtype, bool channels_last) {
  Staged st;
  st.bytes.resize(static_cast<size_t>(s.numel()) * dtype_size(dtype));
  Tensor t;
  t.data = st.bytes.data();
  t.shape = s;
  t.dtype = dtype;
  st.t = s.rank() == 4 ? t.with_channels_last(channels_last) : t;
  convert_tensor_host(Tensor(const_cast<float*>(nchw.data()), s), st.t);
  return st;
}

std::vector<float> values(const Staged& st) {
  std::vector<float> out(static_cast<size_t>(st.t.numel()));
  convert_tensor_host(st.t, Tensor(out.data(), st.t.shape));
  return out;
}

double max_relative(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    worst =
        std::max(worst, std::abs(double(got[i]) - want[i]) / (1e-3 + std::abs(double(want[i]))));
  return worst;
}

std::vector<float> uniform(Rng& rng, int64_t count, float lo, float hi) {
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

}  // namespace cnne::emulated_test
