// Rcpp glue: the CPU backend's eigensolver on a matrix held in R, so that the
// tests can hold it to base R's eigen() directly.
#include <Rcpp.h>

#include "cpu/symmetric_eigen.h"
#include "r_handle.h"

using namespace cellshard;

// [[Rcpp::export]]
Rcpp::List cs_host_top_eigen(Rcpp::NumericMatrix a, int k, std::string method) {
  CS_R_BEGIN
  const int64_t n = a.nrow();
  CS_CHECK(a.ncol() == n, "the matrix must be square");
  CS_CHECK(k >= 1 && k <= n, "k must lie in 1..n");
  std::vector<double> work(a.begin(), a.end()), values(static_cast<size_t>(k)),
      vectors(size_t(n) * size_t(k));
  std::string used = symmetric_top_eigen(work.data(), n, k, values.data(), vectors.data(), method);
  Rcpp::NumericMatrix v(int(n), k);
  std::copy(vectors.begin(), vectors.end(), v.begin());
  return Rcpp::List::create(Rcpp::_["values"] = Rcpp::wrap(values), Rcpp::_["vectors"] = v,
                            Rcpp::_["method"] = used);
  CS_R_END
}
