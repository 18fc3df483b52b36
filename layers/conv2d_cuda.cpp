// Conv2d on the GPU: cuDNN convolution descriptors, algorithms found once per
// size at setup (cudnnFind*, within the context's workspace limit), strict
// FP32 math so the result matches the CPU reference, unless the context
// allows TF32 (training.tf32, PyTorch's cudnn.allow_tf32). Under mixed precision
// (Note [mixed precision]) x, w, y are BF16/F16 with F32 accumulation and
// tensor-core algorithms allowed; the bias stays F32 and goes through the
// bias epilogue kernel.
#include <algorithm>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/cuda_context.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/bias_activation_cuda.h"

namespace cnne::cuda {
namespace {

const float kOne = 1.0f, kZero = 0.0f;

// The first result (the fastest for cudnnFind*, cuDNN's preferred for the
// heuristics) that succeeded, fits the limit and, for strict F32 data, does not use
// TF32 tensor-core math (FP32 stays exact enough to match the CPU reference;
// 16-bit data is what tensor cores are for); in deterministic mode, only a
// bit-reproducible one. F32 data never takes an ALLOW_CONVERSION result, even
// with TF32 allowed: it converts the tensors down to FP16 (its range, not TF32's).
template <class Perf>
const Perf& pick(const Perf* results, int count, size_t limit, bool deterministic, bool tensor_ops,
                 bool f32_data, const std::string& what) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = results[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > limit) continue;
    if (deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    if (!tensor_ops && p.mathType == CUDNN_TENSOR_OP_MATH) continue;
    if ((!tensor_ops || f32_data) && p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    return p;
  }
  throw DeviceError(std::string("cuDNN found no ") + (tensor_ops ? "" : "strict FP32 ") +
                    (deterministic ? "deterministic " : "") + "algorithm within " +
                    std::to_string(limit >> 20) + " MiB of workspace for " + what +
                    (!tensor_ops && what.find(" nhwc") != std::string::npos
                         ? " (channels-last: try --tf32 or --precision bf16)"
                         : ""));
}

// How many results one direction's cudnnFind* / cudnnGet*_v7 may return:
// cuDNN's count for this device (`max_count`), at least `floor`.
int max_results(cudnnStatus_t (*max_count)(cudnnHandle_t, int*), cudnnHandle_t h, int floor,
                const std::string& what) {
  int n = 0;
  CNNE_CHECK_AT(max_count(h, &n), what);
  return std::max(n, floor);
}

// The candidate algorithms of one direction, Note [algorithm choice]: timed
// by cudnnFind* or, with `heuristic`, in cuDNN's heuristic order with each
// one's workspace asked exactly under its own math type (`set_math`, then
// back to `math`; a candidate whose size cannot be had is marked
// unsupported). Returns how many `out` holds.
template <class Perf, class Find, class Heuristic, class Workspace, class SetMath>
int candidates(bool heuristic, Perf* out, int max, Find find, Heuristic get, Workspace workspace,
               SetMath set_math, cudnnMathType_t math, const std::string& what) {
  int count = 0;
  if (!heuristic) {
    CNNE_CHECK_AT(find(max, &count, out), what);
    return count;
  }
  CNNE_CHECK_AT(get(max, &count, out), what);
  for (int i = 0; i < count; ++i) {
    if (out[i].status != CUDNN_STATUS_SUCCESS) continue;
    // 16-bit plans run each algorithm under its own math type (use_math);
    // Strict F32 runs everything under CUDNN_FMA_MATH, so ask under that.
    const bool own_math = math != CUDNN_FMA_MATH && out[i].mathType != math;
    if (own_math) CNNE_CHECK_AT(set_math(out[i].mathType), what);
    if (workspace(out[i].algo, &out[i].memory) != CUDNN_STATUS_SUCCESS)
      out[i].status = CUDNN_STATUS_NOT_SUPPORTED;
    if (own_math) CNNE_CHECK_AT(set_math(math), what);
  }
  return count;
}

// Sets the math type a 16-bit plan's algorithm for one direction was chosen
// with (PyTorch does the same before each call); host-side only, so safe
// inside a CUDA graph capture.
void use_math(const ConvPlan& plan, cudnnMathType_t math, const std::string& what) {
  if (plan.per_call_math) CNNE_CHECK_AT(cudnnSetConvolutionMathType(plan.conv, math), what);
}

ConvPlan& conv_plan(Context& ctx, const Conv2dParams& p, const Shape& x, const Shape& w,
                    DType dtype, bool nhwc) {
  CudaContext& cu = ctx.cuda();
  const bool tf32 = dtype == DType::F32 && ctx.allow_tf32();
  const ConvKey key = make_conv_key(p, x, w, dtype, tf32, nhwc);
  auto& slot = cu.plans().conv[key];
  if (slot) return *slot;
  const std::string what = describe(key);
  auto plan = std::make_unique<ConvPlan>();
  set_descriptors(*plan, key, what);
  // Tensor cores: 16-bit data, or F32 data where TF32 is allowed.
  const bool tensor_ops = is_half(dtype) || tf32;
  const cudnnMathType_t math = conv_math(key);
  const bool f32_data = dtype == DType::F32;

  // Plans made after setup (a batch size setup was not told of) must fit the
  // workspace already reserved: it does not grow inside training.
  size_t limit = cu.workspace_limit();
  if (ctx.workspace_bytes() > 0) limit = std::min(limit, ctx.workspace_bytes());
  // Note [algorithm choice]: by default cudnnFind* times every algorithm and
  // the fastest that qualifies wins (PyTorch's benchmark=True). Timing noise
  // can change that choice from one process to the next, so deterministic
  // mode takes cuDNN's heuristic order instead (cudnnGet*_v7, PyTorch's
  // benchmark=False): the same algorithms in every run and every resume,
  // each candidate's workspace asked of cuDNN exactly.
  const bool heuristic = ctx.deterministic();
  const cudnnHandle_t h = cu.cudnn();
  const auto xd = plan->x.get(), yd = plan->y.get();
  const auto wd = plan->w.get();
  const auto conv = plan->conv.get();
  const auto set_math = [&](cudnnMathType_t m) { return cudnnSetConvolutionMathType(conv, m); };

  // As many results as cuDNN may return (one per algorithm and math type,
  // more than *_ALGO_COUNT on tensor-core GPUs): a shorter list could cut off
  // the only results the filters of pick() accept.
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(
      max_results(cudnnGetConvolutionForwardAlgorithmMaxCount, h, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                  "forward " + what));
  int count = candidates(
      heuristic, fwd.data(), static_cast<int>(fwd.size()),
      [&](int m, int* c, auto* r) {
        return cudnnFindConvolutionForwardAlgorithm(h, xd, wd, conv, yd, m, c, r);
      },
      [&](int m, int* c, auto* r) {
        return cudnnGetConvolutionForwardAlgorithm_v7(h, xd, wd, conv, yd, m, c, r);
      },
      [&](auto algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, conv, yd, algo, bytes);
      },
      set_math, math, "forward " + what);
  const auto& f =
      pick(fwd.data(), count, limit, ctx.deterministic(), tensor_ops, f32_data, "forward " + what);
  plan->forward_algo = f.algo;
  plan->forward_bytes = f.memory;
  plan->forward_ms = heuristic ? -1.0f : f.time;
  plan->forward_candidates = count;

  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> bwd_data(
      max_results(cudnnGetConvolutionBackwardDataAlgorithmMaxCount, h,
                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, "backward data " + what));
  count = candidates(
      heuristic, bwd_data.data(), static_cast<int>(bwd_data.size()),
      [&](int m, int* c, auto* r) {
        return cudnnFindConvolutionBackwardDataAlgorithm(h, wd, yd, conv, xd, m, c, r);
      },
      [&](int m, int* c, auto* r) {
        return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, wd, yd, conv, xd, m, c, r);
      },
      [&](auto algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, wd, yd, conv, xd, algo, bytes);
      },
      set_math, math, "backward data " + what);
  const auto& d = pick(bwd_data.data(), count, limit, ctx.deterministic(), tensor_ops, f32_data,
                       "backward data " + what);
  plan->backward_data_algo = d.algo;
  plan->backward_data_bytes = d.memory;
  plan->backward_data_ms = heuristic ? -1.0f : d.time;
  plan->backward_data_candidates = count;

  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> bwd_filter(
      max_results(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, h,
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, "backward filter " + what));
  count = candidates(
      heuristic, bwd_filter.data(), static_cast<int>(bwd_filter.size()),
      [&](int m, int* c, auto* r) {
        return cudnnFindConvolutionBackwardFilterAlgorithm(h, xd, yd, conv, wd, m, c, r);
      },
      [&](int m, int* c, auto* r) {
        return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, xd, yd, conv, wd, m, c, r);
      },
      [&](auto algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, xd, yd, conv, wd, algo, bytes);
      },
      set_math, math, "backward filter " + what);
  const auto& g = pick(bwd_filter.data(), count, limit, ctx.deterministic(), tensor_ops, f32_data,
                       "backward filter " + what);
  plan->backward_filter_algo = g.algo;
  plan->backward_filter_bytes = g.memory;
  plan->backward_filter_ms = heuristic ? -1.0f : g.time;
  plan->backward_filter_candidates = count;
  if (tensor_ops) {  // strict F32 keeps CUDNN_FMA_MATH for every direction
    plan->per_call_math = true;
    plan->forward_math = f.mathType;
    plan->backward_data_math = d.mathType;
    plan->backward_filter_math = g.mathType;
  }

  slot = std::move(plan);
  return *slot;
}

void check_workspace(const Context& ctx, size_t need, const ConvPlan&) {
  if (ctx.workspace_bytes() < need)
    throw DeviceError("conv2d: workspace of " + std::to_string(ctx.workspace_bytes()) +
                      " bytes, the chosen algorithm needs " + std::to_string(need) +
                      " (was setup skipped for this batch size?)");
}

}  // namespace

size_t conv2d_workspace_bytes(Context& ctx, const Conv2dParams& p, const Shape& x, const Shape& w,
                              DType dtype) {
  // The convolutions' need, and room for the bias gradient's partial sums.
  return std::max(conv_plan(ctx, p, x, w, dtype, p.channels_last).workspace_bytes(),
                  bias_gradient_scratch_bytes(w[0]));
}

namespace {

// The plan for these tensors: NHWC when any is channels-last (Note [channels
// last]); the others must be too, unless their layouts are the same memory
// (one pixel per plane).
ConvPlan& plan_for(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                   const Tensor& y, const char* what) {
  const bool nhwc = x.channels_last || w.channels_last || y.channels_last;
  for (const Tensor* t : {&x, &w, &y})
    if (t->channels_last != nhwc && t->shape[2] * t->shape[3] > 1)
      throw Error(std::string(what) + ": x " + x.shape.str() + ", w " + w.shape.str() + ", y " +
                  y.shape.str() + " must all be channels-last or none");
  return conv_plan(ctx, p, x.shape, w.shape, x.dtype, nhwc);
}

// The (channels, values per channel plane) the bias kernels see: NCHW (K, P*Q)
// per image; NHWC is (N*P*Q, K), a linear output's layout (P*Q = 1).
int64_t bias_plane(const Tensor& y) {
  return y.channels_last ? 1 : y.shape[2] * y.shape[3];  // (one pixel: the same either way)
}

}  // namespace

void conv2d_forward(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                    const Tensor* b, FusedActivation act, const Tensor& y) {
  require_dtype(x.dtype, {&w, &y}, "conv2d forward");
  ConvPlan& plan = plan_for(ctx, p, x, w, y, "conv2d forward");
  check_workspace(ctx, plan.forward_bytes, plan);
  CudaContext& cu = ctx.cuda();
  use_math(plan, plan.forward_math, "conv2d forward");
  CNNE_CHECK_AT(cudnnConvolutionForward(cu.cudnn(), &kOne, plan.x, x.data, plan.w, w.data,
                                        plan.conv, plan.forward_algo, ctx.workspace(),
                                        plan.forward_bytes, &kZero, plan.y, y.data),
                "conv2d forward " + x.shape.str());
  // bias (and ReLU) in one pass; also for NHWC (our epilogue indexes channels itself)
  if (act == FusedActivation::kRelu || is_half(y.dtype) || y.channels_last)
    add_bias_activation(cu, y, b ? b->f32() : nullptr, y.shape[1], bias_plane(y), act,
                        "conv2d forward");
  else if (b)
    CNNE_CHECK_AT(cudnnAddTensor(cu.cudnn(), &kOne, plan.bias, b->data, &kOne, plan.y, y.data),
                  "conv2d bias " + y.shape.str());
}

void conv2d_backward_data(Context& ctx, const Conv2dParams& p, const Tensor& w, const Tensor& dy,
                          const Tensor& dx) {
  require_dtype(dx.dtype, {&w, &dy}, "conv2d backward data");
  ConvPlan& plan = plan_for(ctx, p, dx, w, dy, "conv2d backward data");
  check_workspace(ctx, plan.backward_data_bytes, plan);
  use_math(plan, plan.backward_data_math, "conv2d backward data");
  CNNE_CHECK_AT(
      cudnnConvolutionBackwardData(ctx.cuda().cudnn(), &kOne, plan.w, w.data, plan.y, dy.data,
                                   plan.conv, plan.backward_data_algo, ctx.workspace(),
                                   plan.backward_data_bytes, &kZero, plan.x, dx.data),
      "conv2d backward data " + dx.shape.str());
}

void conv2d_backward_filter(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                            const Tensor& dw) {
  require_dtype(x.dtype, {&dy, &dw}, "conv2d backward filter");
  ConvPlan& plan = plan_for(ctx, p, x, dw, dy, "conv2d backward filter");
  check_workspace(ctx, plan.backward_filter_bytes, plan);
  use_math(plan, plan.backward_filter_math, "conv2d backward filter");
  CNNE_CHECK_AT(
      cudnnConvolutionBackwardFilter(ctx.cuda().cudnn(), &kOne, plan.x, x.data, plan.y, dy.data,
                                     plan.conv, plan.backward_filter_algo, ctx.workspace(),
                                     plan.backward_filter_bytes, &kZero, plan.w, dw.data),
      "conv2d backward filter " + x.shape.str());
}

// Our own per-channel reduction rather than cudnnConvolutionBackwardBias:
// deterministic by construction (a fixed order in double), and it writes the
// F32 gradient of a 16-bit dy, which cuDNN's call (one dtype for both) cannot.
void conv2d_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  bias_gradient(ctx.cuda(), dy, db.f32(), dy.shape[1], bias_plane(dy), ctx.workspace(),
                ctx.workspace_bytes(), "conv2d backward");
}

}  // namespace cnne::cuda
