// The CPU reference for 16-bit activations (Note [mixed precision] in
// engine/precision.h): every op widens its BF16/F16 tensors to F32 host
// copies, runs the F32 reference in cnne::cpu and rounds its outputs back
// once. F32 tensors pass through untouched, so the FP32 path pays only a few
// dtype comparisons. The copies are host vectors made per call: the CPU
// reference is the yardstick here, not the fast path.
//
// The bias of a 16-bit output follows the GPU's arithmetic, so the
// GPU-vs-CPU tests compare like with like: conv2d rounds twice (cuDNN writes
// the product in 16 bits, the bias pass adds and rounds again, as PyTorch's
// cuDNN convolution then add_ does); linear rounds the bias to 16 bits and
// the sum once (cuBLAS accumulates onto the broadcast bias, as PyTorch's
// addmm under autocast).
#include <optional>
#include <vector>

#include "engine/half.h"
#include "engine/ops.h"
#include "layers/relu_math.h"

namespace cnne::cpu_mixed {
namespace {

// An F32 NCHW view of `t`: `t` itself when it is F32 and NCHW, else a copy
// (filled from `t` when `load`: widened, and transposed from a channels-last
// layout, Note [channels last]) that store() writes back into `t` (rounded,
// and transposed back). So cnne::cpu only ever sees F32 NCHW tensors.
class F32View {
 public:
  F32View(const Tensor& t, bool load) : original_(t), view_(t) {
    if (!is_half(t.dtype) && !t.channels_last) return;
    copy_.resize(static_cast<size_t>(t.numel()));  // (numel) F32, NCHW
    view_ = Tensor(copy_.data(), t.shape, Device::CPU);
    if (load) convert_tensor_host(original_, view_);
  }
  const Tensor& operator*() const { return view_; }
  const Tensor* get() const { return &view_; }
  void store() const {
    if (is_half(original_.dtype) || original_.channels_last) convert_tensor_host(view_, original_);
  }

 private:
  Tensor original_, view_;
  std::vector<float> copy_;
};

// The same for an optional tensor.
std::optional<F32View> view_of(const Tensor* t, bool load) {
  if (!t) return std::nullopt;
  return std::optional<F32View>(std::in_place, *t, load);
}

const Tensor* get(const std::optional<F32View>& v) {
  return v ? v->get() : nullptr;
}

// y (N, K, PQ) 16-bit = round(act(y + b[k])): the GPU's bias epilogue on an
// output already rounded once.
void add_bias_activation(const Tensor& y, const Tensor& b, int64_t k, int64_t pq,
                         FusedActivation act) {
  F32View yv(y, true);
  float* v = (*yv).f32();
  const float* bias = b.f32();
  const int64_t n = y.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float sum = v[i] + bias[(i / pq) % k];
    v[i] = act == FusedActivation::kRelu ? cpu::relu_value(sum) : sum;
  }
  yv.store();
}

}  // namespace

size_t conv2d_workspace_bytes(Context& ctx, const Conv2dParams& p, const Shape& x, const Shape& w,
                              DType dtype) {
  return cpu::conv2d_workspace_bytes(ctx, p, x, w, dtype);
}
void conv2d_forward(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                    const Tensor* b, FusedActivation act, const Tensor& y) {
  F32View xv(x, true), wv(w, true), yv(y, false);
  if (is_half(y.dtype) && b) {  // product rounded, then bias (and ReLU) rounded again
    cpu::conv2d_forward(ctx, p, *xv, *wv, nullptr, FusedActivation::kNone, *yv);
    yv.store();
    add_bias_activation(y, *b, y.shape[1], y.shape[2] * y.shape[3], act);
    return;
  }
  const auto bv = view_of(b, true);
  cpu::conv2d_forward(ctx, p, *xv, *wv, get(bv), act, *yv);
  yv.store();
}
void conv2d_backward_data(Context& ctx, const Conv2dParams& p, const Tensor& w, const Tensor& dy,
                          const Tensor& dx) {
  F32View wv(w, true), dyv(dy, true), dxv(dx, false);
  cpu::conv2d_backward_data(ctx, p, *wv, *dyv, *dxv);
  dxv.store();
}
void conv2d_backward_filter(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                            const Tensor& dw) {
  F32View xv(x, true), dyv(dy, true), dwv(dw, false);
  cpu::conv2d_backward_filter(ctx, p, *xv, *dyv, *dwv);
  dwv.store();
}
void conv2d_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  F32View dyv(dy, true), dbv(db, false);
  cpu::conv2d_backward_bias(ctx, *dyv, *dbv);
  dbv.store();
}
void maxpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::maxpool2d_forward(ctx, p, *xv, *yv);
  yv.store();
}
void maxpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y,
                        const Tensor& dy, const Tensor& dx) {
  F32View xv(x, true), yv(y, true), dyv(dy, true), dxv(dx, false);
  cpu::maxpool2d_backward(ctx, p, *xv, *yv, *dyv, *dxv);
  dxv.store();
}
void avgpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::avgpool2d_forward(ctx, p, *xv, *yv);
  yv.store();
}
void avgpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y,
                        const Tensor& dy, const Tensor& dx) {
  F32View xv(x, true), yv(y, true), dyv(dy, true), dxv(dx, false);
  cpu::avgpool2d_backward(ctx, p, *xv, *yv, *dyv, *dxv);
  dxv.store();
}
void global_avgpool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::global_avgpool_forward(ctx, *xv, *yv);
  yv.store();
}
void global_avgpool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  F32View dyv(dy, true), dxv(dx, false);
  cpu::global_avgpool_backward(ctx, *dyv, *dxv);
  dxv.store();
}
void batchnorm_forward_training(Context& ctx, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, float momentum, float eps,
                                const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& save_mean, const Tensor& save_invstd,
                                FusedActivation act, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::batchnorm_forward_training(ctx, *xv, gamma, beta, momentum, eps, running_mean, running_var,
                                  save_mean, save_invstd, act, *yv);
  yv.store();
}
void batchnorm_forward_inference(Context& ctx, const Tensor& x, const Tensor& gamma,
                                 const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, FusedActivation act,
                                 const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::batchnorm_forward_inference(ctx, *xv, gamma, beta, running_mean, running_var, eps, act, *yv);
  yv.store();
}
void batchnorm_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& save_mean, const Tensor& save_invstd, float eps,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  F32View xv(x, true), dyv(dy, true), dxv(dx, false);
  cpu::batchnorm_backward(ctx, *xv, *dyv, gamma, save_mean, save_invstd, eps, *dxv, dgamma, dbeta);
  dxv.store();
}
void groupnorm_forward(Context& ctx, int64_t groups, float eps, const Tensor& x,
                       const Tensor* gamma, const Tensor* beta, const Tensor& save_mean,
                       const Tensor& save_rstd, FusedActivation act, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::groupnorm_forward(ctx, groups, eps, *xv, gamma, beta, save_mean, save_rstd, act, *yv);
  yv.store();
}
void groupnorm_backward(Context& ctx, int64_t groups, const Tensor& x, const Tensor& dy,
                        const Tensor* gamma, const Tensor& save_mean, const Tensor& save_rstd,
                        const Tensor& dx, const Tensor* dgamma, const Tensor* dbeta) {
  F32View xv(x, true), dyv(dy, true), dxv(dx, false);
  cpu::groupnorm_backward(ctx, groups, *xv, *dyv, gamma, save_mean, save_rstd, *dxv, dgamma, dbeta);
  dxv.store();
}
void mul_forward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& y) {
  F32View xv(x, true), sv(s, true), yv(y, false);
  cpu::mul_forward(ctx, *xv, *sv, *yv);
  yv.store();
}
void mul_backward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& dy,
                  const Tensor* dx, const Tensor* ds) {
  F32View xv(x, true), sv(s, true), dyv(dy, true);
  std::optional<F32View> dxv, dsv;
  if (dx) dxv.emplace(*dx, false);
  if (ds) dsv.emplace(*ds, false);
  cpu::mul_backward(ctx, *xv, *sv, *dyv, dxv ? dxv->get() : nullptr, dsv ? dsv->get() : nullptr);
  if (dxv) dxv->store();
  if (dsv) dsv->store();
}
void prelu_forward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::prelu_forward(ctx, *xv, weight, *yv);
  yv.store();
}
void prelu_backward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& dy,
                    const Tensor* dx, const Tensor& dweight) {
  F32View xv(x, true), dyv(dy, true);
  std::optional<F32View> dxv;
  if (dx) dxv.emplace(*dx, false);
  cpu::prelu_backward(ctx, *xv, weight, *dyv, dxv ? dxv->get() : nullptr, dweight);
  if (dxv) dxv->store();
}
void dropout_forward(Context& ctx, float p, float scale, const uint64_t* step_key, uint64_t salt,
                     bool per_channel, const Tensor& x, const Tensor& mask, const Tensor& y) {
  F32View xv(x, true), maskv(mask, false), yv(y, false);
  cpu::dropout_forward(ctx, p, scale, step_key, salt, per_channel, *xv, *maskv, *yv);
  maskv.store();
  yv.store();
}
void multiply(Context& ctx, const Tensor& a, const Tensor& b, float scale, const Tensor& out) {
  F32View av(a, true), bv(b, true), outv(out, false);
  cpu::multiply(ctx, *av, *bv, scale, *outv);
  outv.store();
}
void relu_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::relu_forward(ctx, *xv, *yv);
  yv.store();
}
void relu_backward(Context& ctx, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  F32View yv(y, true), dyv(dy, true), dxv(dx, false);
  cpu::relu_backward(ctx, *yv, *dyv, *dxv);
  dxv.store();
}
void activation_forward(Context& ctx, Activation kind, float param, const Tensor& x,
                        const Tensor& y) {
  F32View xv(x, true), yv(y, false);
  cpu::activation_forward(ctx, kind, param, *xv, *yv);
  yv.store();
}
void activation_backward(Context& ctx, Activation kind, float param, const Tensor& x,
                         const Tensor& y, const Tensor& dy, const Tensor& dx) {
  F32View xv(x, true), yv(y, true), dyv(dy, true), dxv(dx, false);
  cpu::activation_backward(ctx, kind, param, *xv, *yv, *dyv, *dxv);
  dxv.store();
}
void linear_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor* b,
                    FusedActivation act, const Tensor& y) {
  F32View xv(x, true), wv(w, true), yv(y, false);
  if (is_half(y.dtype) && b) {  // the bias rounded to y's dtype first
    std::vector<uint16_t> narrow(static_cast<size_t>(b->numel()));  // (O) 16-bit
    std::vector<float> rounded(narrow.size());                      // (O) F32
    convert_host(b->data, b->dtype, narrow.data(), y.dtype, narrow.size());
    convert_host(narrow.data(), y.dtype, rounded.data(), DType::F32, narrow.size());
    const Tensor rb(rounded.data(), b->shape);
    cpu::linear_forward(ctx, *xv, *wv, &rb, act, *yv);
    yv.store();
    return;
  }
  const auto bv = view_of(b, true);
  cpu::linear_forward(ctx, *xv, *wv, get(bv), act, *yv);
  yv.store();
}
void linear_backward_data(Context& ctx, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  F32View wv(w, true), dyv(dy, true), dxv(dx, false);
  cpu::linear_backward_data(ctx, *wv, *dyv, *dxv);
  dxv.store();
}
void linear_backward_weight(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  F32View xv(x, true), dyv(dy, true), dwv(dw, false);
  cpu::linear_backward_weight(ctx, *xv, *dyv, *dwv);
  dwv.store();
}
void linear_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  F32View dyv(dy, true), dbv(db, false);
  cpu::linear_backward_bias(ctx, *dyv, *dbv);
  dbv.store();
}
void softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                           float smoothing, const float* grad_scale, const Tensor* dlogits,
                           const Tensor& loss_sum, const Tensor& correct) {
  F32View lv(logits, true);
  const auto dv = view_of(dlogits, false);
  cpu::softmax_cross_entropy(ctx, *lv, labels, smoothing, grad_scale, get(dv), loss_sum, correct);
  if (dv) dv->store();
}
void mixed_softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                                 const float* lambda, float smoothing, const float* grad_scale,
                                 const Tensor* dlogits, const Tensor& loss_sum,
                                 const Tensor& correct) {
  F32View lv(logits, true);
  const auto dv = view_of(dlogits, false);
  cpu::mixed_softmax_cross_entropy(ctx, *lv, labels, lambda, smoothing, grad_scale, get(dv),
                                   loss_sum, correct);
  if (dv) dv->store();
}
void argmax_rows(Context& ctx, const Tensor& logits, const Tensor& predictions) {
  F32View lv(logits, true);
  cpu::argmax_rows(ctx, *lv, predictions);
}
void sgd_update(Context& ctx, const SgdHyper* h, const LossScaleState* scaling,
                const Tensor& params, const Tensor& grads, const Tensor& momentum) {
  cpu::sgd_update(ctx, h, scaling, params, grads, momentum);
}
void adam_update(Context& ctx, const AdamHyper* h, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor* max_exp_avg_sq) {
  cpu::adam_update(ctx, h, scaling, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq);
}
void rmsprop_update(Context& ctx, const RmspropHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& square_avg,
                    const Tensor* momentum_buffer, const Tensor* grad_avg) {
  cpu::rmsprop_update(ctx, h, scaling, params, grads, square_avg, momentum_buffer, grad_avg);
}
void adagrad_update(Context& ctx, const AdagradHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& sum) {
  cpu::adagrad_update(ctx, h, scaling, params, grads, sum);
}
void unscale_gradients(Context& ctx, const float* scale, const Tensor& grads, const Tensor* count) {
  cpu::unscale_gradients(ctx, scale, grads, count);
}
void update_loss_scale(Context& ctx, LossScaleState* state, int32_t growth_interval) {
  cpu::update_loss_scale(ctx, state, growth_interval);
}
void sum_squares(Context& ctx, const Tensor& grads, const Tensor& partials) {
  cpu::sum_squares(ctx, grads, partials);
}
void clip_coefficient(Context& ctx, const Tensor& partials, float max_norm,
                      const Tensor& norm_coef) {
  cpu::clip_coefficient(ctx, partials, max_norm, norm_coef);
}
void scale_by(Context& ctx, const float* factor, const Tensor& grads) {
  cpu::scale_by(ctx, factor, grads);
}
void assemble_batch(Context& ctx, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  F32View xv(x, false);
  cpu::assemble_batch(ctx, pixels, labels, order, args, aug, lut, *xv, labels_out);
  xv.store();
}
void augment_policy(Context& ctx, const Tensor& pixels, const Tensor& order, const BatchArgs* args,
                    const BatchAugment& aug, const PolicySource& policy, const Tensor& staged) {
  cpu::augment_policy(ctx, pixels, order, args, aug, policy, staged);
}
void convert(Context& ctx, const Tensor& src, const Tensor& dst) {
  cpu::convert(ctx, src, dst);
}
void fill(Context& ctx, const Tensor& t, float value) {
  F32View tv(t, false);
  cpu::fill(ctx, *tv, value);
  tv.store();
}
void axpby(Context& ctx, float alpha, const Tensor& x, float beta, const Tensor& y) {
  F32View xv(x, true), yv(y, beta != 0.0f);
  cpu::axpby(ctx, alpha, *xv, beta, *yv);
  yv.store();
}
void add(Context& ctx, const Tensor& a, const Tensor& b, FusedActivation act, const Tensor& y) {
  F32View av(a, true), bv(b, true), yv(y, false);
  cpu::add(ctx, *av, *bv, act, *yv);  // ReLU commutes with the rounding
  yv.store();
}
void copy_channels(Context& ctx, const Tensor& src, int64_t src_first, const Tensor& dst,
                   int64_t dst_first, int64_t channels) {
  cpu::copy_channels(ctx, src, src_first, dst, dst_first, channels);  // bytes: any dtype, layout
}
void copy_to_two(Context& ctx, const Tensor& x, const Tensor& y0, const Tensor& y1) {
  F32View xv(x, true), v0(y0, false), v1(y1, false);
  cpu::copy_to_two(ctx, *xv, *v0, *v1);
  v0.store();
  v1.store();
}
void count_nonfinite(Context& ctx, const Tensor& t, const Tensor& count) {
  F32View tv(t, true);
  cpu::count_nonfinite(ctx, *tv, count);
}

}  // namespace cnne::cpu_mixed
