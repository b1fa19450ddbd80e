// Rcpp glue for benchmarks and tests: where the GPU's last sparse Gram and
// last Chebyshev-filtered eigensolve spent their time (phases timed only with
// CELLSHARD_GRAM_PROFILE / CELLSHARD_CHEFSI_PROFILE set; zeros otherwise),
// and how many chunks of rows that Gram took.
#include <Rcpp.h>

#include "r_handle.h"
#ifdef CELLSHARD_CUDA
#include "cuda/chefsi_on_device.h"
#include "cuda/sparse_gram_tiles.h"
#endif

using namespace cellshard;

// [[Rcpp::export]]
SEXP cs_gpu_phase_report() {
  CS_R_BEGIN
#ifdef CELLSHARD_CUDA
  const SparseGramPhases g = sparse_gram_last_phases();
  const ChefsiReport c = last_chefsi_report();
  return Rcpp::List::create(
      Rcpp::_["gram"] = Rcpp::NumericVector::create(Rcpp::_["scales"] = g.scales,
                                                    Rcpp::_["layout"] = g.layout,
                                                    Rcpp::_["tiles"] = g.tiles,
                                                    Rcpp::_["finish"] = g.finish),
      Rcpp::_["gram_chunks"] = g.chunks,
      Rcpp::_["chefsi"] = Rcpp::List::create(
          Rcpp::_["converged"] = c.converged, Rcpp::_["sweeps"] = c.sweeps,
          Rcpp::_["products"] = double(c.products), Rcpp::_["max_residual"] = c.max_residual,
          Rcpp::_["bulk_locked"] = c.bulk_locked,
          Rcpp::_["sweep_degree"] = Rcpp::wrap(c.sweep_degree),
          Rcpp::_["sweep_active"] = Rcpp::wrap(c.sweep_active),
          Rcpp::_["sweep_locked"] = Rcpp::wrap(c.sweep_locked),
          Rcpp::_["seconds"] = Rcpp::NumericVector::create(
              Rcpp::_["start"] = c.seconds[0], Rcpp::_["filter"] = c.seconds[1],
              Rcpp::_["orthonormalize"] = c.seconds[2], Rcpp::_["rayleigh_ritz"] = c.seconds[3],
              Rcpp::_["finish"] = c.seconds[4])));
#else
  return R_NilValue;
#endif
  CS_R_END
}
