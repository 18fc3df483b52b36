#pragma once
// The profiler capture range: `cnnengine train --profile-steps A:B` calls
// profiler_start() before step A and profiler_stop() after step B, so
// `nsys profile --capture-range=cudaProfilerApi` and
// `ncu --profile-from-start off` record just those steps (docs/PROFILING.md).
// Without CUDA both do nothing.
namespace cnne::cuda {

void profiler_start();
void profiler_stop();

}  // namespace cnne::cuda
