// cnnengine predict --checkpoint FILE IMAGE...: classifies image files (the
// tutorial's "test the network on your own picture"), each prepared as PIL
// and torchvision prepare one (engine/image_resize.h), then normalized as the
// config says.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "engine/checkpoint.h"
#include "engine/context.h"
#include "engine/device_dataset.h"
#include "engine/error.h"
#include "engine/evaluator.h"
#include "engine/image_file.h"
#include "engine/image_resize.h"
#include "engine/tensor_file.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {

int run_predict(int argc, char** argv, int first) {
  std::vector<FlagSpec> flags = checkpoint_flags("the weights");
  flags.insert(flags.end(),
               {
                   {"top", "K", "print the K most likely classes of each image (default 3)"},
                   {"tta-flip", "", "average each image's logits with its mirror image's"},
                   {"precision", "P", "fp32, bf16 or fp16 activations (default: the config's)"},
               });
  for (auto& f : device_flags()) flags.push_back(f);
  CliArgs args("predict", flags, 1 << 20, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "--checkpoint FILE IMAGE... [options]",
        "Classifies each IMAGE (PNG, or binary PGM/PPM) with the network of a checkpoint and\n"
        "prints its most likely classes. Each image is converted to the network's channels\n"
        "and resized to its input size as PIL does (convert(\"RGB\"), resize(BILINEAR)),\n"
        "then normalized as the config's data.normalize says.");
    return 0;
  }
  auto [path, checkpoint, config, source] = read_checkpoint_arg(args, "predict");
  if (args.positionals().empty())
    throw UsageError("predict needs at least one IMAGE file; see 'cnnengine predict --help'");
  const int64_t top = args.integer("top", 1, 1000).value_or(3);
  Overrides o;
  read_numerics_flags(args, o);
  apply_overrides(config, o);
  Network net = Network::from_json(config.network, source);
  const Shape input = net.input_shape();  // (C, H, W)
  if (input.rank() != 3 || (input[0] != 1 && input[0] != 3))
    throw ConfigError(source + ": network input " + input.str() +
                      ", expected (1 or 3 channels, height, width)");

  // Every image first: a bad file fails before the device is set up.
  ImageDataset images;  // (count, C, H, W) U8
  images.channels = input[0];
  images.height = input[1];
  images.width = input[2];
  for (const std::string& file : args.positionals()) {
    const DecodedImage decoded = read_image_file(file);
    const std::vector<uint8_t> planar =
        to_network_input(decoded, images.channels, images.height, images.width);
    images.pixels.insert(images.pixels.end(), planar.begin(), planar.end());
    images.labels.push_back(0);  // unknown: the loss and accuracy are not printed
    ++images.count;
  }

  const int threads = choose_threads(args);
  const Device device = choose_device(args, std::cout);
  report_cpu_threads(device, threads, std::cout);
  Context ctx(device, threads);
  ctx.set_allow_tf32(config.training.tf32);
  const int64_t batch = std::min<int64_t>(images.count, config.eval.batch_size);
  std::vector<int64_t> batch_sizes = pass_batch_sizes(images.count, batch);
  batch_sizes.push_back(batch);
  net.set_precision(config.training.precision);
  choose_layout(net, config, device, std::cout);
  net.setup(ctx, batch_sizes);
  load_weights(checkpoint.file, path, net);
  const std::vector<std::string> names = class_names(config, images);
  const int64_t classes = net.output_shape(1)[1];
  if (static_cast<int64_t>(names.size()) != classes)
    throw ConfigError(source + ": the network outputs " + std::to_string(classes) +
                      " logits but the config names " + std::to_string(names.size()) + " classes");
  std::cout << "Loaded " << path << ": network " << net.name() << ", input " << input.str() << "\n";

  PerImage per_image;
  evaluate(ctx, net, images, Normalization(config.data.mean, config.data.std), batch,
           config.eval.tta_flip || args.has("tta-flip"), &per_image);
  std::vector<double> p(static_cast<size_t>(classes));
  std::vector<size_t> order(static_cast<size_t>(classes));
  for (size_t i = 0; i < static_cast<size_t>(images.count); ++i) {
    const float* row = per_image.logits.data() + i * static_cast<size_t>(classes);
    const double peak = *std::max_element(row, row + classes);
    double sum = 0;
    for (size_t c = 0; c < p.size(); ++c) sum += p[c] = std::exp(double(row[c]) - peak);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    std::cout << args.positionals()[i] << ":";
    for (int64_t k = 0; k < std::min(top, classes); ++k) {
      char entry[96];
      std::snprintf(entry, sizeof entry, "%s %s %.2f%%", k ? "," : "",
                    names[order[static_cast<size_t>(k)]].c_str(),
                    100.0 * p[order[static_cast<size_t>(k)]] / sum);
      std::cout << entry;
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace cnne::cli
