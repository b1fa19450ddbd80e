// NCCL all-reduce bandwidth across every visible GPU of this process (one
// communicator per GPU from ncclCommInitAll, as cellshard uses): float64 sums
// of the sizes cellshard reduces (per-gene moments ~1 MB, a 5,000-gene Gram
// 200 MB). Prints algorithm and bus bandwidth (bus = alg * 2 (n - 1) / n).
//   nvcc -O2 -o /tmp/nccl_bandwidth bench/nccl_bandwidth.cu -lnccl && /tmp/nccl_bandwidth
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(call, ok)                                                     \
  do {                                                                      \
    if (!(call == ok)) { std::fprintf(stderr, "failed: %s\n", #call); std::exit(1); } \
  } while (0)

int main() {
  int n = 0;
  CHECK(cudaGetDeviceCount(&n), cudaSuccess);
  if (n < 2) { std::printf("nccl_bandwidth: %d GPU, nothing to reduce across\n", n); return 0; }
  std::vector<ncclComm_t> comms(n);
  CHECK(ncclCommInitAll(comms.data(), n, nullptr), ncclSuccess);
  const size_t max_count = 200000000 / 8 + 1;  // 25M doubles: the Gram of 5,000 genes
  std::vector<double*> buf(n);
  std::vector<cudaStream_t> streams(n);
  for (int d = 0; d < n; ++d) {
    cudaSetDevice(d);
    CHECK(cudaMalloc(&buf[d], max_count * sizeof(double)), cudaSuccess);
    CHECK(cudaMemset(buf[d], 0, max_count * sizeof(double)), cudaSuccess);
    CHECK(cudaStreamCreate(&streams[d]), cudaSuccess);
  }
  auto reduce = [&](size_t count) {
    ncclGroupStart();
    for (int d = 0; d < n; ++d)
      ncclAllReduce(buf[d], buf[d], count, ncclDouble, ncclSum, comms[d], streams[d]);
    ncclGroupEnd();
    for (int d = 0; d < n; ++d) { cudaSetDevice(d); cudaStreamSynchronize(streams[d]); }
  };
  std::printf("%d GPUs; float64 in-place all-reduce\n%14s %10s %12s %12s\n", n, "bytes", "ms",
              "algbw GB/s", "busbw GB/s");
  for (size_t count : {size_t(45854 * 3), size_t(1) << 20, size_t(1) << 23, max_count}) {
    for (int i = 0; i < 3; ++i) reduce(count);
    const int reps = 20;
    cudaEvent_t a, b;
    cudaSetDevice(0); cudaEventCreate(&a); cudaEventCreate(&b);
    cudaEventRecord(a, streams[0]);
    for (int i = 0; i < reps; ++i) reduce(count);
    cudaSetDevice(0); cudaEventRecord(b, streams[0]); cudaEventSynchronize(b);
    float ms = 0; cudaEventElapsedTime(&ms, a, b); ms /= reps;
    double bytes = double(count) * 8, alg = bytes / (ms * 1e-3) / 1e9;
    std::printf("%14.0f %10.3f %12.1f %12.1f\n", bytes, ms, alg, alg * 2.0 * (n - 1) / n);
  }
  for (int d = 0; d < n; ++d) ncclCommDestroy(comms[d]);
  return 0;
}
