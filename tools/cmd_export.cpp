// cnnengine export --checkpoint FILE --out MODEL.onnx: a trained network as an
// ONNX model (engine/onnx_export.h) for inference runtimes.
#include <iostream>

#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/context.h"
#include "engine/error.h"
#include "engine/network.h"
#include "engine/onnx_export.h"
#include "tools/cli_args.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {

int run_export(int argc, char** argv, int first) {
  std::vector<FlagSpec> flags = checkpoint_flags("the weights to export");
  flags.insert(
      flags.end(),
      {
          {"out", "FILE", "the ONNX file to write (default: the checkpoint's name, .onnx)"},
          {"with-normalize", "",
           "put data.normalize's (x - mean) / std in the graph: it then takes ToTensor's "
           "[0, 1] pixels"},
      });
  CliArgs args("export", flags, 0, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "--checkpoint FILE [--out MODEL.onnx] [--with-normalize]",
        "Writes the network of a checkpoint, in evaluation mode, with its weights (the\n"
        "averaged ones for an ema_decay run) as an ONNX model (opset 13), as\n"
        "torch.onnx.export does: input \"input\" (N, C, H, W) float, the images after\n"
        "ToTensor + Normalize (with --with-normalize: after ToTensor only), output\n"
        "\"logits\" (N, classes). For ONNX Runtime, TensorRT, OpenVINO and the like.");
    return 0;
  }
  auto [path, checkpoint, config, source] = read_checkpoint_arg(args, "export");
  std::string out = args.text("out").value_or("");
  if (out.empty()) {
    const size_t dot = path.find_last_of('.');
    const size_t slash = path.find_last_of('/');
    out = (dot != std::string::npos && (slash == std::string::npos || dot > slash)
               ? path.substr(0, dot)
               : path) +
          ".onnx";
  }
  if (!out.ends_with(".onnx")) throw UsageError("export: --out '" + out + "' must end in .onnx");
  check_output_path("export: --out", out);
  Network net = Network::from_json(config.network, source);
  Context ctx(Device::CPU);
  net.setup(ctx, {1});
  load_weights(checkpoint.file, path, net);
  OnnxNormalize normalize;
  if (args.has("with-normalize")) normalize = {config.data.mean, config.data.std};
  const std::vector<uint8_t> model =
      export_onnx(net, net.download_parameters(), net.download_buffers(), normalize, CNNE_VERSION,
                  "exported by cnnengine from " + path);
  write_file_atomically(out, {std::span<const uint8_t>(model)});
  const Shape input = net.input_shape();
  std::cout << "Exported " << net.name() << " (" << net.layer_count() << " layers, "
            << net.parameter_count() << " parameters) from " << path << " to " << out << " ("
            << model.size() << " bytes, ONNX opset 13): input \"input\" (N, " << input[0] << ", "
            << input[1] << ", " << input[2] << ") "
            << (normalize.mean.empty() ? "normalized as data.normalize says"
                                       : "in [0, 1], normalized inside the graph")
            << ", output \"logits\" (N, " << net.output_shape(1)[1] << ")\n";
  return 0;
}

}  // namespace cnne::cli
