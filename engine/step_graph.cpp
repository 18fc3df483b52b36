#include "engine/step_graph.h"

#include "engine/error.h"
#ifdef CNNE_WITH_CUDA
#include "cuda/check.h"
#include "cuda/cuda_context.h"
#endif

namespace cnne {

#ifdef CNNE_WITH_CUDA
struct StepGraph::Impl {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ~Impl() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};
#else
struct StepGraph::Impl {};
#endif

StepGraph::StepGraph(Context& ctx) : ctx_(ctx), impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;

bool StepGraph::supported() const {
#ifdef CNNE_WITH_CUDA
  return ctx_.device() == Device::CUDA;
#else
  return false;
#endif
}

bool StepGraph::captured() const {
#ifdef CNNE_WITH_CUDA
  return impl_->exec != nullptr;
#else
  return false;
#endif
}

void StepGraph::capture(const std::function<void()>& enqueue) {
  if (!supported()) throw DeviceError("CUDA graphs need the CUDA backend (--device cuda)");
#ifdef CNNE_WITH_CUDA
  const cudaStream_t stream = ctx_.cuda().stream();
  CNNE_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);  // leave the stream usable
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();
    throw;
  }
  CNNE_CHECK_AT(cudaStreamEndCapture(stream, &impl_->graph),
                "capturing the training step (did it synchronize or allocate?)");
  CNNE_CHECK(cudaGraphInstantiate(&impl_->exec, impl_->graph, 0));
#else
  (void)enqueue;
#endif
}

void StepGraph::replay() {
#ifdef CNNE_WITH_CUDA
  CNNE_CHECK(cudaGraphLaunch(impl_->exec, ctx_.cuda().stream()));
#endif
}

}  // namespace cnne
