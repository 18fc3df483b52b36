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
__global__ void assemble_kernel(BatchSource source, const BatchArgs* args, T* x,
                                int32_t* labels_out, int64_t total, bool channels_last) {
  const BatchArgs a = *args;  // this step's (Note [graph-safe step arguments])
  const int64_t c = source.channels, hw = int64_t(source.height) * source.width;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const BatchElement e = batch_element(source, a, t);
    // NCHW, or NHWC for a channels-last batch (Note [channels last])
    x[channels_last ? nhwc_of_nchw(t, c, hw) : t] = from_float<T>(e.value);
    if (e.first) labels_out[e.image] = source.labels[e.index];
  }
}

}  // namespace

void assemble_batch(Context& ctx, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  const int64_t total = x.numel();
  if (total == 0) return;
  const std::string what = "assemble_batch " + x.shape.str();
  BatchSource source;
  source.pixels = pixels.u8();
  source.labels = labels.i32();
  source.order = order.i32();
  source.lut = lut.f32();
  source.aug = aug;
  source.channels = static_cast<int32_t>(x.shape[1]);
  source.height = static_cast<int32_t>(x.shape[2]);
  source.width = static_cast<int32_t>(x.shape[3]);
  with_float_type(x.dtype, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    assemble_kernel<T><<<blocks_for(total), kThreads, 0, ctx.cuda().stream()>>>(
        source, args, elements<T>(x), labels_out.i32(), total, x.channels_last);
  });
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
