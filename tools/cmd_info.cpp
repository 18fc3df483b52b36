// cnnengine info: the tutorial's installation check, without Python.
#include <cblas.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "cuda/device_query.h"
#include "engine/blas_core.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace cnne::cli {

int run_info(int argc, char** argv, int first) {
  CliArgs args("info", {}, 0, argc, argv, first);
  if (args.help_requested()) {
    std::cout << args.help_text("",
                                "Prints the CUDA runtime and driver, cuDNN and cuBLAS versions, "
                                "and each GPU's\nname, compute capability, memory, BF16 and "
                                "tensor-core support. Exits 0 on a\nmachine without a GPU, "
                                "saying so.");
    return 0;
  }
  const cuda::CudaInfo info = cuda::query_cuda();
  std::cout << "cnnengine " << CNNE_VERSION << "\n";
  std::cout << "CPU: " << std::thread::hardware_concurrency()
            << " hardware threads; BLAS: " << openblas_get_config() << "\n";
  std::cout << "BLAS kernels: " << blas_core_description() << "\n";
  if (!info.built_with_cuda) {
    std::cout << "CUDA: not built in (" << info.no_gpu_reason << ")\n";
    std::cout << "GPU: none usable; cnnengine runs on the CPU (--device cpu)\n";
    return 0;
  }
  std::cout << "CUDA runtime: " << cuda::cuda_version_text(info.runtime_version) << "\n";
  std::cout << "CUDA driver: "
            << (info.driver_version ? cuda::cuda_version_text(info.driver_version)
                                    : std::string("none installed"))
            << "\n";
  const size_t v = info.cudnn_version;
  std::cout << "cuDNN: " << v / 10000 << "." << (v % 10000) / 100 << "." << v % 100 << "\n";
  std::cout << "cuBLAS: " << info.cublas_version / 10000 << "."
            << (info.cublas_version % 10000) / 100 << "." << info.cublas_version % 100 << "\n";
  if (info.gpus.empty()) {
    std::cout << "GPU: none usable (" << info.no_gpu_reason
              << "); cnnengine runs on the CPU (--device cpu)\n";
    return 0;
  }
  std::cout << "GPUs: " << info.gpus.size() << "\n";
  char line[200];
  for (const auto& g : info.gpus) {
    const double gib = 1024.0 * 1024.0 * 1024.0;
    std::cout << "GPU " << g.index << ": " << g.name << "\n";
    std::cout << "  compute capability: " << g.major << "." << g.minor << "\n";
    std::snprintf(line, sizeof line, "  memory: %.1f GiB total, %.1f GiB free (%.1f%% in use)\n",
                  static_cast<double>(g.total_memory) / gib,
                  static_cast<double>(g.free_memory) / gib,
                  g.total_memory ? 100.0 * static_cast<double>(g.total_memory - g.free_memory) /
                                       static_cast<double>(g.total_memory)
                                 : 0.0);
    std::cout << line;
    std::cout << "  multiprocessors: " << g.multiprocessors << "\n";
    std::cout << "  BF16: " << (g.bf16 ? "supported" : "not supported") << "\n";
    std::cout << "  tensor cores: " << (g.tensor_cores ? "supported" : "not supported") << "\n";
    std::cout << "  cooperative launch (--fused-step): "
              << (g.cooperative ? "supported" : "not supported") << "\n";
  }
  return 0;
}

}  // namespace cnne::cli
