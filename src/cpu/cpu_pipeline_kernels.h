// The CPU implementation of the pipeline kernels (core/pipeline_kernels.h):
// the no-GPU path, and the reference the CUDA kernels are tested against.
#pragma once
#include "../core/pipeline_kernels.h"

namespace cellshard {

PipelineKernels& cpu_pipeline_kernels();

}  // namespace cellshard
