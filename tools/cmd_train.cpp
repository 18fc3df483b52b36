// cnnengine train [CONFIG]: the tutorial's whole program.
#include <filesystem>
#include <iostream>

#include "engine/checkpoint.h"
#include "engine/cifar10.h"
#include "engine/context.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "engine/trainer.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {
namespace {

constexpr const char* kBuiltinName = "<built-in configs/simplecnn.json>";

std::vector<FlagSpec> train_flags() {
  std::vector<FlagSpec> flags = {
      {"data", "DIR", "CIFAR-10 folder (cifar-10-batches-bin); default $CNNE_DATA or ./data"},
      {"epochs", "N", "override training.epochs"},
      {"batch-size", "N", "override training.batch_size"},
      {"lr", "X", "override training.optimizer.lr"},
      {"seed", "N", "override training.seed (initial weights and shuffling)"},
      {"out", "FILE", "checkpoint path (overrides training.checkpoint)"},
      {"log-every", "N", "print the mean loss every N batches (training.log_every)"},
      {"train-limit", "N", "train on the first N training images only"},
      {"test-limit", "N", "evaluate on the first N test images only"},
      {"no-eval", "", "skip the test-set evaluation after training"},
  };
  for (auto& f : device_flags()) flags.push_back(f);
  return flags;
}

// Fails before training, not after hours of it, when the checkpoint cannot be written.
void check_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw UsageError("checkpoint path '" + path + "' is a folder; give a file name");
  const fs::path parent = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : ".";
  if (!fs::is_directory(parent, ec))
    throw UsageError("checkpoint path '" + path + "': folder '" + parent.string() +
                     "' does not exist");
}

}  // namespace

int run_train(int argc, char** argv, int first) {
  CliArgs args("train", train_flags(), 1, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "[CONFIG] [options]",
        "Trains the network of CONFIG (default: the built-in tutorial, configs/simplecnn.json)\n"
        "on CIFAR-10, prints the loss every log_every batches and the time per epoch, then\n"
        "evaluates on the test set and writes the checkpoint (safetensors).");
    return 0;
  }
  const std::string source = args.positionals().empty() ? kBuiltinName : args.positionals()[0];
  Config config =
      args.positionals().empty()
          ? Config::from_json(parse_json_text(Config::embedded_default(), source), source)
          : Config::load(source);
  Overrides o;
  o.epochs = args.integer("epochs", 1, 1000000);
  o.batch_size = args.integer("batch-size", 1, 65536);
  o.lr = args.number("lr");
  o.seed = args.integer("seed", 0, INT64_MAX);
  o.log_every = args.integer("log-every", 1, INT64_MAX);
  o.train_limit = args.integer("train-limit", 0, INT64_MAX);
  o.test_limit = args.integer("test-limit", 0, INT64_MAX);
  o.checkpoint = args.text("out");
  apply_overrides(config, o);
  const int threads = choose_threads(args);
  check_output_path(config.training.checkpoint);
  const Device device = choose_device(args, std::cout);

  Network net = Network::from_json(config.network, source);
  const std::string folder = data_folder(args, config);
  const ImageDataset train = cifar10::load_train(folder, config.data.train_limit);
  const bool run_eval = !args.has("no-eval");
  const ImageDataset test =
      run_eval ? cifar10::load_test(folder, config.data.test_limit) : ImageDataset{};
  check_network_fits_data(net, train, source);
  const std::vector<std::string> classes = class_names(config, train);

  std::cout << "Data: " << train.count << " training"
            << (run_eval ? " and " + std::to_string(test.count) + " test" : std::string())
            << " images from " << folder << "\n";
  std::cout << net.repr() << "\n" << std::flush;

  Context ctx(device, threads);
  net.setup(ctx, {config.training.batch_size, config.eval.batch_size});
  Rng rng(config.training.seed);
  net.initialize(rng);
  Trainer trainer(ctx, config, net, rng);
  TrainingState state = trainer.train(train, std::cout);
  std::cout << "Finished Training\n";
  save_checkpoint(config.training.checkpoint, config, net, state);
  std::cout << "Model saved to " << config.training.checkpoint << "\n" << std::flush;

  if (run_eval) {
    const Evaluation e = evaluate(ctx, net, test, Normalization(config.data.mean, config.data.std),
                                  config.eval.batch_size);
    print_evaluation(std::cout, e.confusion, classes, e.mean_loss);
    state.test_accuracy = e.confusion.accuracy_percent();
    save_checkpoint(config.training.checkpoint, config, net, state);  // now with the accuracy
  }
  return 0;
}

}  // namespace cnne::cli
