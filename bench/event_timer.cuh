// Shared by the standalone GEMM benchmarks (gemm_widths.cu, gemm_emulation.cu):
// a check that stops the program with a message, and the median of a call's
// GPU time by CUDA events.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

inline void ok(bool good, const char* what) {
  if (!good) {
    std::fprintf(stderr, "%s failed\n", what);
    std::exit(1);
  }
}

// Milliseconds of f() on the default stream, the median of `reps` after a warm-up.
inline double median_ms(const std::function<void()>& f, int reps) {
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  f();  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(t0);
    f();
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float m = 0;
    cudaEventElapsedTime(&m, t0, t1);
    ms.push_back(m);
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
