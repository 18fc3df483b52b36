#pragma once
// Helpers shared by the tests: owning host tensors, a harness that runs one
// layer outside a Network, temporary folders and small CIFAR-10 files.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/augment.h"
#include "engine/context.h"
#include "engine/dataset.h"
#include "engine/normalization.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"
#include "layers/layer.h"

namespace cnne {
class Network;
}

namespace cnne::test {

// A host F32 tensor that owns its storage.
struct HostTensor {
  std::vector<float> values;
  Shape shape;

  HostTensor() = default;
  explicit HostTensor(Shape s, float fill = 0.0f)
      : values(static_cast<size_t>(s.numel()), fill), shape(s) {}
  Tensor view() { return Tensor(values.data(), shape); }
  Tensor view() const { return Tensor(const_cast<float*>(values.data()), shape); }
  float& operator[](size_t i) { return values[i]; }
  float operator[](size_t i) const { return values[i]; }
};

HostTensor random_tensor(Rng& rng, Shape s, float lo = -1.0f, float hi = 1.0f);

// Runs one layer on the CPU (or the given context) with its own parameter and
// gradient buffers, the way a Network would.
class LayerHarness {
 public:
  LayerHarness(Context& ctx, Layer& layer, Shape input, uint64_t seed = 7);

  Layer& layer() { return layer_; }
  Shape input_shape() const { return input_; }
  Shape output_shape() const { return output_; }
  std::vector<HostTensor>& params() { return params_; }
  std::vector<HostTensor>& grads() { return grads_; }
  std::vector<HostTensor>& buffers() { return buffers_; }

  HostTensor forward(const HostTensor& x);
  // Returns dx; fills grads().
  HostTensor backward(const HostTensor& x, const HostTensor& y, const HostTensor& dy);

 private:
  Context& ctx_;
  Layer& layer_;
  Shape input_, output_;
  std::vector<HostTensor> params_, grads_, buffers_, scratch_;
};

// Finite-difference check of a layer: L = dot(y, r) for random r; compares
// dL/dx and dL/dparams from backward() with central differences over up to
// `max_checks` random elements of each. Returns the worst mismatch description
// or "" when every element is within abs_tol + rel_tol * |numeric|.
std::string gradient_check(Layer& layer, Shape input, const HostTensor& x, uint64_t seed,
                           double eps = 1e-2, double abs_tol = 1e-4, double rel_tol = 1e-3,
                           int max_checks = 60);

// Finite-difference check of a whole network (set up here for batch n, weights
// from `seed`) on the CPU: dL/dparam from backward() against central
// differences of L = dot(logits, r), r random, with step eps, for every parameter element.
// Returns "" or the first mismatch beyond 2e-4 + 2e-3 * |numeric|.
std::string network_gradient_check(Context& ctx, Network& net, int64_t n, uint64_t seed,
                                   double eps = 1e-2);

// A fresh temporary folder, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_bytes(const std::string& path);
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

// `count` CIFAR-10 records with labels i % 10 and pixels (i * 7 + j) % 256.
std::vector<uint8_t> cifar_records(int64_t count, int64_t first_index = 0);

// IDX files (the MNIST family's format): the header and `count` images of
// rows x cols pixels (i * 3 + j) % 256, or `count` labels (i * 7) % 10.
std::vector<uint8_t> idx_images(int64_t count, int64_t rows, int64_t cols);
std::vector<uint8_t> idx_labels(int64_t count);
// `bytes` gzip-compressed into `path`, as the MNIST family is distributed.
void write_gz(const std::string& path, const std::vector<uint8_t>& bytes);
// A Fashion-MNIST folder: the four files, 28x28, gzip-compressed or not.
void make_small_fashion(const TempDir& dir, int64_t train, int64_t test, bool gz = true);

// The outcome of running the cnnengine binary.
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `cnnengine ARGS` (a shell fragment, after environment assignments
// `env`) with a time limit; captures stdout and stderr.
RunResult run_cli(const std::string& args, const std::string& env = "");
// Runs a shell command line, capturing stdout and stderr.
RunResult run_command(const std::string& command);

// The "[Epoch: e, Batch: b] Loss: x" lines of a training log (timings differ
// between runs, these do not).
std::string loss_lines(const std::string& log);
// The weights digest `cnnengine inspect` prints; "" if the file does not inspect cleanly.
std::string digest_of(const std::string& checkpoint);

// A CIFAR-10 folder with `per_file` records per training file and `test` test records.
void make_small_cifar(const TempDir& dir, int64_t per_file, int64_t test);

// The tensors of `file` whose names start with `prefix`, without it
// ("init.conv1.weight" -> "conv1.weight").
Safetensors strip_prefix(const Safetensors& file, const std::string& prefix);

// A network with parameters and running statistics, on (3, side, side) images:
// conv 3->4 3x3 (with bias) -> BatchNorm -> global average pool -> flatten
// -> [dropout p, when p > 0] -> linear 4->10.
nlohmann::json conv_bn_head_network(int64_t side, double dropout = 0.0);

// A layer from its config entry ({"type": ..., keys}), as a network config
// builds it (unknown keys refused); errors name "x.json: layer '<name>'".
std::unique_ptr<Layer> layer_from_entry(nlohmann::json entry, const std::string& name = "layer");
// A host copy of a stored F32 tensor (a fixture's).
HostTensor host_tensor(const SafetensorsTensor& t);

// "" when every element of got is within abs_tol + rel_tol * |want| of want
// (NaN matching NaN, infinities equal), else the first that is not: its index
// and both values.
// The first element of `got` (n floats) farther than tol * (1 + |want|) from
// `want`, as a line "what[i]: cnnengine x, PyTorch y"; "" if none.
std::string first_mismatch_with_pytorch(const std::string& what, const float* got,
                                        const float* want, int64_t n, double tol);
// Batch b (of `n` images) of epoch `epoch`, in order, augmented as `augment`
// with `seed`, through a CPU DeviceDataset (n is also the policy's staging size).
std::vector<float> augmented_batch(const ImageDataset& data, const Normalization& norm,
                                   const AugmentConfig& augment, uint64_t seed, int64_t epoch,
                                   int64_t b, int64_t n);
// `count` images of (channels, height, width) random pixels with random labels
// 0..9, drawn from Rng(seed): the pixels first, then the labels.
ImageDataset random_image_set(int64_t count, int64_t channels, int64_t height, int64_t width,
                              uint64_t seed);
// The training images of a trainer fixture: its "pixels" U8 (N, 3, H, W) and
// "labels" I32 (N) as a data set.
ImageDataset fixture_images(const Safetensors& fx);

std::string first_mismatch(const HostTensor& got, const HostTensor& want, double abs_tol,
                           double rel_tol);

// True when a CUDA GPU can run this build's GPU path; else false with the reason.
bool gpu_usable(std::string* why);

// Skips the current test (with the reason) where no GPU is usable.
#define REQUIRE_GPU()                                                         \
  do {                                                                        \
    std::string why_;                                                         \
    if (!::cnne::test::gpu_usable(&why_)) GTEST_SKIP() << "no GPU: " << why_; \
  } while (0)

// The project's source folder and the cnnengine binary the CLI tests run:
// where the build put them, or $CNNE_TEST_SOURCE_DIR / $CNNE_TEST_BINARY
// (the device check runs a test binary built elsewhere, in another folder).
std::string source_dir();
std::string binary_path();

// The folder of committed fixtures, and the real CIFAR-10 folder for
// whole-program tests ("" when absent: such tests skip).
std::string fixtures_dir();
std::string real_cifar_dir();
// The real Fashion-MNIST: $CNNE_TEST_FASHION_DATA, else Debian's
// /usr/share/datasets/fashion-mnist ("" when absent).
std::string real_fashion_dir();

}  // namespace cnne::test
