// cnnengine convert IN OUT: a file of named tensors from one format to the
// other: safetensors <-> PyTorch's torch.save (.pth/.pt), told by IN's bytes and
// OUT's name. torchvision's resnet18-*.pth becomes a safetensors file, a
// cnnengine checkpoint a .pth for torch.load; cnnengine's metadata (config,
// training state) goes along.
#include <iostream>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "engine/tensor_file.h"
#include "engine/torch_file.h"
#include "tools/cli_args.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace cnne::cli {

int run_convert(int argc, char** argv, int first) {
  CliArgs args("convert", {}, 2, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text(
        "IN OUT",
        "Converts a file of named tensors between safetensors and PyTorch's torch.save format\n"
        "(.pth/.pt): IN's format is told by its bytes, OUT's by its name (.safetensors, .pth\n"
        "or .pt). The tensors keep their names, shapes and dtypes (float64 becomes float32);\n"
        "a cnnengine checkpoint keeps its config and training state.");
    return 0;
  }
  if (args.positionals().size() != 2) throw UsageError("convert needs IN and OUT files");
  const std::string in = args.positionals()[0], out = args.positionals()[1];
  const bool to_torch = is_torch_file_path(out);
  if (!to_torch && !out.ends_with(".safetensors"))
    throw UsageError("convert: OUT '" + out + "' must end in .safetensors, .pth or .pt");
  check_output_path("convert: OUT", out);
  bool from_torch = false;
  Safetensors file = load_tensor_file(in, &from_torch);
  const auto format = file.metadata.find("format");
  if (format != file.metadata.end() && format->second == "torch.save") {
    // what the reader noted of a plain PyTorch file, not the file's own metadata
    file.metadata.erase("format");
    file.metadata.erase("state_dict_key");
  }
  if (to_torch)
    save_torch_file(out, file);
  else
    save_safetensors(out, file);
  std::cout << "Converted " << in << " (" << (from_torch ? "torch.save" : "safetensors") << ", "
            << file.tensors.size() << " tensors) to " << out << " ("
            << (to_torch ? "torch.save" : "safetensors") << ")\n";
  return 0;
}

}  // namespace cnne::cli
