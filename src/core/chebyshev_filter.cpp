#include "chebyshev_filter.h"

#include <algorithm>
#include <cmath>

namespace cellshard {

namespace {

// log |T_m(x)| / m for large m: the filter's growth per degree at x.
double growth(double x) { return std::acosh(std::max(1.0, std::fabs(x))); }

}  // namespace

ChebyshevFilter chebyshev_filter(const std::vector<double>& theta,
                                 const std::vector<double>& residual, int wanted, double target,
                                 double ceiling, const ChebyshevLimits& limits) {
  ChebyshevFilter f;
  const int pa = int(theta.size());
  if (pa == 0 || wanted <= 0) return f;
  wanted = std::min(wanted, pa);
  const double high = theta.front(), top = theta.back();
  // Keep the interval from collapsing (a rank-deficient matrix has Ritz
  // values at 0 = low): at least a millionth of the spectrum's scale wide.
  const double width = std::max(1e-6 * std::max(std::fabs(top), std::fabs(high)), 1e-300);
  const double low = std::min(limits.low, high - width);
  f.center = 0.5 * (high + low);
  f.half_width = 0.5 * (high - low);
  const auto mapped = [&](double t) { return (t - f.center) / f.half_width; };
  const double weakest = mapped(theta[size_t(pa - wanted)]);
  f.scale_point = std::max(1.0, weakest);

  int need = 0;
  for (int i = pa - wanted; i < pa; ++i) {
    const double r = residual[size_t(i)] / target;
    if (!(r > 1.0)) continue;
    const double g = growth(mapped(theta[size_t(i)]));
    need = std::max(need, g > 0 ? int(std::ceil(std::acosh(r) / g)) : limits.max_degree);
  }
  int degree = std::max(limits.min_degree, std::min(need, limits.max_degree));
  const double spread = growth(mapped(std::max(top, ceiling))) - growth(f.scale_point);
  if (spread > 0) degree = std::min(degree, std::max(1, int(std::log(limits.max_ratio) / spread)));
  // T_m(s) stays far from float64's overflow (about e^709).
  if (growth(f.scale_point) > 0) degree = std::min(degree, int(600.0 / growth(f.scale_point)));
  f.degree = std::max(1, degree);
  return f;
}

std::vector<ChebyshevStep> chebyshev_steps(const ChebyshevFilter& f) {
  std::vector<ChebyshevStep> steps;
  const double c = f.center, e = f.half_width, s = f.scale_point;
  // rho_j = T_j(s) (s >= 1: no zero to divide by, and no overflow at the
  // degrees the ratio limit allows).
  double rho_prev = 1.0, rho = s;
  steps.push_back({1.0 / (e * s), -c / (e * s), 0.0});
  for (int j = 1; j < f.degree; ++j) {
    const double rho_next = 2.0 * s * rho - rho_prev;
    const double alpha = 2.0 * rho / (e * rho_next);
    steps.push_back({alpha, -c * alpha, -rho_prev / rho_next});
    rho_prev = rho;
    rho = rho_next;
  }
  return steps;
}

}  // namespace cellshard
