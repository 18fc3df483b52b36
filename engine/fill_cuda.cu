// fill, axpby and count_nonfinite on the GPU.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/launch.h"
#include "engine/ops.h"

namespace cnne::cuda {
namespace {

__global__ void fill_kernel(float* p, int64_t n, float value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = value;
}

__global__ void axpby_kernel(float alpha, const float* x, float beta, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = beta == 0.0f ? __fmul_rn(alpha, x[i])
                        : __fadd_rn(__fmul_rn(alpha, x[i]), __fmul_rn(beta, y[i]));
}

__global__ void count_nonfinite_kernel(const float* p, int64_t n, int32_t* count) {
  int32_t bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    bad += !isfinite(p[i]);
  if (bad) atomicAdd(count, bad);
}

}  // namespace

void axpby(Context& ctx, float alpha, const Tensor& x, float beta, const Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  axpby_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(alpha, x.f32(), beta, y.f32(),
                                                                    n);
  CNNE_CHECK_LAUNCH("axpby " + y.shape.str());
}

void count_nonfinite(Context& ctx, const Tensor& t, const Tensor& count) {
  const int64_t n = t.numel();
  if (n == 0) return;
  count_nonfinite_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(t.f32(), n,
                                                                              count.i32());
  CNNE_CHECK_LAUNCH("count_nonfinite " + t.shape.str());
}

void fill(Context& ctx, const Tensor& t, float value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, ctx.cuda().stream()>>>(t.f32(), n, value);
  CNNE_CHECK_LAUNCH("fill " + t.shape.str());
}

}  // namespace cnne::cuda
