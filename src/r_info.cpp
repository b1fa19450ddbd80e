// Rcpp glue: what this build has and which devices it sees.
#include <Rcpp.h>
#include <hdf5.h>

#include "build_info.h"
#include "core/backend.h"
#include "core/parallel_for.h"
#include "r_handle.h"
#ifdef CELLSHARD_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/nccl_all_reduce.h"
#endif

using namespace cellshard;

// [[Rcpp::export]]
Rcpp::List cs_build_info() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  Rcpp::CharacterVector gpus;
#ifdef CELLSHARD_CUDA
  const bool cuda = true;
  for (int d = 0; d < gpu_count(); ++d) gpus.push_back(cuda_device_description(d));
  const std::string all_reduce = gpu_all_reduce_method();
#else
  const bool cuda = false;
  const std::string all_reduce = "none (no CUDA backend)";
#endif
  return Rcpp::List::create(
      Rcpp::_["cuda"] = cuda, Rcpp::_["cuda_version"] = std::string(CELLSHARD_BUILD_CUDA_VERSION),
      Rcpp::_["cuda_arch"] = std::string(CELLSHARD_BUILD_CUDA_ARCH),
      Rcpp::_["nccl"] = CELLSHARD_BUILD_NCCL, Rcpp::_["mpi_found"] = CELLSHARD_BUILD_MPI_FOUND,
      Rcpp::_["mpi_version"] = std::string(CELLSHARD_BUILD_MPI_VERSION),
      Rcpp::_["hdf5_version"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel),
      Rcpp::_["gpus"] = gpus, Rcpp::_["all_reduce"] = all_reduce,
      // configure's summary lines: what was found, or what to install
      Rcpp::_["notes"] = Rcpp::CharacterVector::create(
          Rcpp::_["HDF5"] = CELLSHARD_BUILD_HDF5_NOTE, Rcpp::_["CUDA"] = CELLSHARD_BUILD_CUDA_NOTE,
          Rcpp::_["NCCL"] = CELLSHARD_BUILD_NCCL_NOTE, Rcpp::_["MPI"] = CELLSHARD_BUILD_MPI_NOTE),
      Rcpp::_["cpu_threads"] = int(host_threads()));
}

// [[Rcpp::export]]
int cs_gpu_count() { return gpu_count(); }

// [[Rcpp::export]]
Rcpp::NumericMatrix cs_memory_info(Rcpp::IntegerVector devices) {
  CS_R_BEGIN
  Rcpp::NumericMatrix out(devices.size(), 2);
  for (R_xlen_t k = 0; k < devices.size(); ++k) {
    size_t free_bytes = 0, total = 0;
    memory_info(devices[k], &free_bytes, &total);
    out(k, 0) = double(free_bytes);
    out(k, 1) = double(total);
  }
  return out;
  CS_R_END
}
