#pragma once
// What train and eval share: the --device/--threads flags, finding the data,
// checking that the network fits it, and the one-line reports.
#include <ostream>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/dataset.h"
#include "engine/device.h"
#include "engine/network.h"
#include "tools/cli_args.h"

namespace cnne::cli {

// Flags every running verb accepts.
std::vector<FlagSpec> device_flags();

// --device if given (error if cuda is asked for but unusable), else cuda when
// usable, else cpu; prints one line saying which and why.
Device choose_device(const CliArgs& args, std::ostream& out);
// Channels-last activations where the config asks and the device is a GPU
// (Network::set_channels_last; ConfigError for a layer that cannot take
// them); one line says so.
void choose_layout(Network& net, const Config& config, Device device, std::ostream& out);
// --threads N, default 1 (the tutorial's batch of 4 is too small to share).
int choose_threads(const CliArgs& args);
// On the CPU, one line: the threads in use out of the machine's, and the flag.
void report_cpu_threads(Device device, int threads, std::ostream& out);

// The data set's folder (data.dataset): --data, else $CNNE_DATA, else
// data.root, else that data set's usual places.
std::string data_folder(const CliArgs& args, const Config& config);

// Class names: the config's, else batches.meta.txt's, else the tutorial's.
std::vector<std::string> class_names(const Config& config, const ImageDataset& data);

// Fails early, before the work, when a file could not be written at `path`:
// UsageError "<what> 'PATH' is a folder ..." or "...: folder 'F' does not exist".
void check_output_path(const std::string& what, const std::string& path);

// The --checkpoint and --config flags of a verb that runs a checkpoint;
// `checkpoint_help` says what the checkpoint is for.
std::vector<FlagSpec> checkpoint_flags(const std::string& checkpoint_help);
// --precision, --tf32 and --channels-last into `o`.
void read_numerics_flags(const CliArgs& args, Overrides& o);

// --checkpoint FILE, read, and the config to run it with: --config FILE if
// given, else the one stored in it. UsageError without --checkpoint ("<verb>
// needs --checkpoint FILE"), CheckpointError when no config is there. `source`
// names the config for later errors.
struct CheckpointArg {
  std::string path;
  Checkpoint checkpoint;
  Config config;
  std::string source;
};
CheckpointArg read_checkpoint_arg(const CliArgs& args, const std::string& verb);

// Throws ConfigError unless the network takes the data's images and outputs one
// logit per class of `dataset`.
void check_network_fits_data(const Network& net, const ImageDataset& data,
                             const std::string& dataset, const std::string& where);

}  // namespace cnne::cli
