// Picks the pipeline kernels for a device.
#include "pipeline_kernels.h"

#include "../cpu/cpu_pipeline_kernels.h"
#include "backend.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/cuda_pipeline_kernels.h"
#endif

namespace cellshard {

PipelineKernels& pipeline_kernels_for(int device) {
  if (device == kHost) return cpu_pipeline_kernels();
#ifdef CELLSHARD_CUDA
  return cuda_pipeline_kernels();
#else
  throw_no_cuda_backend(device);
#endif
}

}  // namespace cellshard
