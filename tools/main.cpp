// cnnengine: the command-line entry point. Every error the user can fix
// arrives here as a cnne::Error and leaves as one line on stderr with a
// non-zero exit code: 2 for a bad command line, 4 for NaN/Inf in training, 1
// for everything else; 3 is an internal error (a bug). An interrupted training
// run exits with 128 + the signal after writing its checkpoint.
#include <cstring>
#include <iostream>
#include <new>
#include <string>

#include "engine/error.h"
#include "tools/commands.h"

namespace {

constexpr const char* kUsage =
    "cnnengine - trains and evaluates convolutional networks on CIFAR-10 (cuDNN on the GPU,\n"
    "a reference implementation on the CPU; Fashion-MNIST and MNIST too)\n"
    "\n"
    "Usage: cnnengine <command> [options]\n"
    "\n"
    "Commands:\n"
    "  train [CONFIG]           train (default: the built-in PyTorch tutorial config)\n"
    "  eval --checkpoint FILE   evaluate a checkpoint on its data set's test set\n"
    "  predict --checkpoint FILE IMAGE...  classify PNG/PGM/PPM images\n"
    "  summary [CONFIG]         the model: layers, output shapes, parameters, FLOPs\n"
    "  info                     CUDA, cuDNN, cuBLAS and GPU details\n"
    "  inspect FILE             validate a checkpoint; its tensors, state and weights digest\n"
    "  bench [CONFIG]           time each layer and the training step, images/s, memory\n"
    "  lr-find [CONFIG]         learning-rate range test: the loss as the rate rises\n"
    "  convert IN OUT           tensors between safetensors and PyTorch's .pth (torch.save)\n"
    "  export --checkpoint FILE the network and its weights as an ONNX model\n"
    "  help [COMMAND]           this text, or a command's options\n"
    "  version                  the version\n"
    "\n"
    "Run 'cnnengine <command> --help' for a command's options.\n";

int dispatch(int argc, char** argv) {
  using namespace cnne::cli;
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string verb = argv[1];
  if (verb == "train") return run_train(argc, argv, 2);
  if (verb == "eval") return run_eval(argc, argv, 2);
  if (verb == "summary") return run_summary(argc, argv, 2);
  if (verb == "info") return run_info(argc, argv, 2);
  if (verb == "inspect") return run_inspect(argc, argv, 2);
  if (verb == "bench") return run_bench(argc, argv, 2);
  if (verb == "convert") return run_convert(argc, argv, 2);
  if (verb == "predict") return run_predict(argc, argv, 2);
  if (verb == "export") return run_export(argc, argv, 2);
  if (verb == "lr-find") return run_lr_find(argc, argv, 2);
  if (verb == "version" || verb == "--version") {
    std::cout << "cnnengine " << CNNE_VERSION << "\n";
    return 0;
  }
  if (verb == "help" || verb == "--help" || verb == "-h") {
    if (argc > 2) {
      char help_flag[] = "--help";
      char* sub[] = {argv[0], argv[2], help_flag};
      const std::string topic = argv[2];
      if (topic == "train" || topic == "eval" || topic == "summary" || topic == "info" ||
          topic == "inspect" || topic == "bench" || topic == "convert" || topic == "predict" ||
          topic == "export" || topic == "lr-find")
        return dispatch(3, sub);
      throw cnne::UsageError("no help for unknown command '" + topic + "'");
    }
    std::cout << kUsage;
    return 0;
  }
  throw cnne::UsageError(
      "unknown command '" + verb +
      "' (commands: train, eval, predict, summary, info, inspect, bench, lr-find, convert, export, "
      "help, version)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const cnne::UsageError& e) {
    std::cerr << "cnnengine: error: " << e.what() << "\n";
    return 2;
  } catch (const cnne::NumericalError& e) {
    std::cerr << "cnnengine: error: " << e.what() << "\n";
    return 4;
  } catch (const cnne::Error& e) {
    std::cerr << "cnnengine: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "cnnengine: error: out of host memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cnnengine: internal error: " << e.what() << "\n";
    return 3;
  }
}
