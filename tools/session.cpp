#include "tools/session.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cuda/device_query.h"
#include "engine/data_folder.h"
#include "engine/datasets.h"
#include "engine/error.h"
#include "engine/thread_pool.h"

namespace cnne::cli {

std::vector<FlagSpec> device_flags() {
  return {{"device", "cpu|cuda", "where to run (default: cuda when a GPU is usable, else cpu)"},
          {"threads", "N", "CPU threads for the CPU path (default 1)"},
          {"tf32", "",
           "fp32 convolutions may use TF32 tensor cores (training.tf32; PyTorch's default)"},
          {"channels-last", "",
           "NHWC activations on the GPU, cuDNN's tensor-core layout (training.channels_last)"}};
}

void choose_layout(Network& net, const Config& config, Device device, std::ostream& out) {
  if (!config.training.channels_last) return;
  if (device == Device::CPU) {  // the same refusal on every device
    if (const std::string why = net.channels_last_refusal(); !why.empty()) throw ConfigError(why);
    out << "Channels-last: for GPUs; the CPU keeps NCHW\n";
    return;
  }
  net.set_channels_last(true);
  out << "Channels-last: NHWC activations and (K, R, S, C) convolution weights "
         "(training.channels_last)\n";
}

Device choose_device(const CliArgs& args, std::ostream& out) {
  std::string why;
  const bool usable = cuda::cuda_usable(&why);
  if (auto requested = args.text("device")) {
    const Device d = parse_device(*requested, "--device");
    if (d == Device::CUDA && !usable)
      throw DeviceError("--device cuda: no usable GPU (" + why + ")");
    out << "Device: " << device_name(d) << " (as requested)\n";
    return d;
  }
  if (usable) {
    out << "Device: cuda (a GPU is usable; --device cpu for the CPU path)\n";
    return Device::CUDA;
  }
  out << "Device: cpu (no usable GPU: " << why << ")\n";
  return Device::CPU;
}

int choose_threads(const CliArgs& args) {
  const int threads = static_cast<int>(args.integer("threads", 1, 1024).value_or(1));
  const int cores = usable_cpus();
  if (cores > 0 && threads > cores)
    std::cerr << "note: --threads " << threads << " is more than the " << cores
              << " CPUs this process may use; the CPU path will run slower than with " << cores
              << "\n";
  return threads;
}

void report_cpu_threads(Device device, int threads, std::ostream& out) {
  if (device != Device::CPU) return;
  const int cores = usable_cpus();
  out << "CPU threads: " << threads;
  if (cores > 0) out << " of " << cores;
  out << (threads == 1 && cores > 1 ? " (--threads N splits each batch over N)" : "") << "\n";
}

std::string data_folder(const CliArgs& args, const Config& config) {
  if (auto flag = args.text("data")) {
    if (flag->empty()) throw UsageError("--data needs a folder");
    return datasets::locate(config.data.dataset, *flag);
  }
  if (const char* env = std::getenv(kDataEnvVar); env && *env)
    return datasets::locate(config.data.dataset, "");
  return datasets::locate(config.data.dataset, config.data.root);
}

std::vector<FlagSpec> checkpoint_flags(const std::string& checkpoint_help) {
  return {
      {"checkpoint", "FILE", checkpoint_help + ": safetensors, or a torch.save .pth (required)"},
      {"config", "FILE", "config for checkpoints that carry none (e.g. saved by PyTorch)"}};
}

void read_numerics_flags(const CliArgs& args, Overrides& o) {
  o.precision = args.text("precision");
  o.tf32 = args.has("tf32");
  o.channels_last = args.has("channels-last");
}

CheckpointArg read_checkpoint_arg(const CliArgs& args, const std::string& verb) {
  const auto path = args.text("checkpoint");
  if (!path)
    throw UsageError(verb + " needs --checkpoint FILE; see 'cnnengine " + verb + " --help'");
  CheckpointArg out{*path, read_checkpoint(*path), {}, {}};
  if (auto config_path = args.text("config")) {
    out.source = *config_path;
    out.config = Config::load(*config_path);
  } else if (out.checkpoint.config) {
    out.source = *path + " (stored config)";
    out.config = *out.checkpoint.config;
  } else {
    throw CheckpointError(*path + ": carries no config in its metadata; pass --config FILE");
  }
  return out;
}

std::vector<std::string> class_names(const Config& config, const ImageDataset& data) {
  if (!config.data.classes.empty()) return config.data.classes;
  if (!data.class_names.empty()) return data.class_names;
  if (config.data.dataset == "cifar10")
    return {"plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  std::vector<std::string> numbers;  // no names file: the label numbers
  for (int64_t c = 0; c < datasets::info(config.data.dataset).classes; ++c)
    numbers.push_back(std::to_string(c));
  return numbers;
}

void check_network_fits_data(const Network& net, const ImageDataset& data,
                             const std::string& dataset, const std::string& where) {
  const Shape images{data.channels, data.height, data.width};
  if (!(net.input_shape() == images))
    throw ConfigError(where + ": network input is " + net.input_shape().str() +
                      " but the images are " + images.str());
  const int64_t classes = net.output_shape(1)[1];
  const datasets::DatasetInfo& set = datasets::info(dataset);
  if (classes != set.classes)
    throw ConfigError(where + ": the network outputs " + std::to_string(classes) + " logits but " +
                      set.title + " has " + std::to_string(set.classes) + " classes");
}

void check_output_path(const std::string& what, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw UsageError(what + " '" + path + "' is a folder; give a file name");
  const fs::path parent = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : ".";
  if (!fs::is_directory(parent, ec))
    throw UsageError(what + " '" + path + "': folder '" + parent.string() + "' does not exist");
}

}  // namespace cnne::cli
