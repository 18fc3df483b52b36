// assemble_batch on the GPU: one thread per output pixel, the images read
// from the byte copy of the data set kept on the device.
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "cuda/element.cuh"
#include "cuda/launch.h"
#include "engine/batch_assembly.h"
#include "engine/batch_assembly_kernel.cuh"
#include "engine/layout.h"

namespace cnne::cuda {

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
