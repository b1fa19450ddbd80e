// The CUDA implementation of the pipeline kernels (core/pipeline_kernels.h).
#pragma once
#include "../core/pipeline_kernels.h"

namespace cellshard {

PipelineKernels& cuda_pipeline_kernels();

}  // namespace cellshard
