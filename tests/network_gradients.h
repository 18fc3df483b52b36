#pragma once
// One step's logits and parameter gradients of a network config on a device,
// the yardstick of the layer tests' CPU-vs-GPU and NCHW-vs-channels-last
// comparisons (tests/concat_test.cpp, tests/mul_test.cpp).
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/half.h"
#include "engine/network.h"
#include "tests/test_util.h"

namespace cnne::test {

// The logits and then every parameter gradient of `network` for one batch of
// n on device d: weights from Rng(seed), then a random input and a random
// gradient of the logits from the same generator (the same on every device),
// the input uploaded in the network's layout and dtype.
inline std::vector<float> logits_and_gradients(const nlohmann::json& network, Device d,
                                               bool channels_last, Precision precision, int64_t n,
                                               uint64_t seed) {
  Context ctx(d);
  Network net = Network::from_json(network, "network.json");
  net.set_precision(precision);
  net.set_channels_last(channels_last);
  net.setup(ctx, {n});
  Rng rng(seed);
  net.initialize(rng);
  const Tensor input = net.input(n);
  const HostTensor x = random_tensor(rng, input.shape);
  const HostTensor r = random_tensor(rng, net.output_grad(n).shape);
  std::vector<float> staged(x.values.size());  // (numel) x in the input's layout
  convert_tensor_host(x.view(),
                      Tensor(staged.data(), x.shape).with_channels_last(input.channels_last));
  upload_f32(staged, input);  // rounded to the input's dtype
  std::vector<float> out = download_f32(net.forward(n));
  upload_f32(r.values, net.output_grad(n));
  net.backward(n);
  const std::vector<float> grads = download_f32(net.flat_gradients());
  out.insert(out.end(), grads.begin(), grads.end());
  return out;
}

}  // namespace cnne::test
