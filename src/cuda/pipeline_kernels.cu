// The CUDA pipeline kernels object: PipelineKernels' interface wired to the
// functions of pipeline_device.h (one .cu file each).
#include "cuda_pipeline_kernels.h"
#include "pipeline_device.h"
#include "row_qc.h"

namespace cellshard {

namespace {

// Stateless, like CudaBackend: one object serves every device and thread.
class CudaPipelineKernels : public PipelineKernels {
 public:
  void map_values(const CsrView& a, const float* in, float* out, const ValueMap& map) override {
    map_values_on_device(a, in, out, map);
  }
  void col_moments(const CsrView& a, const float* values, const MomentOptions& options,
                   ColumnMoments out) override {
    col_moments_on_device(a, values, options, out);
  }
  void row_subset_sums(const CsrView& a, const float* values, const uint32_t* gene_bits,
                       int n_subsets, double* out) override {
    row_subset_sums_on_device(a, values, gene_bits, n_subsets, out);
  }
  void row_qc(const CsrView& a, const float* values, const uint32_t* gene_bits, int n_subsets,
              AxisStats stats, double* subset_sums) override {
    row_qc_on_device(a, values, gene_bits, n_subsets, stats, subset_sums);
  }
  void row_top_sums(const CsrView& a, const float* values, const std::vector<int>& ns,
                    double* out) override {
    row_top_sums_on_device(a, values, ns, out);
  }
  void flag_dominant_genes(const CsrView& a, const float* values, const double* row_total,
                           double fraction, double* flags) override {
    flag_dominant_genes_on_device(a, values, row_total, fraction, flags);
  }
  void gram(const CsrView& a, const float* values, double* gram) override {
    gram_on_device(a, values, gram);
  }
  void add_outer_products(int device, double* a, int64_t n, double scale,
                          const std::vector<OuterProduct>& terms) override {
    add_outer_products_on_device(device, a, n, scale, terms);
  }
  void top_eigen(int device, double* a, int64_t n, int k, double* values,
                 double* vectors) override {
    top_eigen_on_device(device, a, n, k, values, vectors);
  }
  void multiply(const CsrView& a, const float* values, const float* v, int k,
                const double* shift, double* out, int64_t ld_out) override {
    multiply_on_device(a, values, v, k, shift, out, ld_out);
  }
};

}  // namespace

PipelineKernels& cuda_pipeline_kernels() {
  static CudaPipelineKernels* kernels = new CudaPipelineKernels();
  return *kernels;
}

}  // namespace cellshard
