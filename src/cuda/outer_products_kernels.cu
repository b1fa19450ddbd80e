// add_outer_products: a = scale * a + sum_t coef_t x_t y_t^T on the device
// (the rank-one corrections that turn the Gram matrix of the stored offsets
// into the covariance of the genes for PCA).
#include <algorithm>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

constexpr int kMaxTerms = 8;

struct Terms {
  int count;
  double coef[kMaxTerms];
};

// xy holds x_t at xy + 2 t n and y_t at xy + (2 t + 1) n.
__global__ void outer_products_kernel(int64_t n, double scale, Terms terms,
                                      const double* __restrict__ xy, double* a) {
  for (int64_t idx = global_thread_id(); idx < n * n; idx += grid_thread_count()) {
    const int64_t i = idx % n, j = idx / n;
    double v = scale * a[idx];
    for (int t = 0; t < terms.count; ++t)
      v += terms.coef[t] * xy[2 * t * n + i] * xy[(2 * t + 1) * n + j];
    a[idx] = v;
  }
}

}  // namespace

void add_outer_products_on_device(int device, double* a, int64_t n, double scale,
                                  const std::vector<OuterProduct>& terms) {
  if (n == 0) return;
  CS_CHECK(int(terms.size()) <= kMaxTerms, "internal: too many outer products");
  const DeviceContext& ctx = use_device(device);
  Terms t{int(terms.size()), {}};
  std::vector<double> xy(2 * terms.size() * size_t(n));
  for (size_t k = 0; k < terms.size(); ++k) {
    t.coef[k] = terms[k].coef;
    std::copy(terms[k].x, terms[k].x + n, xy.begin() + int64_t(2 * k) * n);
    std::copy(terms[k].y, terms[k].y + n, xy.begin() + int64_t(2 * k + 1) * n);
  }
  BufferPtr d_xy = upload_array(device, xy.data(), xy.size());
  outer_products_kernel<<<grid_blocks(ctx, n * n, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
      n, scale, t, device_ptr<double>(d_xy), a);
  CS_CUDA_CHECK_LAUNCH("outer_products_kernel");
  synchronize(ctx);
}

}  // namespace cellshard
