// The polynomial filter of Chebyshev-filtered subspace iteration
// (cuda/chefsi_on_device.cu): for the next sweep, the interval to damp, the
// degree, and the scaled three-term recurrence's coefficients.
#pragma once
#include <vector>

namespace cellshard {

struct ChebyshevLimits {
  double low = 0.0;         // a lower bound of the spectrum (the damped interval's lower end)
  double max_ratio = 1e8;   // largest growth of the top pair over the weakest wanted one
  int min_degree = 4;       // a sweep costs a Rayleigh-Ritz step besides its products
  int max_degree = 60;
};

// T_m((A - center) / half_width) / T_m(scale_point): eigenvalues in
// [center - half_width, center + half_width] are damped; the weakest wanted
// pair (at scale_point, >= 1 in the mapped variable) keeps its length.
struct ChebyshevFilter {
  int degree = 1;
  double center = 0, half_width = 1, scale_point = 1;
};

// The filter for an active block with Ritz values `theta` (ascending; its
// last `wanted` are the pairs still sought) and their residual norms
// `residual`: the damped interval runs from limits.low (lowered below the
// smallest Ritz value when needed) to the smallest Ritz value. The degree is
// what brings every wanted residual under `target`, predicted from the
// filter's growth at each Ritz value (at least min_degree, at most
// max_degree), but never so high that the top Ritz value (or `ceiling`, an
// upper bound of the spectrum, when larger: the first sweep's Ritz values
// are far below the top eigenvalue) grows more than max_ratio times the
// weakest wanted one: beyond that, the weak directions would drown in the
// rounding of the strong ones.
ChebyshevFilter chebyshev_filter(const std::vector<double>& theta,
                                 const std::vector<double>& residual, int wanted, double target,
                                 double ceiling, const ChebyshevLimits& limits);

// One step of the scaled recurrence: Y_{j+1} = alpha A Y_j + beta Y_j + gamma Y_{j-1},
// where Y_j = T_j(A') X / T_j(s) with A' = (A - center) / half_width.
struct ChebyshevStep {
  double alpha, beta, gamma;
};

// The steps j = 0 .. degree - 1 (step 0 makes Y_1 from Y_0 = X; its gamma is 0).
std::vector<ChebyshevStep> chebyshev_steps(const ChebyshevFilter& filter);

}  // namespace cellshard
