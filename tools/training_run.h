#pragma once
// What `train` and `lr-find` share: the train verb's whole setup (config,
// overrides, data, network, context, initial weights, trainer), run either as
// the training run or as the learning-rate range test (Note [learning-rate
// range test] in engine/lr_finder.h).
#include <ostream>
#include <vector>

#include "engine/config.h"
#include "engine/dataset.h"
#include "engine/lr_finder.h"
#include "engine/trainer.h"
#include "tools/cli_args.h"

namespace cnne::cli {

// Every flag of `train` (lr-find takes a part of them).
std::vector<FlagSpec> train_flags();

// The train verb after its flags are parsed; with `finder`, the range test
// on the same setup instead (no checkpoint, no test set). Returns the exit code.
int run_training(const CliArgs& args, LrFinder* finder);

// The range test's recipe: the optimizer's lr at start_lr, the exponential
// schedule, a log line per optimizer step, and nothing that would save,
// evaluate or average (periodic checkpoints, evaluations, early stopping,
// EMA, SWA are turned off).
void prepare_range_test(Config& config, const LrFinder& finder);

// Runs the range test on a trainer set up for `config`, prints the table, the
// suggestions and a plot, and writes --csv FILE if given.
int run_range_test(Trainer& trainer, const ImageDataset& train, const Config& config,
                   LrFinder& finder, const CliArgs& args, std::ostream& out);

}  // namespace cnne::cli
