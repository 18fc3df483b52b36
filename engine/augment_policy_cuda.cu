// ops::augment_policy on the GPU: one block per batch image (Note
// [augmentation policies]).
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/augment_policy_kernel.cuh"
#include "engine/error.h"
#include "engine/ops.h"

namespace cnne::cuda {

void augment_policy(Context& ctx, const Tensor& pixels, const Tensor& order, const BatchArgs* args,
                    const BatchAugment& aug, const PolicySource& policy, const Tensor& staged) {
  const int64_t n = staged.shape[0], c = staged.shape[1], h = staged.shape[2], w = staged.shape[3];
  if (n == 0) return;
  const std::string what = "augment_policy " + staged.shape.str();
  if ((c != 1 && c != 3) || c * h * w > kPolicyMaxImageBytes)
    throw Error(what + ": takes 1 or 3 channels and at most " +
                std::to_string(kPolicyMaxImageBytes) + " bytes per image");
  augment_policy_kernel<<<static_cast<unsigned>(n), kPolicyThreads, 0, ctx.cuda().stream()>>>(
      pixels.u8(), order.i32(), args, aug, policy, staged.u8(), static_cast<int>(c),
      static_cast<int>(h), static_cast<int>(w));
  CNNE_CHECK_LAUNCH(what);
}

}  // namespace cnne::cuda
