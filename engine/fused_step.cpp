#include "engine/fused_step.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/error.h"
#include "engine/fused_phases.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/pool2d.h"

namespace cnne {
namespace {

constexpr int64_t kPartialTerms = 128;  // about this many products per conv dW partial sum
constexpr int64_t kMaxSplits = 64;      // at most this many partial sums per dW element
constexpr size_t kAlign = 256;

const char* kSupported = "conv2d, linear, maxpool2d, relu and flatten in a chain";

std::string layer_where(const Layer& layer) {
  return "layer '" + layer.name() + "' (" + layer.type() + ")";
}

int32_t narrow(int64_t v) {
  return static_cast<int32_t>(v);
}

// Byte offsets into one scratch buffer, planned before it is allocated.
struct ScratchPlan {
  size_t bytes = 0;
  size_t take(size_t size) {
    const size_t at = bytes;
    bytes += (size + kAlign - 1) / kAlign * kAlign;
    return at;
  }
};

}  // namespace

std::string FusedStep::unsupported_reason(const Network& net, const Config& config) {
  const TrainingConfig& tc = config.training;
  if (tc.precision != Precision::FP32)
    return std::string("it computes in fp32; training.precision is ") +
           precision_name(tc.precision);
  if (tc.optimizer.type != "sgd" && !tc.optimizer.is_adam())
    return "it updates with SGD, Adam or AdamW; training.optimizer.type is " + tc.optimizer.type;
  if (tc.optimizer.amsgrad)
    return "it updates with Adam's own rule; training.optimizer.amsgrad is set";
  if (!tc.freeze.empty()) return "it updates every layer; training.freeze is set";
  if (tc.accumulate_steps > 1)
    return "it steps after every batch; training.accumulate_steps is set";
  if (!tc.optimizer.no_weight_decay.empty())
    return "it decays every parameter alike; training.optimizer.no_weight_decay is set";
  if (tc.clip_grad_norm > 0) return "it does not clip gradients; training.clip_grad_norm is set";
  if (tc.ema_decay > 0) return "it does not average the weights; training.ema_decay is set";
  if (tc.swa.enabled()) return "it does not average the weights; training.swa is set";
  if (config.data.augment.mixes())
    return "it does not mix batches; data.augment.mixup / cutmix are set";
  if (config.data.augment.policy.enabled())
    return "it does not run augmentation policies; data.augment.policy is set";
  if (tc.dynamic_loss_scale || tc.loss_scale != 1.0)
    return "it does not scale the loss; training.loss_scale / dynamic_loss_scale are set";
  int64_t stages = 0;
  bool have_stage = false;
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const Layer& layer = net.layer(i);
    const std::vector<size_t>& in = net.layer_inputs(i);
    if (in.size() != 1 || in[0] != i)
      return layer_where(layer) + " does not read the layer before it; it takes " + kSupported;
    const std::string type = layer.type();
    if (type == "conv2d") {
      const Conv2dParams& cp = static_cast<const Conv2d&>(layer).options().params;
      if (cp.groups != 1)
        return layer_where(layer) + " is a grouped convolution; it takes groups = 1 only";
      if (cp.dilation_h != 1 || cp.dilation_w != 1)
        return layer_where(layer) + " is a dilated convolution; it takes dilation 1 only";
    }
    if (type == "conv2d" || type == "linear" || type == "maxpool2d") {
      if (++stages > kMaxFusedStages)
        return "it takes at most " + std::to_string(kMaxFusedStages) +
               " conv2d, linear and maxpool2d layers";
      have_stage = true;
    } else if (type == "relu") {
      if (!have_stage) return layer_where(layer) + " comes before any conv2d, linear or maxpool2d";
    } else if (type != "flatten") {
      return layer_where(layer) + " is not supported; it takes " + kSupported;
    }
  }
  if (!have_stage) return "the network has no conv2d, linear or maxpool2d layer";
  const std::string last = net.layer(net.layer_count() - 1).type();
  if (last != "linear") return "the last layer must be a linear one (the logits)";
  return "";
}

FusedStep::FusedStep(Context& ctx, Network& net, Optimizer& optimizer, const DeviceDataset& data,
                     const Config& config, const Tensor& loss_sum, const Tensor& correct,
                     const Tensor& nonfinite)
    : ctx_(ctx) {
  const std::string why = unsupported_reason(net, config);
  if (!why.empty()) throw ConfigError("training.fused_step: " + why);
  const int64_t batch = config.training.batch_size;
  if (net.max_batch() < batch)
    throw Error("FusedStep: the network is set up for batches of " +
                std::to_string(net.max_batch()) + ", the recipe has " + std::to_string(batch));
  const Shape image = net.input_shape();  // (C, H, W)
  const BatchSource source = data.source();
  if (source.channels != image[0] || source.height != image[1] || source.width != image[2])
    throw DataError("training.fused_step: the images are (" + std::to_string(source.channels) +
                    ", " + std::to_string(source.height) + ", " + std::to_string(source.width) +
                    "), the network takes " + image.str());

  // The stages and their shapes at the full batch.
  ScratchPlan scratch;
  struct Offsets {
    size_t y = 0, dy = 0, argmax = 0, partials = 0;
    bool has_argmax = false, has_partials = false;
  };
  std::vector<Offsets> offsets;
  const size_t input_at = scratch.take(sizeof(float) * static_cast<size_t>(batch * image.numel()));
  Shape shape{batch, image[0], image[1], image[2]};
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const Layer& layer = net.layer(i);
    const Shape out = layer.output_shape(shape);
    const std::string type = layer.type();
    if (type == "relu") {
      plan_.stages[plan_.stage_count - 1].relu = 1;
    } else if (type != "flatten") {
      FusedStage st;
      st.c = narrow(shape[1]);
      st.h = shape.rank() == 4 ? narrow(shape[2]) : 1;
      st.w = shape.rank() == 4 ? narrow(shape[3]) : 1;
      st.k = narrow(out[1]);
      st.p = out.rank() == 4 ? narrow(out[2]) : 1;
      st.q = out.rank() == 4 ? narrow(out[3]) : 1;
      const auto& params = net.parameters();
      const size_t first = net.first_parameter_of(i);
      Offsets at;
      if (type == "conv2d") {
        const auto& o = static_cast<const Conv2d&>(layer).options();
        st.kind = kFusedConv;
        st.kh = narrow(o.kernel_h);
        st.kw = narrow(o.kernel_w);
        st.sh = o.params.stride_h;
        st.sw = o.params.stride_w;
        st.ph = o.params.pad_h;
        st.pw = o.params.pad_w;
        st.weight = params[first].offset;
        st.weight_count = params[first].shape.numel();
        if (o.bias) st.bias = params[first + 1].offset;
        const int64_t rows = batch * st.p;
        int64_t per = std::max<int64_t>(1, (kPartialTerms + st.q - 1) / st.q);
        per = std::max(per, (rows + kMaxSplits - 1) / kMaxSplits);
        st.rows_per_split = narrow(per);
        const int64_t splits = (rows + per - 1) / per;
        at.partials =
            scratch.take(sizeof(float) * static_cast<size_t>(splits * (st.weight_count + st.k)));
        at.has_partials = true;
        max_items_ =
            std::max(max_items_, batch * st.c * st.h * st.w + splits * (st.weight_count + st.k));
      } else if (type == "linear") {
        const auto& lin = static_cast<const Linear&>(layer);
        st.kind = kFusedLinear;
        st.weight = params[first].offset;
        st.weight_count = params[first].shape.numel();
        if (lin.has_bias()) st.bias = params[first + 1].offset;
        max_items_ = std::max(max_items_, batch * st.c + st.weight_count + st.k);
      } else {  // maxpool2d
        const Pool2dParams& pp = static_cast<const MaxPool2d&>(layer).params();
        st.kind = kFusedMaxPool;
        st.kh = pp.kernel_h;
        st.kw = pp.kernel_w;
        st.sh = pp.stride_h;
        st.sw = pp.stride_w;
        st.ph = pp.pad_h;
        st.pw = pp.pad_w;
        at.argmax = scratch.take(sizeof(int32_t) * static_cast<size_t>(out.numel()));
        at.has_argmax = true;
        max_items_ = std::max(max_items_, batch * st.c * st.h * st.w);
      }
      at.y = scratch.take(sizeof(float) * static_cast<size_t>(out.numel()));
      at.dy = scratch.take(sizeof(float) * static_cast<size_t>(out.numel()));
      max_items_ = std::max(max_items_, out.numel());
      offsets.push_back(at);
      stage_names_.push_back(layer.name());
      plan_.stages[plan_.stage_count++] = st;
    }
    shape = out;
  }
  if (max_items_ >= (int64_t(1) << 31))
    throw ConfigError("training.fused_step: batch " + std::to_string(batch) + " gives a phase of " +
                      std::to_string(max_items_) +
                      " work items, more than 2^31; it is meant for small batches");
  plan_.classes = plan_.stages[plan_.stage_count - 1].k;
  for (int32_t label : data.host().labels)
    if (label < 0 || label >= plan_.classes)
      throw DataError("training.fused_step: a label is " + std::to_string(label) +
                      ", the network has " + std::to_string(plan_.classes) + " outputs");
  const size_t labels_at = scratch.take(sizeof(int32_t) * static_cast<size_t>(batch));
  const size_t losses_at = scratch.take(sizeof(double) * static_cast<size_t>(batch));
  const size_t hits_at = scratch.take(sizeof(int32_t) * static_cast<size_t>(batch));
  scratch_ = Buffer(ctx.device(), scratch.bytes);
  auto* base = static_cast<char*>(scratch_.data());

  // The pointers, now that the memory exists.
  plan_.input = reinterpret_cast<float*>(base + input_at);
  for (int32_t s = 0; s < plan_.stage_count; ++s) {
    FusedStage& st = plan_.stages[s];
    const Offsets& at = offsets[static_cast<size_t>(s)];
    st.y = reinterpret_cast<float*>(base + at.y);
    st.dy = reinterpret_cast<float*>(base + at.dy);
    if (at.has_argmax) st.argmax = reinterpret_cast<int32_t*>(base + at.argmax);
    if (at.has_partials) st.partials = reinterpret_cast<float*>(base + at.partials);
    st.x = s == 0 ? plan_.input : plan_.stages[s - 1].y;
    st.needs_dx = s > 0;
    st.mask_dx = s > 0 && plan_.stages[s - 1].relu;
    st.dx = s > 0 ? plan_.stages[s - 1].dy : nullptr;
  }
  plan_.smoothing = static_cast<float>(config.training.label_smoothing);
  plan_.data = source;
  plan_.batch_labels = reinterpret_cast<int32_t*>(base + labels_at);
  plan_.losses = reinterpret_cast<double*>(base + losses_at);
  plan_.hits = reinterpret_cast<int32_t*>(base + hits_at);
  plan_.params = net.flat_parameters().f32();
  plan_.grads = net.flat_gradients().f32();
  plan_.momentum = optimizer.state(0).f32();
  plan_.adam = config.training.optimizer.is_adam() ? 1 : 0;
  if (plan_.adam) plan_.exp_avg_sq = optimizer.state(1).f32();
  plan_.loss_sum = loss_sum.f32();
  plan_.correct = correct.i32();
  plan_.nonfinite = nonfinite.i32();

  // Pooling fused: a max-pool whose windows tile its input (kernel = stride,
  // no padding, the input an exact number of windows) after a conv and before
  // a conv or linear stage is done by those two (two barriers fewer per pool).
  for (int32_t s = 1; s + 1 < plan_.stage_count; ++s) {
    FusedStage& pool = plan_.stages[s];
    const FusedStage& conv = plan_.stages[s - 1];
    // (the stage after must be a conv or a linear one: their backwards take it)
    if (pool.kind != kFusedMaxPool || conv.kind != kFusedConv ||
        plan_.stages[s + 1].kind == kFusedMaxPool || pool.kh != pool.sh || pool.kw != pool.sw ||
        pool.ph != 0 || pool.pw != 0 || pool.h % pool.kh != 0 || pool.w % pool.kw != 0)
      continue;
    plan_.stages[s - 1].pool_after = s;
    FusedStage& next = plan_.stages[s + 1];
    next.pool_before = s;
    // its dx items are now the conv's outputs
    const int64_t own = next.kind == kFusedConv
                            ? fused_splits(next, batch) * (next.weight_count + next.k)
                            : next.weight_count + next.k;
    max_items_ = std::max(max_items_, batch * pool.c * pool.h * pool.w + own);
  }

  // One step: every forward, the loss, every backward that has work, the update.
  for (int32_t s = 0; s < plan_.stage_count; ++s)
    if (s == 0 || plan_.stages[s - 1].pool_after != s)
      plan_.phases[plan_.phase_count++] = {kPhaseForward, s};
  plan_.phases[plan_.phase_count++] = {kPhaseLoss, 0};
  for (int32_t s = plan_.stage_count; s-- > 0;) {
    const FusedStage& st = plan_.stages[s];
    const bool pooled_by_next = s + 1 < plan_.stage_count && plan_.stages[s + 1].pool_before == s;
    if ((st.kind != kFusedMaxPool || st.needs_dx) && !pooled_by_next)
      plan_.phases[plan_.phase_count++] = {kPhaseBackward, s};
  }
  plan_.phases[plan_.phase_count++] = {kPhaseUpdate, 0};

  if (ctx.device() != Device::CPU) {
    plan_device_ = Buffer(ctx.device(), sizeof(FusedPlan));
    steps_device_ = Buffer(ctx.device(), sizeof(FusedStepArgs) * kMaxSteps);
    upload_plan();
  }
}

FusedStep::~FusedStep() = default;

void FusedStep::set_phase_timing(bool on) {
  plan_.phase_ns = nullptr;
  phase_ns_ = Buffer();
  if (on) {
    const std::vector<uint64_t> zeros(kMaxFusedPhases, 0);
    phase_ns_ = Buffer(ctx_.device(), sizeof(uint64_t) * zeros.size());
    copy_tensor(Tensor(reinterpret_cast<uint8_t*>(const_cast<uint64_t*>(zeros.data())),
                       Shape{int64_t(sizeof(uint64_t) * zeros.size())}),
                Tensor(static_cast<uint8_t*>(phase_ns_.data()),
                       Shape{int64_t(sizeof(uint64_t) * zeros.size())}, ctx_.device()));
    plan_.phase_ns = static_cast<uint64_t*>(phase_ns_.data());
  }
  upload_plan();
}

void FusedStep::upload_plan() {
  if (ctx_.device() == Device::CPU) return;
  const Shape bytes{int64_t(sizeof(FusedPlan))};
  copy_tensor(Tensor(reinterpret_cast<uint8_t*>(&plan_), bytes),
              Tensor(static_cast<uint8_t*>(plan_device_.data()), bytes, ctx_.device()));
}

std::vector<std::pair<std::string, double>> FusedStep::phase_times() const {
  std::vector<std::pair<std::string, double>> out;
  if (!plan_.phase_ns) return out;
  std::vector<uint64_t> ns(kMaxFusedPhases);
  copy_tensor(
      Tensor(static_cast<uint8_t*>(phase_ns_.data()), Shape{int64_t(sizeof(uint64_t) * ns.size())},
             ctx_.device()),
      Tensor(reinterpret_cast<uint8_t*>(ns.data()), Shape{int64_t(sizeof(uint64_t) * ns.size())}));
  static const char* kinds[] = {"forward", "loss", "backward", "update"};
  for (int32_t i = 0; i < plan_.phase_count; ++i) {
    const FusedPhase& ph = plan_.phases[i];
    std::string name = kinds[ph.kind];
    if (ph.kind == kPhaseForward || ph.kind == kPhaseBackward)
      name += " " + stage_names_[static_cast<size_t>(ph.stage)];
    out.emplace_back(name, static_cast<double>(ns[static_cast<size_t>(i)]) * 1e-6);
  }
  return out;
}

void FusedStep::run(const std::vector<FusedStepArgs>& steps) {
  if (steps.empty()) return;
  if (static_cast<int64_t>(steps.size()) > kMaxSteps)
    throw Error("FusedStep::run: " + std::to_string(steps.size()) + " steps, at most " +
                std::to_string(kMaxSteps) + " per run");
  if (ctx_.device() == Device::CPU) {
    run_fused_steps_host(plan_, steps.data(), static_cast<int64_t>(steps.size()),
                         std::max<int64_t>(parallelism_, 1));
    return;
  }
#ifdef CNNE_WITH_CUDA
  launched_blocks_ = cuda::run_fused_steps(ctx_, static_cast<const FusedPlan*>(plan_device_.data()),
                                           static_cast<FusedStepArgs*>(steps_device_.data()),
                                           steps.data(), static_cast<int64_t>(steps.size()),
                                           parallelism_, max_items_, !launched_once_);
  launched_once_ = true;
#else
  throw DeviceError("FusedStep: this build has no CUDA");
#endif
}

std::string FusedStep::describe() const {
  char line[160];
  if (ctx_.device() == Device::CPU)
    std::snprintf(line, sizeof line, "fused step: %d stages, %d phases per step, on the CPU",
                  plan_.stage_count, plan_.phase_count);
  else
    std::snprintf(line, sizeof line,
                  "fused step: %d stages, %d phases per step, %lld blocks (largest phase: %lld "
                  "items)",
                  plan_.stage_count, plan_.phase_count, static_cast<long long>(launched_blocks_),
                  static_cast<long long>(max_items_));
  return line;
}

FusedStepArgs fused_step_args(const DeviceDataset& data, int64_t b, int64_t batch_size,
                              const Optimizer& optimizer, const StepRates& rates, int64_t ahead) {
  FusedStepArgs a;
  a.batch = data.batch_args(b, batch_size);
  a.n = data.batch_count(b, batch_size);
  StepScalars scalars;
  optimizer.write_step(scalars, rates, ahead);
  a.sgd = scalars.sgd;
  a.adam = scalars.adam;
  return a;
}

void run_fused_steps_host(const FusedPlan& plan, const FusedStepArgs* steps, int64_t count,
                          int64_t threads) {
  using Clock = std::chrono::steady_clock;
  for (int64_t t = 0; t < threads; ++t) fused_assemble(plan, steps[0], t, threads);
  for (int64_t s = 0; s < count; ++s) {
    const FusedStepArgs* next = s + 1 < count ? &steps[s + 1] : nullptr;
    for (int32_t ph = 0; ph < plan.phase_count; ++ph) {
      const auto start = plan.phase_ns ? Clock::now() : Clock::time_point();
      for (int64_t t = 0; t < threads; ++t)
        fused_phase(plan, plan.phases[ph], steps[s], next, t, threads);
      if (plan.phase_ns)
        plan.phase_ns[ph] += static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    }
  }
}

}  // namespace cnne
