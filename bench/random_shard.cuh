// Random CSR shards built on the GPU, shaped like PCA's input (bench/gram_kernel.cu,
// bench/pca_overlap.cu): rows x genes at a mean density, with every gene equally
// likely ("uniform") or with skewed gene popularity and row lengths ("skewed":
// gene g present with probability d_g, log-normal with sigma 1.5, at most 0.9,
// times a log-normal row factor with sigma 0.3; mean density the same); values
// look log-normalised, some clipped at 10.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "../src/core/buffer.h"
#include "../src/core/errors.h"
#include "../src/core/backend.h"

namespace gram_bench {

using namespace cellshard;

__device__ __forceinline__ unsigned long long mix(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
__device__ __forceinline__ float unit(unsigned long long key) {
  return float(mix(key) >> 40) * (1.0f / 16777216.0f);
}

// One warp a row: gene g is in row r when unit(r, g) < present[g] * row_factor[r].
// Pass 0 counts (into len), pass 1 writes sorted indices and values at indptr[r].
__global__ void fill_kernel(int pass, int64_t rows, int genes, const float* present,
                            const float* row_factor, const float* gene_scale, int64_t* len,
                            const int64_t* indptr, int32_t* indices, float* values) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; r < rows;
       r += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    int64_t at = pass ? indptr[r] : 0;
    const float f = row_factor[r];
    for (int g0 = 0; g0 < genes; g0 += 32) {
      const int g = g0 + lane;
      const unsigned long long key = (unsigned long long)r * 0x100000ull + (unsigned long long)g;
      const bool in = g < genes && unit(key) < present[g] * f;
      const unsigned ballot = __ballot_sync(0xffffffffu, in);
      if (pass && in) {
        const int64_t k = at + __popc(ballot & ((1u << lane) - 1u));
        indices[k] = g;
        // log-normalised-looking values over the gene's scale, some clipped
        values[k] = fminf(10.0f, gene_scale[g] * (0.3f + 3.0f * unit(key ^ 0x5555555555ull)));
      }
      at += __popc(ballot);
    }
    if (!pass && lane == 0) len[r] = at;
  }
}

struct Shard {
  std::vector<int64_t> host_indptr;
  BufferPtr indptr, indices, values;
  CsrView view;
};

// sorted: the genes by popularity, most frequent last (skewed only).
Shard make_shard(int64_t rows, int genes, double density, bool skewed, unsigned seed,
                 bool sorted = false) {
  std::vector<float> present(genes), row_factor(size_t(rows), 1.0f), scale(genes);
  uint64_t state = seed * 0x2545F4914F6CDD1Dull + 1;
  auto uniform = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (double((state >> 11) & ((1ull << 53) - 1)) + 0.5) / 9007199254740992.0;
  };
  auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); };
  std::vector<double> z(genes);
  for (int g = 0; g < genes; ++g) {
    z[g] = normal();
    scale[g] = float(std::ldexp(1.0, int(g % 7) - 3) * (0.5 + uniform()));
  }
  if (skewed) {
    double lo = -20, hi = 5;  // log of the median probability, by bisection for the mean
    for (int it = 0; it < 60; ++it) {
      const double mid = (lo + hi) / 2;
      double mean = 0;
      for (int g = 0; g < genes; ++g) mean += std::min(0.9, std::exp(mid + 1.5 * z[g]));
      (mean / genes < density ? lo : hi) = mid;
    }
    for (int g = 0; g < genes; ++g) present[g] = float(std::min(0.9, std::exp(lo + 1.5 * z[g])));
    for (auto& f : row_factor) f = float(std::exp(0.3 * normal() - 0.045));
    if (sorted) std::sort(present.begin(), present.end());
  } else {
    for (auto& p : present) p = float(density);
  }
  BufferPtr d_present = make_buffer(0, present.size() * 4), d_rf = make_buffer(0, row_factor.size() * 4),
            d_scale = make_buffer(0, scale.size() * 4), d_len = make_buffer(0, size_t(rows) * 8);
  d_present->upload(present.data(), d_present->bytes());
  d_rf->upload(row_factor.data(), d_rf->bytes());
  d_scale->upload(scale.data(), d_scale->bytes());
  fill_kernel<<<4096, 256>>>(0, rows, genes, d_present->as<float>(), d_rf->as<float>(),
                             d_scale->as<float>(), d_len->as<int64_t>(), nullptr, nullptr, nullptr);
  std::vector<int64_t> len(static_cast<size_t>(rows));
  d_len->download(len.data(), d_len->bytes());
  Shard s;
  s.host_indptr.assign(size_t(rows) + 1, 0);
  for (int64_t r = 0; r < rows; ++r) s.host_indptr[size_t(r) + 1] = s.host_indptr[size_t(r)] + len[size_t(r)];
  const int64_t nnz = s.host_indptr.back();
  s.indptr = make_buffer(0, s.host_indptr.size() * 8);
  s.indptr->upload(s.host_indptr.data(), s.indptr->bytes());
  s.indices = make_buffer(0, size_t(std::max<int64_t>(nnz, 1)) * 4);
  s.values = make_buffer(0, size_t(std::max<int64_t>(nnz, 1)) * 4);
  fill_kernel<<<4096, 256>>>(1, rows, genes, d_present->as<float>(), d_rf->as<float>(),
                             d_scale->as<float>(), nullptr, s.indptr->as<int64_t>(),
                             s.indices->as<int32_t>(), s.values->as<float>());
  CS_CHECK(cudaDeviceSynchronize() == cudaSuccess, "fill");
  s.view.device = 0;
  s.view.n_rows = rows;
  s.view.n_cols = genes;
  s.view.nnz = nnz;
  s.view.indptr = s.indptr->as<int64_t>();
  s.view.indices = s.indices->as<int32_t>();
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace gram_bench
