// The dispatch point: every op routes on ctx.device() to cpu:: or cuda::.
#include "engine/ops.h"

#include <string>

#include "engine/error.h"

namespace cnne::ops {
namespace {

[[maybe_unused]] [[noreturn]] void throw_no_cuda(const char* op) {
  throw DeviceError(std::string(op) + ": this cnnengine was built without CUDA; use --device cpu");
}

}  // namespace

#ifdef CNNE_WITH_CUDA
#define CNNE_ROUTE(op, ...) \
  return ctx.device() == Device::CPU ? cpu_mixed::op(ctx, __VA_ARGS__) : cuda::op(ctx, __VA_ARGS__)
#else
#define CNNE_ROUTE(op, ...)                            \
  if (ctx.device() != Device::CPU) throw_no_cuda(#op); \
  return cpu_mixed::op(ctx, __VA_ARGS__)
#endif

size_t conv2d_workspace_bytes(Context& ctx, const Conv2dParams& p, const Shape& x, const Shape& w,
                              DType dtype) {
  CNNE_ROUTE(conv2d_workspace_bytes, p, x, w, dtype);
}
void conv2d_forward(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& w,
                    const Tensor* b, FusedActivation act, const Tensor& y) {
  CNNE_ROUTE(conv2d_forward, p, x, w, b, act, y);
}
void conv2d_backward_data(Context& ctx, const Conv2dParams& p, const Tensor& w, const Tensor& dy,
                          const Tensor& dx) {
  CNNE_ROUTE(conv2d_backward_data, p, w, dy, dx);
}
void conv2d_backward_filter(Context& ctx, const Conv2dParams& p, const Tensor& x, const Tensor& dy,
                            const Tensor& dw) {
  CNNE_ROUTE(conv2d_backward_filter, p, x, dy, dw);
}
void conv2d_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  CNNE_ROUTE(conv2d_backward_bias, dy, db);
}
void maxpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  CNNE_ROUTE(maxpool2d_forward, p, x, y);
}
void maxpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y,
                        const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(maxpool2d_backward, p, x, y, dy, dx);
}
void avgpool2d_forward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  CNNE_ROUTE(avgpool2d_forward, p, x, y);
}
void avgpool2d_backward(Context& ctx, const Pool2dParams& p, const Tensor& x, const Tensor& y,
                        const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(avgpool2d_backward, p, x, y, dy, dx);
}
void global_avgpool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  CNNE_ROUTE(global_avgpool_forward, x, y);
}
void global_avgpool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(global_avgpool_backward, dy, dx);
}
void batchnorm_forward_training(Context& ctx, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, float momentum, float eps,
                                const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& save_mean, const Tensor& save_invstd,
                                FusedActivation act, const Tensor& y) {
  CNNE_ROUTE(batchnorm_forward_training, x, gamma, beta, momentum, eps, running_mean, running_var,
             save_mean, save_invstd, act, y);
}
void batchnorm_forward_inference(Context& ctx, const Tensor& x, const Tensor& gamma,
                                 const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, FusedActivation act,
                                 const Tensor& y) {
  CNNE_ROUTE(batchnorm_forward_inference, x, gamma, beta, running_mean, running_var, eps, act, y);
}
void batchnorm_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& gamma,
                        const Tensor& save_mean, const Tensor& save_invstd, float eps,
                        const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  CNNE_ROUTE(batchnorm_backward, x, dy, gamma, save_mean, save_invstd, eps, dx, dgamma, dbeta);
}
void groupnorm_forward(Context& ctx, int64_t groups, float eps, const Tensor& x,
                       const Tensor* gamma, const Tensor* beta, const Tensor& save_mean,
                       const Tensor& save_rstd, FusedActivation act, const Tensor& y) {
  CNNE_ROUTE(groupnorm_forward, groups, eps, x, gamma, beta, save_mean, save_rstd, act, y);
}
void groupnorm_backward(Context& ctx, int64_t groups, const Tensor& x, const Tensor& dy,
                        const Tensor* gamma, const Tensor& save_mean, const Tensor& save_rstd,
                        const Tensor& dx, const Tensor* dgamma, const Tensor* dbeta) {
  CNNE_ROUTE(groupnorm_backward, groups, x, dy, gamma, save_mean, save_rstd, dx, dgamma, dbeta);
}
void mul_forward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& y) {
  CNNE_ROUTE(mul_forward, x, s, y);
}
void mul_backward(Context& ctx, const Tensor& x, const Tensor& s, const Tensor& dy,
                  const Tensor* dx, const Tensor* ds) {
  CNNE_ROUTE(mul_backward, x, s, dy, dx, ds);
}
void prelu_forward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& y) {
  CNNE_ROUTE(prelu_forward, x, weight, y);
}
void prelu_backward(Context& ctx, const Tensor& x, const Tensor& weight, const Tensor& dy,
                    const Tensor* dx, const Tensor& dweight) {
  CNNE_ROUTE(prelu_backward, x, weight, dy, dx, dweight);
}
void dropout_forward(Context& ctx, float p, float scale, const uint64_t* step_key, uint64_t salt,
                     bool per_channel, const Tensor& x, const Tensor& mask, const Tensor& y) {
  CNNE_ROUTE(dropout_forward, p, scale, step_key, salt, per_channel, x, mask, y);
}
void multiply(Context& ctx, const Tensor& a, const Tensor& b, float scale, const Tensor& out) {
  CNNE_ROUTE(multiply, a, b, scale, out);
}
void relu_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  CNNE_ROUTE(relu_forward, x, y);
}
void relu_backward(Context& ctx, const Tensor& y, const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(relu_backward, y, dy, dx);
}
void activation_forward(Context& ctx, Activation kind, float param, const Tensor& x,
                        const Tensor& y) {
  CNNE_ROUTE(activation_forward, kind, param, x, y);
}
void activation_backward(Context& ctx, Activation kind, float param, const Tensor& x,
                         const Tensor& y, const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(activation_backward, kind, param, x, y, dy, dx);
}
void linear_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor* b,
                    FusedActivation act, const Tensor& y) {
  CNNE_ROUTE(linear_forward, x, w, b, act, y);
}
void linear_backward_data(Context& ctx, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  CNNE_ROUTE(linear_backward_data, w, dy, dx);
}
void linear_backward_weight(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  CNNE_ROUTE(linear_backward_weight, x, dy, dw);
}
void linear_backward_bias(Context& ctx, const Tensor& dy, const Tensor& db) {
  CNNE_ROUTE(linear_backward_bias, dy, db);
}
void softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                           float smoothing, const float* grad_scale, const Tensor* dlogits,
                           const Tensor& loss_sum, const Tensor& correct) {
  CNNE_ROUTE(softmax_cross_entropy, logits, labels, smoothing, grad_scale, dlogits, loss_sum,
             correct);
}
void mixed_softmax_cross_entropy(Context& ctx, const Tensor& logits, const Tensor& labels,
                                 const float* lambda, float smoothing, const float* grad_scale,
                                 const Tensor* dlogits, const Tensor& loss_sum,
                                 const Tensor& correct) {
  if (labels.numel() != 2 * logits.shape[0])
    throw Error("mixed_softmax_cross_entropy: labels " + labels.shape.str() + " for logits " +
                logits.shape.str() + ", expected twice the rows");
  CNNE_ROUTE(mixed_softmax_cross_entropy, logits, labels, lambda, smoothing, grad_scale, dlogits,
             loss_sum, correct);
}
void argmax_rows(Context& ctx, const Tensor& logits, const Tensor& predictions) {
  CNNE_ROUTE(argmax_rows, logits, predictions);
}
void sgd_update(Context& ctx, const SgdHyper* h, const LossScaleState* scaling,
                const Tensor& params, const Tensor& grads, const Tensor& momentum) {
  CNNE_ROUTE(sgd_update, h, scaling, params, grads, momentum);
}
void adam_update(Context& ctx, const AdamHyper* h, const LossScaleState* scaling,
                 const Tensor& params, const Tensor& grads, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor* max_exp_avg_sq) {
  CNNE_ROUTE(adam_update, h, scaling, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq);
}
void rmsprop_update(Context& ctx, const RmspropHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& square_avg,
                    const Tensor* momentum_buffer, const Tensor* grad_avg) {
  CNNE_ROUTE(rmsprop_update, h, scaling, params, grads, square_avg, momentum_buffer, grad_avg);
}
void adagrad_update(Context& ctx, const AdagradHyper* h, const LossScaleState* scaling,
                    const Tensor& params, const Tensor& grads, const Tensor& sum) {
  CNNE_ROUTE(adagrad_update, h, scaling, params, grads, sum);
}
void unscale_gradients(Context& ctx, const float* scale, const Tensor& grads, const Tensor* count) {
  CNNE_ROUTE(unscale_gradients, scale, grads, count);
}
void update_loss_scale(Context& ctx, LossScaleState* state, int32_t growth_interval) {
  CNNE_ROUTE(update_loss_scale, state, growth_interval);
}
void sum_squares(Context& ctx, const Tensor& grads, const Tensor& partials) {
  CNNE_ROUTE(sum_squares, grads, partials);
}
void clip_coefficient(Context& ctx, const Tensor& partials, float max_norm,
                      const Tensor& norm_coef) {
  CNNE_ROUTE(clip_coefficient, partials, max_norm, norm_coef);
}
void scale_by(Context& ctx, const float* factor, const Tensor& grads) {
  CNNE_ROUTE(scale_by, factor, grads);
}
void assemble_batch(Context& ctx, const Tensor& pixels, const Tensor& labels, const Tensor& order,
                    const BatchArgs* args, const BatchAugment& aug, const Tensor& lut,
                    const Tensor& x, const Tensor& labels_out) {
  CNNE_ROUTE(assemble_batch, pixels, labels, order, args, aug, lut, x, labels_out);
}
void augment_policy(Context& ctx, const Tensor& pixels, const Tensor& order, const BatchArgs* args,
                    const BatchAugment& aug, const PolicySource& policy, const Tensor& staged) {
  CNNE_ROUTE(augment_policy, pixels, order, args, aug, policy, staged);
}
void convert(Context& ctx, const Tensor& src, const Tensor& dst) {
  CNNE_ROUTE(convert, src, dst);
}
void fill(Context& ctx, const Tensor& t, float value) {
  CNNE_ROUTE(fill, t, value);
}

void axpby(Context& ctx, float alpha, const Tensor& x, float beta, const Tensor& y) {
  CNNE_ROUTE(axpby, alpha, x, beta, y);
}
void add(Context& ctx, const Tensor& a, const Tensor& b, FusedActivation act, const Tensor& y) {
  CNNE_ROUTE(add, a, b, act, y);
}
void copy_channels(Context& ctx, const Tensor& src, int64_t src_first, const Tensor& dst,
                   int64_t dst_first, int64_t channels) {
  CNNE_ROUTE(copy_channels, src, src_first, dst, dst_first, channels);
}
void copy_to_two(Context& ctx, const Tensor& x, const Tensor& y0, const Tensor& y1) {
  CNNE_ROUTE(copy_to_two, x, y0, y1);
}
void count_nonfinite(Context& ctx, const Tensor& t, const Tensor& count) {
  CNNE_ROUTE(count_nonfinite, t, count);
}

#undef CNNE_ROUTE

}  // namespace cnne::ops
