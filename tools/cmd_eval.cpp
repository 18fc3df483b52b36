// cnnengine eval --checkpoint FILE: the tutorial's test-set evaluation of saved weights.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>

#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/context.h"
#include "engine/datasets.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "engine/validation_split.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {
namespace {

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// One row per test image, in the data's order:
//   index,label,predicted,correct,confidence,p_<class 0>,...,p_<class C-1>
// label and predicted as class names; probabilities are the softmax of the
// logits the prediction was taken from (with --tta-flip, the averaged ones).
// Written atomically: a failed write leaves no half file.
void write_predictions(const std::string& path, const ImageDataset& test, const PerImage& per_image,
                       const std::vector<std::string>& names) {
  const size_t classes = names.size();
  std::string out = "index,label,predicted,correct,confidence";
  for (const std::string& n : names) out += "," + csv_field("p_" + n);
  out += "\n";
  std::vector<double> p(classes);
  char number[32];
  for (size_t i = 0; i < static_cast<size_t>(test.count); ++i) {
    const float* row = per_image.logits.data() + i * classes;
    const size_t best = static_cast<size_t>(per_image.predicted[i]);
    double sum = 0;  // softmax, shifted by the largest logit (the predicted class's)
    for (size_t c = 0; c < classes; ++c) sum += p[c] = std::exp(double(row[c]) - double(row[best]));
    const size_t label = static_cast<size_t>(test.labels[i]);
    out += std::to_string(i) + "," + csv_field(names.at(label)) + "," + csv_field(names[best]) +
           "," + (label == best ? "1" : "0");
    for (size_t c = 0; c <= classes; ++c) {  // the confidence first, then every class
      std::snprintf(number, sizeof number, ",%.6f", (c == 0 ? p[best] : p[c - 1]) / sum);
      out += number;
    }
    out += "\n";
  }
  try {
    write_file_atomically(
        path, {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size())});
  } catch (const Error& e) {
    throw Error(std::string("--predictions: ") + e.what());
  }
}

}  // namespace

int run_eval(int argc, char** argv, int first) {
  std::vector<FlagSpec> flags = checkpoint_flags("the checkpoint to evaluate");
  flags.insert(
      flags.end(),
      {
          {"data", "DIR", "data folder of the checkpoint's data set; default $CNNE_DATA or ./data"},
          {"batch-size", "N", "evaluation batch size (default: the config's eval.batch_size)"},
          {"test-limit", "N", "evaluate on the first N test images only"},
          {"validation", "",
           "evaluate on the run's validation images (its config's data.validation) instead"},
          {"tta-flip", "", "average each image's logits with its mirror image's"},
          {"predictions", "FILE",
           "write each image's label, prediction and class probabilities (CSV)"},
          {"precision", "P", "fp32, bf16 or fp16 activations (default: the config's)"},
      });
  for (auto& f : device_flags()) flags.push_back(f);
  CliArgs args("eval", flags, 0, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "--checkpoint FILE [options]",
        "Loads a checkpoint and prints the tutorial's test accuracy lines (overall and per\n"
        "class), a confusion matrix and per-class precision, recall and F1. The network\n"
        "comes from the config stored in the checkpoint, or from --config. --validation\n"
        "evaluates the images the run held out of its training files (data.validation)\n"
        "instead of the test set.");
    return 0;
  }
  auto [path, checkpoint, config, source] = read_checkpoint_arg(args, "eval");
  Overrides o;
  o.test_limit = args.integer("test-limit", 0, INT64_MAX);
  read_numerics_flags(args, o);
  apply_overrides(config, o);
  if (auto b = args.integer("batch-size", 1, 65536)) config.eval.batch_size = *b;
  const bool on_validation = args.has("validation");
  if (on_validation && config.data.validation == 0)
    throw UsageError("--validation: " + source +
                     " holds out no validation images (data.validation is 0)");
  if (on_validation && args.has("test-limit"))
    throw UsageError(
        "--validation and --test-limit contradict (the validation set's size is "
        "data.validation)");
  const std::string set = on_validation ? "validation" : "test";
  const auto predictions = args.text("predictions");
  if (predictions) check_output_path("--predictions", *predictions);  // before the evaluation
  const int threads = choose_threads(args);
  const Device device = choose_device(args, std::cout);
  report_cpu_threads(device, threads, std::cout);

  Network net = Network::from_json(config.network, source);
  const std::string folder = data_folder(args, config);
  // (images, C, H, W): the test set, or the training files' held-out tail
  ImageDataset test;
  if (on_validation) {
    ImageDataset train = datasets::load_train(config.data.dataset, folder, config.data.train_limit);
    test = hold_out_validation(train, config.data.validation, source);
  } else {
    test = datasets::load_test(config.data.dataset, folder, config.data.test_limit);
  }
  check_network_fits_data(net, test, config.data.dataset, source);

  Context ctx(device, threads);
  ctx.set_allow_tf32(config.training.tf32);
  std::vector<int64_t> batch_sizes = pass_batch_sizes(test.count, config.eval.batch_size);
  batch_sizes.push_back(config.eval.batch_size);
  net.set_precision(config.training.precision);
  choose_layout(net, config, device, std::cout);
  net.setup(ctx, batch_sizes);
  const LoadReport loaded = load_weights(checkpoint.file, path, net);
  std::cout << "Loaded " << path << ": network " << net.name() << ", " << net.parameter_count()
            << " parameters";
  if (checkpoint.state.steps > 0)
    std::cout << ", trained " << checkpoint.state.epochs_completed << " epochs ("
              << checkpoint.state.steps << " steps) on " << checkpoint.state.device;
  if (net.precision() != Precision::FP32)
    std::cout << ", " << precision_name(net.precision()) << " activations";
  if (!loaded.stripped_prefix.empty())
    std::cout << " (tensor names read without their '" << loaded.stripped_prefix
              << "' prefix, as nn.DataParallel saves them)";
  std::cout << "\nData: " << test.count << " " << set << " images from " << folder << "\n";
  PerImage per_image;
  const Evaluation e = evaluate(
      ctx, net, test, Normalization(config.data.mean, config.data.std), config.eval.batch_size,
      config.eval.tta_flip || args.has("tta-flip"), predictions ? &per_image : nullptr);
  const std::vector<std::string> names = class_names(config, test);
  print_evaluation(std::cout, e.confusion, names, e.mean_loss, set, e.top5_percent());
  if (predictions) {
    write_predictions(*predictions, test, per_image, names);
    std::cout << "Predictions written to " << *predictions << "\n";
  }
  return 0;
}

}  // namespace cnne::cli
