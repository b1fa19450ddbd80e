// The per-shard pipeline kernels on a GPU (core/pipeline_kernels.h), one
// function per kernel, each in its own .cu file; pipeline_kernels.cu wires
// them into the PipelineKernels object. Every function makes the shard's
// device current, checks every CUDA call and has finished (stream
// synchronised) when it returns. Safe to call from
// several threads at once, on the same device or on different ones.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/buffer.h"
#include "../core/pipeline_kernels.h"

namespace cellshard {

void map_values_on_device(const CsrView& a, const float* in, float* out, const ValueMap& map);
void col_moments_on_device(const CsrView& a, const float* values, const MomentOptions& options,
                           ColumnMoments out);
void row_subset_sums_on_device(const CsrView& a, const float* values, const uint32_t* gene_bits,
                               int n_subsets, double* out);
void row_top_sums_on_device(const CsrView& a, const float* values, const std::vector<int>& ns,
                            double* out);
void flag_dominant_genes_on_device(const CsrView& a, const float* values, const double* row_total,
                                   double fraction, double* flags);
void gram_on_device(const CsrView& a, const float* values, double* gram);
void add_outer_products_on_device(int device, double* a, int64_t n, double scale,
                                  const std::vector<OuterProduct>& terms);
void top_eigen_on_device(int device, double* a, int64_t n, int k, double* values,
                         double* vectors);
void multiply_on_device(const CsrView& a, const float* values, const float* v, int k,
                        const double* shift, double* out, int64_t ld_out);
// Whether multiply_on_device takes the dense (cuBLAS) method for this shard.
bool multiply_uses_dense_rows(const CsrView& a, int k);

// A copy of `count` host values on `device`; null when `host` is null or
// `count` is 0 (kernels read a null array as "not given").
template <class T>
BufferPtr upload_array(int device, const T* host, size_t count) {
  if (!host || count == 0) return nullptr;
  BufferPtr b = make_buffer(device, count * sizeof(T));
  b->upload(host, b->bytes());
  return b;
}

template <class T>
const T* device_ptr(const BufferPtr& b) {
  return b ? b->as<T>() : nullptr;
}

}  // namespace cellshard
