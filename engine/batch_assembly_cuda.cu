// assemble_batch on the GPU: one thread per output pixel, the images read
// from the byte copy of the data set kept on the device.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/batch_assembly.h"
#include "engine/layout.h"

namespace cnne::cuda {
namespace {

template <class T>
__global__ void assemble_kernel(const uint8_t* pixels, const int32_t* labels, const int32_t* order,
                                const BatchArgs* args, BatchAugment aug, const float* lut, T* x,
                                int32_t* labels_out, int64_t n, int64_t c, int64_t h, int64_t w,
                                bool channels_last) {
  const int64_t total = n * c * h * w;
  const int64_t first = args->first;
  const uint64_t key = args->key;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t xx = t % w, y = (t / w) % h, ch = (t / (w * h)) % c, i = t / (w * h * c);
    const int32_t index = order[first + i];
    const ImageDraw d = draw_for(aug, key, first + i);
    const int64_t s = source_pixel(d, y, xx, h, w);
    const uint8_t value = s < 0 ? 0 : pixels[(index * c + ch) * h * w + s];
    // NCHW, or NHWC for a channels-last batch (Note [channels last])
    x[channels_last ? nhwc_of_nchw(t, c, h * w) : t] = from_float<T>(lut[ch * 256 + value]);
    if (ch == 0 && y == 0 && xx == 0) labels_out[i] = labels[index];
  }
}

}  // namespace

void assemble_batch(Context& ctx, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const std::string what = "assemble_batch " + x.shape.str();
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    assemble_kernel<T><<<blocks_for(total), kThreads, 0, ctx.cuda().stream()>>>(
        pixels.u8(), labels.i32(), order.i32(), args, aug, lut.f32(), elements<T>(x),
        labels_out.i32(), x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.channels_last);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
