// Faster arithmetic for chefsi's filter GEMM (issue 8): A (n x n, float64)
// times a block of w columns, as the package runs it (cublasDgemm), against
//   - cuBLAS's float64 emulation on integer tensor cores
//     (CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH, emulation forced with the EAGER
//     strategy), with the mantissa bits chosen by cuBLAS (dynamic) or fixed;
//   - float32 (SGEMM) and TF32 tensor cores on a float32 copy.
// Two matrices: entries uniform in [-1, 1], and entries whose magnitudes
// spread over four decades (a covariance's small off-diagonal entries beside
// its diagonal), which is what the emulation's dynamic mantissa looks at.
// Each line: ms (median of 15 after a warm-up), TFLOP/s, and the largest
// difference from cublasDgemm relative to the largest |entry|.
// Then int8 GEMMs with int32 sums (C = S^T S, S k x m) at the Gram's shapes,
// for the rate of an exact dense block on tensor cores.
//
// Build (repository root):
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 -o /tmp/gemm_emulation \
//     bench/gemm_emulation.cu -lcublas
//   /tmp/gemm_emulation [n] [widths, comma-separated]     (5000 64,96,128,160)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "event_timer.cuh"

namespace {

template <class T>
std::vector<double> download(const T* d, size_t count) {
  std::vector<T> h(count);
  ok(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess, "copy");
  return std::vector<double>(h.begin(), h.end());
}

double relative_difference(const std::vector<double>& got, const std::vector<double>& want) {
  double diff = 0, scale = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    diff = std::max(diff, std::fabs(got[k] - want[k]));
    scale = std::max(scale, std::fabs(want[k]));
  }
  return scale > 0 ? diff / scale : diff;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::string text = s;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    out.push_back(std::atoi(text.substr(at, end - at).c_str()));
    at = end + 1;
  }
  return out;
}

// One matrix: every arithmetic against cublasDgemm at each width.
void run_matrix(cublasHandle_t blas, const char* name, const std::vector<double>& host_a,
                int n, const std::vector<int>& widths) {
  const int wmax = *std::max_element(widths.begin(), widths.end());
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<double> host_x(size_t(n) * wmax);
  for (double& v : host_x) v = unit(rng);
  std::vector<float> host_af(host_a.begin(), host_a.end()), host_xf(host_x.begin(), host_x.end());
  double *a, *x, *y;
  float *af, *xf, *yf;
  ok(cudaMalloc(&a, host_a.size() * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&x, host_x.size() * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&y, size_t(n) * wmax * 8) == cudaSuccess, "malloc");
  ok(cudaMalloc(&af, host_a.size() * 4) == cudaSuccess, "malloc");
  ok(cudaMalloc(&xf, host_x.size() * 4) == cudaSuccess, "malloc");
  ok(cudaMalloc(&yf, size_t(n) * wmax * 4) == cudaSuccess, "malloc");
  cudaMemcpy(a, host_a.data(), host_a.size() * 8, cudaMemcpyHostToDevice);
  cudaMemcpy(x, host_x.data(), host_x.size() * 8, cudaMemcpyHostToDevice);
  cudaMemcpy(af, host_af.data(), host_af.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(xf, host_xf.data(), host_xf.size() * 4, cudaMemcpyHostToDevice);
  const double one = 1.0, zero = 0.0;
  const float onef = 1.0f, zerof = 0.0f;

  std::printf("\n%s matrix, %d x %d\n", name, n, n);
  std::printf("%5s  %-34s %9s %8s %10s\n", "width", "arithmetic", "ms", "TFLOP/s", "rel diff");
  std::vector<double> want_of_width;  // cublasDgemm's product at the current width
  for (int w : widths) {
    const double flop = 2.0 * n * double(n) * w;
    // Times `call`, then compares what it left in `result` (in that order:
    // the arguments of one call would be evaluated in any order).
    const auto line = [&](const std::string& what, const std::function<void()>& call,
                          const std::function<std::vector<double>()>& result) {
      const double ms = median_ms(call, 15);
      const double diff = relative_difference(result(), want_of_width);
      std::printf("%5d  %-34s %9.4f %8.1f %10.2e\n", w, what.c_str(), ms, flop / ms * 1e-9, diff);
    };
    const auto dgemm = [&] {
      ok(cublasDgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, w, n, &one, a, n, x, n, &zero, y, n) ==
             CUBLAS_STATUS_SUCCESS,
         "cublasDgemm");
    };
    ok(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH) == 0, "math mode");
    const double native = median_ms(dgemm, 15);
    want_of_width = download(y, size_t(n) * w);
    std::printf("%5d  %-34s %9.4f %8.1f %10.2e\n", w, "float64 (the package's)", native,
                flop / native * 1e-9, 0.0);
    const auto from_y = [&] { return download(y, size_t(n) * w); };
    const auto from_yf = [&] { return download(yf, size_t(n) * w); };

    // Emulated float64: dynamic mantissa, then fixed bit counts.
    ok(cublasSetMathMode(blas, CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH) == 0, "math mode");
    ok(cublasSetEmulationStrategy(blas, CUBLAS_EMULATION_STRATEGY_EAGER) == 0, "strategy");
    ok(cublasSetFixedPointEmulationMantissaControl(blas, CUDA_EMULATION_MANTISSA_CONTROL_DYNAMIC) ==
           0,
       "mantissa control");
    line("emulated float64, dynamic", dgemm, from_y);
    for (int bits : {55, 47, 39, 31, 23}) {
      ok(cublasSetFixedPointEmulationMantissaControl(blas, CUDA_EMULATION_MANTISSA_CONTROL_FIXED) ==
             0,
         "mantissa control");
      if (cublasSetFixedPointEmulationMaxMantissaBitCount(blas, bits) != 0) {
        std::printf("%5d  emulated float64, %d bits: refused\n", w, bits);
        continue;
      }
      line("emulated float64, " + std::to_string(bits) + " bits", dgemm, from_y);
    }
    ok(cublasSetFixedPointEmulationMaxMantissaBitCount(blas, 0) == 0, "mantissa bits");
    ok(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH) == 0, "math mode");
    ok(cublasSetEmulationStrategy(blas, CUBLAS_EMULATION_STRATEGY_DEFAULT) == 0, "strategy");

    const auto sgemm = [&](cublasComputeType_t compute) {
      return [&, compute] {
        ok(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, w, n, &onef, af, CUDA_R_32F, n, xf,
                        CUDA_R_32F, n, &zerof, yf, CUDA_R_32F, n, compute,
                        CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
           "cublasGemmEx float32");
      };
    };
    line("float32", sgemm(CUBLAS_COMPUTE_32F), from_yf);
    line("TF32 tensor cores", sgemm(CUBLAS_COMPUTE_32F_FAST_TF32), from_yf);
    line("float32 as 3 x bf16 (emulated)", sgemm(CUBLAS_COMPUTE_32F_EMULATED_16BFX9), from_yf);
  }
  cudaFree(a);
  cudaFree(x);
  cudaFree(y);
  cudaFree(af);
  cudaFree(xf);
  cudaFree(yf);
}

// C (m x m, int32) = S^T S for S (k x m, int8, column-major), batch times.
void run_int8(cublasHandle_t blas, int m, int k, int batch) {
  int8_t* s;
  int32_t* c;
  const size_t s_count = size_t(k) * m * batch;
  ok(cudaMalloc(&s, s_count) == cudaSuccess, "malloc");
  ok(cudaMalloc(&c, size_t(m) * m * batch * 4) == cudaSuccess, "malloc");
  std::vector<int8_t> host(s_count);
  std::mt19937_64 rng(3);
  for (int8_t& v : host) v = int8_t(int(rng() % 255) - 127);
  cudaMemcpy(s, host.data(), s_count, cudaMemcpyHostToDevice);
  const int32_t one = 1, zero = 0;
  const auto call = [&] {
    ok(cublasGemmStridedBatchedEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, m, m, k, &one, s, CUDA_R_8I, k,
                                  (long long)k * m, s, CUDA_R_8I, k, (long long)k * m, &zero, c,
                                  CUDA_R_32I, m, (long long)m * m, batch, CUBLAS_COMPUTE_32I,
                                  CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
       "int8 GEMM");
  };
  const double ms = median_ms(call, 10);
  const double ops = 2.0 * m * double(m) * k * batch;
  std::printf("int8 S^T S: m %5d, k %7d, batch %3d: %9.4f ms, %7.1f TOPS\n", m, k, batch, ms,
              ops / ms * 1e-9);
  cudaFree(s);
  cudaFree(c);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const std::vector<int> widths = parse_list(argc > 2 ? argv[2] : "64,96,128,160");
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  int version = 0;
  cublasHandle_t blas;
  ok(cublasCreate(&blas) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
  cublasGetVersion(blas, &version);
  std::printf("GPU: %s (sm_%d%d); cuBLAS %d; median of 15 (ms)\n", prop.name, prop.major,
              prop.minor, version);

  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<double> host_a(size_t(n) * n);
  for (double& v : host_a) v = unit(rng);
  run_matrix(blas, "uniform", host_a, n, widths);
  for (double& v : host_a) v = unit(rng) * std::pow(10.0, -4.0 * std::fabs(unit(rng)));
  run_matrix(blas, "four-decade", host_a, n, widths);

  std::printf("\n");
  for (int m : {512, 1536, 2304}) run_int8(blas, m, 131072, 1);
  for (int m : {1536, 2304}) run_int8(blas, m, 131072, 11);
  cublasDestroy(blas);
  return 0;
}
