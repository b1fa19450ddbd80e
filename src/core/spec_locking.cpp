#include "spec_locking.h"

#include <algorithm>
#include <cmath>

namespace cellshard {

double pair_residual_bound(double theta, double up, double down, double floor, double strict,
                           double value_tolerance) {
  if (!(value_tolerance > 0)) return strict;
  const double near = 0.01 * std::fabs(theta);
  if (!(up - theta <= near) || !(theta - down <= near)) return strict;
  const double gap = theta - floor;
  return gap > 0 ? std::max(strict, std::sqrt(value_tolerance * std::fabs(theta) * gap)) : strict;
}

}  // namespace cellshard
