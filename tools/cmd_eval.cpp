// cnnengine eval --checkpoint FILE: the tutorial's test-set evaluation of saved weights.
#include <iostream>

#include "engine/checkpoint.h"
#include "engine/context.h"
#include "engine/datasets.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {

int run_eval(int argc, char** argv, int first) {
  std::vector<FlagSpec> flags = {
      {"checkpoint", "FILE",
       "the checkpoint to evaluate: safetensors, or a torch.save .pth (required)"},
      {"config", "FILE", "config for checkpoints that carry none (e.g. saved by PyTorch)"},
      {"data", "DIR", "data folder of the checkpoint's data set; default $CNNE_DATA or ./data"},
      {"batch-size", "N", "evaluation batch size (default: the config's eval.batch_size)"},
      {"test-limit", "N", "evaluate on the first N test images only"},
      {"tta-flip", "", "average each image's logits with its mirror image's"},
      {"precision", "P", "fp32, bf16 or fp16 activations (default: the config's)"},
  };
  for (auto& f : device_flags()) flags.push_back(f);
  CliArgs args("eval", flags, 0, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "--checkpoint FILE [options]",
        "Loads a checkpoint and prints the tutorial's test accuracy lines (overall and per\n"
        "class) and a confusion matrix. The network comes from the config stored in the\n"
        "checkpoint, or from --config.");
    return 0;
  }
  const auto path = args.text("checkpoint");
  if (!path) throw UsageError("eval needs --checkpoint FILE; see 'cnnengine eval --help'");
  Checkpoint checkpoint = read_checkpoint(*path);
  Config config;
  std::string source;
  if (auto config_path = args.text("config")) {
    config = Config::load(*config_path);
    source = *config_path;
  } else if (checkpoint.config) {
    config = *checkpoint.config;
    source = *path + " (stored config)";
  } else {
    throw CheckpointError(*path + ": carries no config in its metadata; pass --config FILE");
  }
  Overrides o;
  o.test_limit = args.integer("test-limit", 0, INT64_MAX);
  o.precision = args.text("precision");
  o.tf32 = args.has("tf32");
  o.channels_last = args.has("channels-last");
  apply_overrides(config, o);
  if (auto b = args.integer("batch-size", 1, 65536)) config.eval.batch_size = *b;
  const int threads = choose_threads(args);
  const Device device = choose_device(args, std::cout);
  report_cpu_threads(device, threads, std::cout);

  Network net = Network::from_json(config.network, source);
  const std::string folder = data_folder(args, config);
  const ImageDataset test =
      datasets::load_test(config.data.dataset, folder, config.data.test_limit);
  check_network_fits_data(net, test, config.data.dataset, source);

  Context ctx(device, threads);
  ctx.set_allow_tf32(config.training.tf32);
  std::vector<int64_t> batch_sizes = pass_batch_sizes(test.count, config.eval.batch_size);
  batch_sizes.push_back(config.eval.batch_size);
  net.set_precision(config.training.precision);
  choose_layout(net, config, device, std::cout);
  net.setup(ctx, batch_sizes);
  load_weights(checkpoint.file, *path, net);
  std::cout << "Loaded " << *path << ": network " << net.name() << ", " << net.parameter_count()
            << " parameters";
  if (checkpoint.state.steps > 0)
    std::cout << ", trained " << checkpoint.state.epochs_completed << " epochs ("
              << checkpoint.state.steps << " steps) on " << checkpoint.state.device;
  if (net.precision() != Precision::FP32)
    std::cout << ", " << precision_name(net.precision()) << " activations";
  std::cout << "\nData: " << test.count << " test images from " << folder << "\n";
  const Evaluation e =
      evaluate(ctx, net, test, Normalization(config.data.mean, config.data.std),
               config.eval.batch_size, config.eval.tta_flip || args.has("tta-flip"));
  print_evaluation(std::cout, e.confusion, class_names(config, test), e.mean_loss);
  return 0;
}

}  // namespace cnne::cli
