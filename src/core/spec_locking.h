// How far an iterative eigensolver must take each Ritz pair for SPEC.md's
// fidelity. A component whose eigenvalue lies more than 1% from a
// neighbour's has its vector held to an exact solver's (|correlation| >=
// 0.9999), so its pair needs a small residual. Inside a flat bulk (within 1%
// of both neighbours: the noise components of single-cell data) only the
// eigenvalue is held (to 1e-4), and a Ritz value's error is about its
// residual squared over its distance to the part of the spectrum the solver
// has not resolved, which lies below the pairs it is resolving.
#pragma once

namespace cellshard {

// The residual ||A v - theta v|| at which a Ritz pair may count as converged:
// `strict`, unless theta lies within 1% of both neighbours `up` (the next
// larger Ritz value, +inf for none) and `down` (the next smaller, -inf for
// none in view); then the larger r with r^2 / (theta - floor) =
// value_tolerance x |theta|, `floor` being a Ritz value below the pairs being
// resolved. value_tolerance <= 0: always strict.
double pair_residual_bound(double theta, double up, double down, double floor, double strict,
                           double value_tolerance);

}  // namespace cellshard
