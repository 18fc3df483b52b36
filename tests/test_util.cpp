#include "tests/test_util.h"

#include <zlib.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/network.h"
#include "engine/step_args.h"
#include "layers/registry.h"

#ifdef CNNE_WITH_CUDA
#include "cuda/device_query.h"
#endif

namespace cnne::test {

HostTensor random_tensor(Rng& rng, Shape s, float lo, float hi) {
  HostTensor t(s);
  for (auto& v : t.values) v = rng.uniform(lo, hi);
  return t;
}

LayerHarness::LayerHarness(Context& ctx, Layer& layer, Shape input, uint64_t seed)
    : ctx_(ctx), layer_(layer), input_(input), output_(layer.output_shape(input)) {
  std::vector<Tensor> p, g, init_views;
  for (const ParamSpec& spec : layer.parameter_specs()) {
    params_.emplace_back(spec.shape);
    grads_.emplace_back(spec.shape);
  }
  for (auto& t : params_) init_views.push_back(t.view());
  Rng rng(seed);
  layer.initialize(rng, init_views);
  for (size_t i = 0; i < params_.size(); ++i) {
    p.push_back(params_[i].view());
    g.push_back(grads_[i].view());
  }
  layer.bind(p, g);
  std::vector<Tensor> b, sc;
  for (const ParamSpec& spec : layer.buffer_specs()) buffers_.emplace_back(spec.shape);
  for (const ParamSpec& spec : layer.scratch_specs(input)) scratch_.emplace_back(spec.shape);
  for (auto& t : buffers_) b.push_back(t.view());
  for (auto& t : scratch_) sc.push_back(t.view());
  layer.initialize_buffers(b);
  layer.bind_state(b, sc);
  ctx.reserve_workspace(layer.workspace_bytes(ctx, input));
}

HostTensor LayerHarness::forward(const HostTensor& x) {
  HostTensor y(output_);
  layer_.forward(ctx_, x.view(), y.view());
  return y;
}

HostTensor LayerHarness::backward(const HostTensor& x, const HostTensor& y, const HostTensor& dy) {
  HostTensor dx(input_);
  const Tensor dx_view = dx.view();
  layer_.backward(ctx_, x.view(), y.view(), dy.view(), &dx_view);
  return dx;
}

namespace {

double dot(const HostTensor& a, const HostTensor& b) {
  double s = 0;
  for (size_t i = 0; i < a.values.size(); ++i)
    s += static_cast<double>(a.values[i]) * static_cast<double>(b.values[i]);
  return s;
}

}  // namespace

std::string gradient_check(Layer& layer, Shape input, const HostTensor& x_in, uint64_t seed,
                           double eps, double abs_tol, double rel_tol, int max_checks) {
  Context ctx(Device::CPU);
  LayerHarness h(ctx, layer, input, seed);
  Rng rng(seed + 1);
  HostTensor x = x_in;
  const HostTensor r = random_tensor(rng, h.output_shape());
  const HostTensor y = h.forward(x);
  const HostTensor dx = h.backward(x, y, r);
  auto loss = [&] { return dot(h.forward(x), r); };

  std::string worst;
  double worst_excess = 0;
  auto check = [&](std::vector<float>& values, const std::vector<float>& analytic,
                   const std::string& what) {
    const size_t n = values.size();
    const size_t checks = std::min<size_t>(n, static_cast<size_t>(max_checks));
    for (size_t c = 0; c < checks; ++c) {
      const size_t i = checks == n ? c : static_cast<size_t>(rng.below(n));
      const float saved = values[i];
      values[i] = saved + static_cast<float>(eps);
      const double plus = loss();
      values[i] = saved - static_cast<float>(eps);
      const double minus = loss();
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double diff = std::fabs(numeric - analytic[i]);
      const double allowed = abs_tol + rel_tol * std::fabs(numeric);
      if (diff > allowed && diff - allowed > worst_excess) {
        worst_excess = diff - allowed;
        std::ostringstream s;
        s << what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric;
        worst = s.str();
      }
    }
  };
  check(x.values, dx.values, "dx");
  for (size_t p = 0; p < h.params().size(); ++p)
    check(h.params()[p].values, h.grads()[p].values, "dparam" + std::to_string(p));
  return worst;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cnne-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<uint8_t> cifar_records(int64_t count, int64_t first_index) {
  std::vector<uint8_t> bytes;
  for (int64_t i = first_index; i < first_index + count; ++i) {
    bytes.push_back(static_cast<uint8_t>(i % 10));
    for (int64_t j = 0; j < 3072; ++j) bytes.push_back(static_cast<uint8_t>((i * 7 + j) % 256));
  }
  return bytes;
}

namespace {

void append_be32(std::vector<uint8_t>& out, int64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

}  // namespace

std::vector<uint8_t> idx_images(int64_t count, int64_t rows, int64_t cols) {
  std::vector<uint8_t> bytes{0, 0, 0x08, 3};
  for (int64_t d : {count, rows, cols}) append_be32(bytes, d);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < rows * cols; ++j)
      bytes.push_back(static_cast<uint8_t>((i * 3 + j) % 256));
  return bytes;
}

std::vector<uint8_t> idx_labels(int64_t count) {
  std::vector<uint8_t> bytes{0, 0, 0x08, 1};
  append_be32(bytes, count);
  for (int64_t i = 0; i < count; ++i) bytes.push_back(static_cast<uint8_t>((i * 7) % 10));
  return bytes;
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  const int wrote =
      bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  if (wrote != static_cast<int>(bytes.size())) throw std::runtime_error("gzwrite failed: " + path);
}

void make_small_fashion(const TempDir& dir, int64_t train, int64_t test, bool gz) {
  const auto put = [&](const std::string& stem, const std::vector<uint8_t>& bytes) {
    if (gz)
      write_gz(dir.file(stem + ".gz"), bytes);
    else
      write_bytes(dir.file(stem), bytes);
  };
  put("train-images-idx3-ubyte", idx_images(train, 28, 28));
  put("train-labels-idx1-ubyte", idx_labels(train));
  put("t10k-images-idx3-ubyte", idx_images(test, 28, 28));
  put("t10k-labels-idx1-ubyte", idx_labels(test));
}

namespace {

std::string from_env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

}  // namespace

std::string source_dir() {
  return from_env_or("CNNE_TEST_SOURCE_DIR", CNNE_SOURCE_DIR);
}

std::string binary_path() {
  return from_env_or("CNNE_TEST_BINARY", CNNE_BINARY);
}

RunResult run_cli(const std::string& args, const std::string& env) {
  return run_command(env + " timeout 600 " + binary_path() + " " + args);
}

RunResult run_command(const std::string& command) {
  TempDir dir;
  const std::string cmd = command + " > " + dir.file("out") + " 2> " + dir.file("err");
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(dir.file("out"));
  r.err = read_text(dir.file("err"));
  return r;
}

std::string digest_of(const std::string& checkpoint) {
  const RunResult r = run_cli("inspect " + checkpoint);
  std::smatch m;
  static const std::regex re("weights digest: ([0-9a-f]+)");
  if (r.exit_code != 0 || !std::regex_search(r.out, m, re)) return "";
  return m[1].str();
}

std::string loss_lines(const std::string& log) {
  std::istringstream in(log);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("[Epoch", 0) == 0) out += line + "\n";
  return out;
}

void make_small_cifar(const TempDir& dir, int64_t per_file, int64_t test) {
  for (int i = 1; i <= 5; ++i)
    write_bytes(dir.file("data_batch_" + std::to_string(i) + ".bin"),
                cifar_records(per_file, (i - 1) * per_file));
  write_bytes(dir.file("test_batch.bin"), cifar_records(test, 500));
}

Safetensors strip_prefix(const Safetensors& file, const std::string& prefix) {
  Safetensors out;
  for (const auto& t : file.tensors)
    if (t.name.rfind(prefix, 0) == 0) {
      SafetensorsTensor copy = t;
      copy.name = t.name.substr(prefix.size());
      out.tensors.push_back(std::move(copy));
    }
  return out;
}

std::string network_gradient_check(Context& ctx, Network& net, int64_t n, uint64_t seed,
                                   double eps) {
  net.setup(ctx, {n});
  Rng rng(seed);
  net.initialize(rng);
  const HostTensor x = random_tensor(rng, net.input(n).shape);
  const HostTensor r = random_tensor(rng, net.output_shape(n));
  auto loss = [&] {
    copy_tensor(x.view(), net.input(n));
    const Tensor logits = net.forward(n);
    double l = 0;
    for (int64_t i = 0; i < logits.numel(); ++i) l += double(logits.f32()[i]) * r[size_t(i)];
    return l;
  };
  loss();
  copy_tensor(r.view(), net.output_grad(n));
  net.backward(n);
  std::vector<float> analytic(static_cast<size_t>(net.flat_gradients().numel()));
  copy_tensor(net.flat_gradients(), Tensor(analytic.data(), net.flat_gradients().shape));
  std::vector<float> weights = net.download_parameters();
  std::string worst;
  for (const NamedParam& p : net.parameters())
    for (int64_t k = 0; k < p.shape.numel() && worst.empty(); ++k) {
      const size_t i = static_cast<size_t>(p.offset + k);
      const float saved = weights[i];
      weights[i] = saved + static_cast<float>(eps);
      net.upload_parameters(weights);
      const double plus = loss();
      weights[i] = saved - static_cast<float>(eps);
      net.upload_parameters(weights);
      const double minus = loss();
      weights[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      if (!(std::fabs(analytic[i] - numeric) <= 2e-4 + 2e-3 * std::fabs(numeric)))
        worst = p.name + "[" + std::to_string(k) + "]: backward " + std::to_string(analytic[i]) +
                ", finite differences " + std::to_string(numeric);
    }
  net.upload_parameters(weights);
  return worst;
}

std::unique_ptr<Layer> layer_from_entry(nlohmann::json entry, const std::string& name) {
  const std::string type = entry.at("type");
  entry.erase("type");
  JsonFields fields(entry, "x.json: layer '" + name + "'");
  std::unique_ptr<Layer> layer = LayerRegistry::builtin().create(type, name, fields);
  fields.finish();
  return layer;
}

std::string first_mismatch_with_pytorch(const std::string& what, const float* got,
                                        const float* want, int64_t n, double tol) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= tol * (1 + std::fabs(double(want[i])))))
      return what + "[" + std::to_string(i) + "]: cnnengine " + std::to_string(got[i]) +
             ", PyTorch " + std::to_string(want[i]);
  return "";
}

ImageDataset random_image_set(int64_t count, int64_t channels, int64_t height, int64_t width,
                              uint64_t seed) {
  ImageDataset data;
  data.count = count;
  data.channels = channels;
  data.height = height;
  data.width = width;
  Rng rng(seed);
  for (int64_t i = 0; i < count * data.image_bytes(); ++i)
    data.pixels.push_back(static_cast<uint8_t>(rng.below(256)));
  for (int64_t i = 0; i < count; ++i) data.labels.push_back(static_cast<int32_t>(rng.below(10)));
  return data;
}

ImageDataset fixture_images(const Safetensors& fx) {
  ImageDataset data;
  const SafetensorsTensor* pixels = fx.find("pixels");
  data.count = pixels->shape[0];
  data.height = pixels->shape[2];
  data.width = pixels->shape[3];
  data.pixels = pixels->bytes;
  const SafetensorsTensor* labels = fx.find("labels");
  data.labels.resize(static_cast<size_t>(data.count));
  std::memcpy(data.labels.data(), labels->bytes.data(), data.labels.size() * sizeof(int32_t));
  return data;
}

std::string first_mismatch(const HostTensor& got, const HostTensor& want, double abs_tol,
                           double rel_tol) {
  if (got.values.size() != want.values.size()) return "sizes differ";
  for (size_t i = 0; i < want.values.size(); ++i) {
    const float g = got.values[i], w = want.values[i];
    if ((std::isnan(g) && std::isnan(w)) || g == w) continue;
    if (!std::isfinite(g) || !std::isfinite(w) ||
        std::fabs(double(g) - w) > abs_tol + rel_tol * std::fabs(double(w)))
      return "element " + std::to_string(i) + ": got " + std::to_string(g) + ", want " +
             std::to_string(w);
  }
  return "";
}

HostTensor host_tensor(const SafetensorsTensor& t) {
  if (t.dtype != DType::F32) throw Error(t.name + ": expected an F32 tensor");
  HostTensor h(t.shape);
  std::memcpy(h.values.data(), t.bytes.data(), t.bytes.size());
  return h;
}

nlohmann::json conv_bn_head_network(int64_t side, double dropout) {
  nlohmann::json layers = nlohmann::json::parse(R"([
    {"type": "conv2d", "name": "c", "in_channels": 3, "out_channels": 4, "kernel_size": 3},
    {"type": "batchnorm2d", "name": "bn", "num_features": 4},
    {"type": "global_avgpool2d", "name": "gap"},
    {"type": "flatten", "name": "f"}])");
  if (dropout > 0) layers.push_back({{"type", "dropout"}, {"name", "drop"}, {"p", dropout}});
  layers.push_back({{"type", "linear"}, {"name", "fc"}, {"in_features", 4}, {"out_features", 10}});
  return {{"name", "ConvBnHead"}, {"input", {3, side, side}}, {"layers", layers}};
}

std::string fixtures_dir() {
  const char* source = std::getenv("CNNE_TEST_SOURCE_DIR");
  return source && *source ? source_dir() + "/tests/fixtures" : CNNE_FIXTURES_DIR;
}

std::string real_cifar_dir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("CNNE_TEST_DATA"); env && *env) candidates.push_back(env);
  candidates.push_back(source_dir() + "/data/cifar-10-batches-bin");
  for (const auto& c : candidates)
    if (fs::is_regular_file(fs::path(c) / "data_batch_1.bin") &&
        fs::is_regular_file(fs::path(c) / "test_batch.bin"))
      return c;
  return "";
}

std::string real_fashion_dir() {
  namespace fs = std::filesystem;
  const std::string dir =
      from_env_or("CNNE_TEST_FASHION_DATA", "/usr/share/datasets/fashion-mnist");
  const auto has = [&](const std::string& stem) {  // as distributed, or extracted
    return fs::is_regular_file(fs::path(dir) / (stem + ".gz")) ||
           fs::is_regular_file(fs::path(dir) / stem);
  };
  return has("train-images-idx3-ubyte") && has("t10k-images-idx3-ubyte") ? dir : "";
}

bool gpu_usable(std::string* why) {
#ifdef CNNE_WITH_CUDA
  return cuda::cuda_usable(why);
#else
  *why = "built without CUDA";
  return false;
#endif
}

std::vector<float> augmented_batch(const ImageDataset& data, const Normalization& norm,
                                   const AugmentConfig& augment, uint64_t seed, int64_t epoch,
                                   int64_t b, int64_t n) {
  Context ctx(Device::CPU);
  DeviceDataset dataset(ctx, data, norm);
  dataset.set_augment(augment, seed, n);
  Rng unused(0);
  dataset.start_epoch(unused, epoch, false);
  std::vector<float> x(static_cast<size_t>(n * data.image_bytes()));
  std::vector<int32_t> l(static_cast<size_t>(n));
  StepArgs args(ctx);
  dataset.load(b, n, Tensor(x.data(), Shape{n, data.channels, data.height, data.width}),
               Tensor(l.data(), Shape{n}), args);
  return x;
}

}  // namespace cnne::test
