// Rcpp glue for the MPI job (core/cluster*.h): starting and ending it, this
// rank's place and GPUs, and the collectives R code needs (sums of numbers,
// and gathers / broadcasts of serialised R objects as raw vectors).
#include <Rcpp.h>

#include "core/backend.h"
#include "core/cluster.h"
#include "core/cluster_collectives.h"
#include "core/cluster_gpus.h"
#include "r_handle.h"

using namespace cellshard;

namespace {

Rcpp::List state_list() {
  ClusterState s = cluster_state();
  return Rcpp::List::create(
      Rcpp::_["active"] = s.active, Rcpp::_["rank"] = s.rank, Rcpp::_["size"] = s.size,
      Rcpp::_["local_rank"] = s.local_rank, Rcpp::_["local_size"] = s.local_size,
      Rcpp::_["host"] = s.host, Rcpp::_["timeout"] = s.timeout_seconds,
      Rcpp::_["nccl"] = s.nccl, Rcpp::_["broken"] = s.broken);
}

std::vector<uint8_t> bytes_of(const Rcpp::RawVector& x) { return std::vector<uint8_t>(x.begin(), x.end()); }

Rcpp::RawVector raw_of(const std::vector<uint8_t>& b) { return Rcpp::RawVector(b.begin(), b.end()); }

}  // namespace

// list(active, rank, size, local_rank, local_size, host, timeout, nccl, broken).
// [[Rcpp::export]]
Rcpp::List cs_cluster_state() { return state_list(); }

// [[Rcpp::export]]
bool cs_mpi_built() { return mpi_built(); }

// [[Rcpp::export]]
std::string cs_mpi_library_version() { return mpi_library_version(); }

// Starts MPI (or only sets the timeout when it runs already); the state.
// [[Rcpp::export]]
Rcpp::List cs_cluster_start(double timeout) {
  CS_R_BEGIN
  cluster_start(timeout);
  return state_list();
  CS_R_END
}

// [[Rcpp::export]]
void cs_cluster_finish() {
  CS_R_BEGIN
  cluster_finish();
  CS_R_END
}

// [[Rcpp::export]]
void cs_cluster_abort(int code) {
  CS_R_BEGIN
  cluster_abort(code);
  CS_R_END
}

// The GPUs (0-based) this rank takes of the `visible` it sees (collective).
// [[Rcpp::export]]
Rcpp::IntegerVector cs_cluster_assign_gpus(int visible) {
  CS_R_BEGIN
  std::vector<int> mine = cluster_assign_gpus(visible);
  return Rcpp::IntegerVector(mine.begin(), mine.end());
  CS_R_END
}

// Collective: the NCCL communicator over the ranks on `device` (-1: this
// rank has no GPU, so none is built anywhere). Whether it was built.
// [[Rcpp::export]]
bool cs_cluster_open_nccl(int device) {
  CS_R_BEGIN
  return cluster_open_nccl(device);
  CS_R_END
}

// Element-wise sum over the ranks.
// [[Rcpp::export]]
Rcpp::NumericVector cs_cluster_sum(Rcpp::NumericVector x, std::string what) {
  CS_R_BEGIN
  std::vector<double> v(x.begin(), x.end());
  cluster_sum(v.data(), v.size(), what.c_str());
  return Rcpp::NumericVector(v.begin(), v.end());
  CS_R_END
}

// Every rank's bytes on `root` (a list in rank order), NULL on the others.
// [[Rcpp::export]]
SEXP cs_cluster_gather(Rcpp::RawVector bytes, int root, std::string what) {
  CS_R_BEGIN
  std::vector<std::vector<uint8_t>> all = cluster_gather(bytes_of(bytes), root, what.c_str());
  if (cluster_active() && cluster_rank() != root) return R_NilValue;
  Rcpp::List out(all.size());
  for (size_t r = 0; r < all.size(); ++r) out[R_xlen_t(r)] = raw_of(all[r]);
  return out;
  CS_R_END
}

// Every rank's bytes on every rank (a list in rank order).
// [[Rcpp::export]]
Rcpp::List cs_cluster_allgather(Rcpp::RawVector bytes, std::string what) {
  CS_R_BEGIN
  std::vector<std::vector<uint8_t>> all = cluster_allgather(bytes_of(bytes), what.c_str());
  Rcpp::List out(all.size());
  for (size_t r = 0; r < all.size(); ++r) out[R_xlen_t(r)] = raw_of(all[r]);
  return out;
  CS_R_END
}

// `root`'s bytes on every rank (the others' `bytes` are ignored).
// [[Rcpp::export]]
Rcpp::RawVector cs_cluster_broadcast(Rcpp::RawVector bytes, int root, std::string what) {
  CS_R_BEGIN
  std::vector<uint8_t> b = bytes_of(bytes);
  int64_t n = int64_t(b.size());
  cluster_broadcast(&n, sizeof n, root, what.c_str());
  b.resize(size_t(n));
  cluster_broadcast(b.data(), b.size(), root, what.c_str());
  return raw_of(b);
  CS_R_END
}

// The sharing rule of cluster_assign_gpus without MPI (for tests): ranks'
// hosts, their visible GPUs' bus ids, and the rank asked about.
// [[Rcpp::export]]
Rcpp::IntegerVector cs_assign_rank_gpus(Rcpp::CharacterVector hosts, Rcpp::List bus_ids, int rank) {
  CS_R_BEGIN
  std::vector<RankGpus> all(hosts.size());
  for (R_xlen_t r = 0; r < hosts.size(); ++r) {
    all[size_t(r)].host = Rcpp::as<std::string>(hosts[r]);
    all[size_t(r)].bus_ids = Rcpp::as<std::vector<std::string>>(bus_ids[r]);
  }
  std::vector<int> mine = assign_rank_gpus(all, rank);
  return Rcpp::IntegerVector(mine.begin(), mine.end());
  CS_R_END
}
