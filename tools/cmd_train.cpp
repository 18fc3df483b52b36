// cnnengine train [CONFIG]: the tutorial's whole program.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "engine/checkpoint.h"
#include "engine/checkpoint_saver.h"
#include "engine/context.h"
#include "engine/datasets.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "engine/optimizer.h"
#include "engine/tensor_file.h"
#include "engine/trainer.h"
#include "engine/training_log.h"
#include "engine/validation_split.h"
#include "tools/commands.h"
#include "tools/session.h"
#include "tools/training_run.h"

namespace cnne::cli {
namespace {

constexpr const char* kBuiltinName = "<built-in configs/simplecnn.json>";

}  // namespace

std::vector<FlagSpec> train_flags() {
  std::vector<FlagSpec> flags = {
      {"data", "DIR",
       "data folder (CIFAR-10: cifar-10-batches-bin; data.dataset picks the set); default "
       "$CNNE_DATA or the set's usual places"},
      {"epochs", "N", "override training.epochs"},
      {"batch-size", "N", "override training.batch_size"},
      {"accumulate-steps", "K",
       "one optimizer step per K batches, on their mean gradient (training.accumulate_steps)"},
      {"lr", "X", "override training.optimizer.lr"},
      {"clip-grad-norm", "X",
       "scale the gradients to a 2-norm of at most X before each step (training.clip_grad_norm)"},
      {"ema", "DECAY",
       "keep an exponential moving average of the weights (training.ema_decay, e.g. 0.999); "
       "evaluations and checkpoints use it"},
      {"swa-start", "E",
       "stochastic weight averaging of the weights at the end of epochs E.. "
       "(training.swa.start_epoch; 0 = off); evaluations and checkpoints use the average"},
      {"swa-lr", "X", "the rate SWALR anneals to after the start epoch (training.swa.lr)"},
      {"seed", "N", "override training.seed (initial weights and shuffling)"},
      {"out", "FILE", "checkpoint path (training.checkpoint); .pth or .pt: torch.save format"},
      {"log-every", "N", "print the mean loss every N batches (training.log_every)"},
      {"train-limit", "N", "train on the first N training images only"},
      {"test-limit", "N", "evaluate on the first N test images only"},
      {"validation", "N",
       "hold out the last N training images: evaluations during training and the best "
       "checkpoint use them, not the test set (data.validation)"},
      {"no-eval", "", "skip the test-set evaluation (a validation set is still evaluated)"},
      {"resume", "FILE",
       "continue the run of a checkpoint (its config, weights, optimizer, position)"},
      {"deterministic", "", "bit-reproducible run (deterministic cuDNN algorithms on the GPU)"},
      {"graph", "", "capture the training step as a CUDA graph and replay it (GPU)"},
      {"no-graph", "", "run the step eagerly even where the config sets training.cuda_graph"},
      {"fused-step", "",
       "run whole steps of a small chain network as one launch (training.fused_step)"},
      {"no-fused-step", "", "the layer path even where the config sets training.fused_step"},
      {"no-fusion", "", "run ReLUs as layers of their own (no conv/linear + ReLU fusion)"},
      {"checkpoint-every-steps", "N", "write a checkpoint every N steps (also the main one)"},
      {"checkpoint-every-epochs", "N", "write a checkpoint every N epochs"},
      {"keep-checkpoints", "N", "periodic checkpoints kept, newest first (default 3)"},
      {"stop-after-steps", "N", "stop like an interrupt after N steps in all (checkpoint written)"},
      {"profile-steps", "A:B", "profiler capture range: steps A..B (nsys/ncu; docs/PROFILING.md)"},
      {"init-from", "FILE",
       "start from this model's tensors: safetensors or torch.save .pth (training.init_from)"},
      {"precision", "P", "fp32, bf16 or fp16 activations (training.precision)"},
      {"metrics", "FILE",
       "append a JSON Lines record of the run to FILE (losses, epochs, evaluations, checkpoints)"},
  };
  for (auto& f : device_flags()) flags.push_back(f);
  return flags;
}

namespace {

// "A:B" with 1 <= A <= B.
std::pair<int64_t, int64_t> parse_step_range(const std::string& text) {
  const auto colon = text.find(':');
  try {
    if (colon != std::string::npos) {
      size_t used_a = 0, used_b = 0;
      const long long a = std::stoll(text.substr(0, colon), &used_a);
      const long long b = std::stoll(text.substr(colon + 1), &used_b);
      if (used_a == colon && used_b == text.size() - colon - 1 && a >= 1 && b >= a) return {a, b};
    }
  } catch (const std::exception&) {
  }
  throw UsageError("--profile-steps expects A:B with 1 <= A <= B (steps, 1-based), got '" + text +
                   "'");
}

Overrides overrides_from(const CliArgs& args) {
  Overrides o;
  o.epochs = args.integer("epochs", 1, 1000000);
  o.batch_size = args.integer("batch-size", 1, 65536);
  o.accumulate_steps = args.integer("accumulate-steps", 1, 65536);
  o.lr = args.number("lr");
  o.clip_grad_norm = args.number("clip-grad-norm");
  o.ema_decay = args.number("ema");
  o.swa_start = args.integer("swa-start", 0, 1000000);
  o.swa_lr = args.number("swa-lr");
  o.seed = args.integer("seed", 0, INT64_MAX);
  o.log_every = args.integer("log-every", 1, INT64_MAX);
  o.train_limit = args.integer("train-limit", 0, INT64_MAX);
  o.test_limit = args.integer("test-limit", 0, INT64_MAX);
  o.validation = args.integer("validation", 0, INT64_MAX);
  o.checkpoint = args.text("out");
  o.checkpoint_every_steps = args.integer("checkpoint-every-steps", 0, INT64_MAX);
  o.checkpoint_every_epochs = args.integer("checkpoint-every-epochs", 0, INT64_MAX);
  o.keep_checkpoints = args.integer("keep-checkpoints", 1, 1000000);
  o.deterministic = args.has("deterministic");
  o.cuda_graph = args.has("graph");
  o.no_cuda_graph = args.has("no-graph");
  o.fused_step = args.has("fused-step");
  o.no_fused_step = args.has("no-fused-step");
  o.init_from = args.text("init-from");
  read_numerics_flags(args, o);
  return o;
}

// Says where a resumed run continues and every recipe change the flags made;
// refuses the changes that would break the position inside an epoch.
void report_resume(const ResumePoint& r, const Config& stored, const Config& now,
                   std::ostream& out) {
  const TrainingState& s = r.checkpoint.state;
  out << "Resuming from " << r.checkpoint.file.metadata.at("format") << " checkpoint (" << s.status
      << "): " << s.epochs_completed << " epochs and " << s.batches_done << " batches done, step "
      << s.steps << "\n";
  const nlohmann::json a = stored.to_json(), b = now.to_json();
  std::vector<std::string> changed;
  for (const char* section : {"training", "data", "eval"})
    for (const auto& [key, value] : b[section].items()) {
      const auto old = a[section].contains(key) ? a[section][key] : nlohmann::json();
      if (old != value) {
        out << "Recipe change on resume: " << section << "." << key << " " << old.dump() << " -> "
            << value.dump() << "\n";
        changed.push_back(key);
      }
    }
  if (s.batches_done > 0)
    for (const std::string& key : changed)
      if (key == "batch_size" || key == "accumulate_steps" || key == "train_limit" ||
          key == "validation" || key == "shuffle" || key == "seed")
        throw UsageError("cannot change " + key +
                         " when resuming in the middle of an epoch (the "
                         "checkpoint stopped at batch " +
                         std::to_string(s.batches_done) +
                         "); resume from an epoch boundary to change it");
  if (s.epochs_completed >= now.training.epochs)
    throw UsageError("the checkpoint has already trained " + std::to_string(s.epochs_completed) +
                     " epochs; pass --epochs N with N > " + std::to_string(s.epochs_completed) +
                     " to train further");
}

// The final evaluation as a metrics record: overall and per-class accuracy.
nlohmann::ordered_json test_record(const Evaluation& e, const std::vector<std::string>& classes,
                                   bool tta_flip) {
  nlohmann::ordered_json per_class, precision, f1;
  for (int64_t c = 0; c < e.confusion.classes(); ++c) {
    const std::string name = c < static_cast<int64_t>(classes.size())
                                 ? classes[static_cast<size_t>(c)]
                                 : std::to_string(c);
    per_class[name] = e.confusion.class_accuracy_percent(c);
    precision[name] = e.confusion.class_precision_percent(c);
    f1[name] = e.confusion.class_f1_percent(c);
  }
  return {{"images", e.confusion.total()},
          {"accuracy", e.confusion.accuracy_percent()},
          {"mean_loss", e.mean_loss},
          {"top5_accuracy", e.top5_percent()},
          {"tta_flip", tta_flip},
          {"per_class", per_class},
          {"per_class_precision", precision},
          {"per_class_f1", f1},
          {"macro_f1", e.confusion.macro_f1_percent()}};
}

}  // namespace

int run_train(int argc, char** argv, int first) {
  CliArgs args("train", train_flags(), 1, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "[CONFIG] [options]",
        "Trains the network of CONFIG (default: the built-in tutorial, configs/simplecnn.json)\n"
        "on CIFAR-10 (or data.dataset's: fashion-mnist, mnist), prints the loss every\n"
        "log_every batches and the time per epoch, then evaluates on the test set and\n"
        "writes the checkpoint (safetensors). SIGINT/SIGTERM\n"
        "finish the current step, write the checkpoint and exit with 128 + the signal;\n"
        "--resume FILE continues such a run exactly.");
    return 0;
  }
  return run_training(args, nullptr);
}

int run_training(const CliArgs& args, LrFinder* finder) {
  std::optional<ResumePoint> resume;
  std::string source = args.positionals().empty() ? kBuiltinName : args.positionals()[0];
  Config config;
  if (auto from = args.text("resume")) {
    if (!args.positionals().empty())
      throw UsageError(
          "give either CONFIG or --resume FILE, not both (a resumed run uses the "
          "config stored in its checkpoint)");
    resume = read_resume_point(*from);
    config = *resume->checkpoint.config;
    source = *from + " (stored config)";
  } else {
    config = args.positionals().empty()
                 ? Config::from_json(parse_json_text(Config::embedded_default(), source), source)
                 : Config::load(source);
  }
  const Config as_stored = config;
  apply_overrides(config, overrides_from(args));
  if (finder) prepare_range_test(config, *finder);
  if (resume) report_resume(*resume, as_stored, config, std::cout);
  const int threads = choose_threads(args);
  const int64_t stop_after = args.integer("stop-after-steps", 1, INT64_MAX).value_or(0);
  const std::pair<int64_t, int64_t> profile = args.has("profile-steps")
                                                  ? parse_step_range(*args.text("profile-steps"))
                                                  : std::pair<int64_t, int64_t>{0, 0};
  // Before hours of training (the range test writes no checkpoint).
  if (!finder) check_output_path("checkpoint path", config.training.checkpoint);
  if (config.eval.early_stopping > 0 && config.data.validation == 0 && args.has("no-eval"))
    throw UsageError(
        "eval.early_stopping needs evaluations during training, and --no-eval without "
        "data.validation leaves none");
  if (config.training.schedule.type == "plateau" && config.data.validation == 0 &&
      args.has("no-eval"))
    throw UsageError(
        "training.schedule 'plateau' needs evaluations during training, and --no-eval without "
        "data.validation leaves none");
  // Opened before the data is read: a bad path fails at once, not after training.
  std::unique_ptr<TrainingLog> metrics;
  if (auto path = args.text("metrics")) metrics = std::make_unique<TrainingLog>(*path);
  const Device device = choose_device(args, std::cout);
  report_cpu_threads(device, threads, std::cout);

  Network net = Network::from_json(config.network, source);
  try {  // a freeze or no_weight_decay pattern that matches nothing fails here, not after
         // loading the data
    net.trainable_ranges(config.training.freeze);
    Optimizer::check_patterns(net, config.training.optimizer);
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.what());
  }
  const std::string folder = data_folder(args, config);
  ImageDataset train = datasets::load_train(config.data.dataset, folder, config.data.train_limit);
  // (validation images, C, H, W): the last data.validation training images
  const ImageDataset validation = config.data.validation > 0
                                      ? hold_out_validation(train, config.data.validation, source)
                                      : ImageDataset{};
  const bool run_eval = !args.has("no-eval") && !finder;
  const ImageDataset test =
      run_eval ? datasets::load_test(config.data.dataset, folder, config.data.test_limit)
               : ImageDataset{};
  check_network_fits_data(net, train, config.data.dataset, source);
  const std::vector<std::string> classes = class_names(config, train);
  // The checkpoint's config names the classes the data named, so predict and
  // eval of it need no data folder to say them (CIFAR-100's 100 fine names).
  if (config.data.classes.empty() && !train.class_names.empty())
    config.data.classes = train.class_names;

  std::cout << "Data: " << train.count << " training"
            << (validation.count ? ", " + std::to_string(validation.count) +
                                       " validation (the last of the training files)"
                                 : std::string())
            << (run_eval ? " and " + std::to_string(test.count) + " test" : std::string())
            << " images from " << folder << "\n";
  if (config.data.augment.enabled())
    std::cout << "Augmentation (training images): " << config.data.augment.describe() << "\n";
  if (!finder) std::cout << net.repr() << "\n" << std::flush;

  Context ctx(device, threads, config.training.deterministic);
  ctx.set_allow_tf32(config.training.tf32);
  net.set_relu_fusion(!args.has("no-fusion"));
  net.set_precision(config.training.precision);
  choose_layout(net, config, device, std::cout);
  if (config.training.tf32 && config.training.precision == Precision::FP32 &&
      device == Device::CUDA)
    std::cout << "Precision: fp32 with TF32 tensor-core convolutions (training.tf32)\n";
  if (config.training.precision != Precision::FP32)
    std::cout << "Precision: " << precision_name(config.training.precision)
              << " activations, fp32 weights, gradients and optimizer state ("
              << describe_loss_scaling(config.training) << ")"
              << (device == Device::CPU ? "; the CPU emulates it (16-bit storage, fp32 arithmetic)"
                                        : "")
              << "\n";
  std::vector<int64_t> batch_sizes = pass_batch_sizes(train.count, config.training.batch_size);
  batch_sizes.push_back(config.training.batch_size);  // a resumed run's data may differ in size
  for (int64_t n : pass_batch_sizes(test.count, config.eval.batch_size)) batch_sizes.push_back(n);
  for (int64_t n : pass_batch_sizes(validation.count, config.eval.batch_size))
    batch_sizes.push_back(n);
  batch_sizes.push_back(config.eval.batch_size);
  net.setup(ctx, batch_sizes);
  Rng rng(config.training.seed);
  net.initialize(rng);
  if (!config.training.init_from.empty() && !resume) {
    const Safetensors init = load_tensor_file(config.training.init_from);
    const LoadReport loaded =
        load_weights(init, config.training.init_from, net, config.training.init_skip);
    std::cout << "Initialized from " << config.training.init_from << ": " << loaded.loaded
              << " tensors loaded, " << loaded.skipped.size() << " skipped"
              << (loaded.stripped_prefix.empty()
                      ? ""
                      : " (names read without their '" + loaded.stripped_prefix +
                            "' prefix, as nn.DataParallel saves them)")
              << "\n";
  }
  Trainer trainer(ctx, config, net, rng);
  if (resume) {
    load_weights(resume->checkpoint.file, *args.text("resume"), net);
    trainer.resume(resume->checkpoint.state, resume->optimizer, resume->optimizer_path);
  }
  if (finder) return run_range_test(trainer, train, config, *finder, args, std::cout);
  trainer.stop_after_steps(stop_after);
  const Normalization norm(config.data.mean, config.data.std);
  // Evaluations during training read the validation set when there is one,
  // so the test set is seen only once, at the end.
  const ImageDataset& during = validation.count ? validation : test;
  if ((validation.count || run_eval) && config.eval.every_epochs > 0)
    trainer.evaluate_every(
        config.eval.every_epochs,
        [&] {
          const Evaluation e =
              evaluate(ctx, net, during, norm, config.eval.batch_size, config.eval.tta_flip);
          return EvalScore{e.confusion.accuracy_percent(), e.mean_loss};
        },
        config.eval.keep_best, validation.count ? "validation" : "test");
  trainer.stop_early_after(config.eval.early_stopping);
  trainer.profile_steps(profile.first, profile.second);
  trainer.log_to(metrics.get());
  if (metrics) metrics->write("config", {{"source", source}, {"config", config.to_json()}});
  try {
    TrainingState state = trainer.train(train, std::cout);
    if (state.status != "complete") return trainer.stop_signal() ? 128 + trainer.stop_signal() : 0;
    std::cout << "Finished Training\n";
    // The final accuracies are the checkpoint's: the average, when the run keeps one.
    const auto final_evaluation = [&](const ImageDataset& set) {
      Evaluation e;
      with_average(trainer.average(), net, [&] {
        e = evaluate(ctx, net, set, norm, config.eval.batch_size, config.eval.tta_flip);
      });
      return e;
    };
    trainer.saver().save(config.training.checkpoint, state);
    std::cout << "Model saved to " << config.training.checkpoint << "\n" << std::flush;
    if (metrics)
      metrics->write(
          "checkpoint",
          {{"path", config.training.checkpoint}, {"status", state.status}, {"step", state.steps}});
    if (validation.count) {
      const Evaluation v = final_evaluation(validation);
      char line[160];
      std::snprintf(line, sizeof line,
                    "Accuracy of the network on the %lld validation images: %.2f%% (mean loss "
                    "%.4f)\n",
                    static_cast<long long>(v.confusion.total()), v.confusion.accuracy_percent(),
                    v.mean_loss);
      std::cout << line;
      state.validation_accuracy = v.confusion.accuracy_percent();
      if (!run_eval) trainer.saver().save(config.training.checkpoint, state);  // with it
      if (metrics) metrics->write("validation", test_record(v, classes, config.eval.tta_flip));
    }
    if (run_eval) {
      const Evaluation e = final_evaluation(test);
      print_evaluation(std::cout, e.confusion, classes, e.mean_loss, "test", e.top5_percent());
      state.test_accuracy = e.confusion.accuracy_percent();
      trainer.saver().save(config.training.checkpoint, state);  // now with the accuracies
      if (metrics) metrics->write("test", test_record(e, classes, config.eval.tta_flip));
    }
    if (metrics) metrics->write("end", {{"status", state.status}, {"step", state.steps}});
  } catch (const std::exception& e) {
    if (metrics) metrics->write("error", {{"message", e.what()}});
    throw;
  }
  return 0;
}

}  // namespace cnne::cli
