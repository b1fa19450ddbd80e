#include "cluster.h"

#include <cstdint>
#include <vector>

#include "errors.h"
#ifdef CELLSHARD_MPI
#include <dlfcn.h>
#include <mpi.h>
#endif

namespace cellshard {

namespace {

ClusterState& state() {
  static ClusterState s;
  return s;
}

// Whether cellshard called MPI_Init (then it also calls MPI_Finalize); MPI
// started by another package (Rmpi, pbdMPI) is used but left to its owner.
bool& owns_mpi() {
  static bool owns = false;
  return owns;
}

std::string rank_label() {
  const ClusterState& s = state();
  return "MPI rank " + std::to_string(s.rank) + " of " + std::to_string(s.size) +
         (s.host.empty() ? "" : " (" + s.host + ")");
}

}  // namespace

ClusterState cluster_state() { return state(); }
bool cluster_active() { return state().active; }
int cluster_rank() { return state().rank; }
int cluster_size() { return state().size; }

void cluster_set_timeout(double timeout_seconds) {
  if (!(timeout_seconds > 0)) throw Error("the MPI timeout must be a positive number of seconds");
  state().timeout_seconds = timeout_seconds;
}

void cluster_set_nccl(int device) {
  state().nccl = device >= 0;
  state().nccl_device = device;
}

void cluster_fail(const std::string& what, const std::string& why) {
  state().broken = true;
  throw Error("cellshard, " + rank_label() + ", in " + what + ": " + why);
}

void cluster_check_usable(const char* what) {
  if (state().broken)
    throw Error("cellshard, " + rank_label() + ": " + what +
                " is not possible: an earlier collective of this MPI job failed, so the ranks "
                "are out of step; the job has to be started again");
}

#ifdef CELLSHARD_MPI

bool mpi_built() { return true; }

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, size_t(len));
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string v(text, size_t(len));
  size_t cut = v.find_first_of(",\n");
  return cut == std::string::npos ? v : v.substr(0, cut);
}

namespace {

// R loads cellshard.so with RTLD_LOCAL, so libmpi (its dependency) is not
// global either; Open MPI's plugins, opened later by MPI_Init, need libmpi's
// symbols globally (the same step Rmpi and pbdMPI take). Reopening the
// already-loaded library with RTLD_GLOBAL | RTLD_NOLOAD promotes it.
void promote_mpi_library() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(std::string("cellshard: ") + what + " failed: " + mpi_error_text(rc));
}

// This rank's place among the ranks with the same host name. Runs once at
// start-up, a blocking collective (every rank is inside cluster_start).
void learn_node(ClusterState& s) {
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  s.host.assign(name, size_t(len));
  std::vector<char> all(size_t(s.size) * MPI_MAX_PROCESSOR_NAME, 0);
  check(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME,
                      MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgather of the host names");
  s.local_rank = 0;
  s.local_size = 0;
  for (int r = 0; r < s.size; ++r) {
    std::string other(all.data() + size_t(r) * MPI_MAX_PROCESSOR_NAME);
    if (other != s.host) continue;
    if (r < s.rank) ++s.local_rank;
    ++s.local_size;
  }
}

}  // namespace

void cluster_start(double timeout_seconds) {
  cluster_set_timeout(timeout_seconds);
  ClusterState& s = state();
  if (s.active) return;
  int finalized = 0, initialized = 0;
  MPI_Finalized(&finalized);
  if (finalized)
    throw Error("MPI has already been finished in this R session; start a new R process");
  MPI_Initialized(&initialized);
  if (!initialized) {
    promote_mpi_library();
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_mpi() = true;
  }
  // Errors come back as codes (and become R errors) instead of ending the job
  // from inside MPI, so that the message says what cellshard was doing.
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &s.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &s.size), "MPI_Comm_size");
  learn_node(s);
  s.active = true;
  s.broken = false;
}

void cluster_finish() {
  ClusterState& s = state();
  if (!s.active) return;
  if (s.broken) cluster_abort(1);
  s.active = false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_mpi() && !finalized) MPI_Finalize();
}

void cluster_abort(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  throw Error("cellshard: MPI_Abort returned; the job could not be ended");
}

#else  // built without MPI

bool mpi_built() { return false; }
std::string mpi_error_text(int) { return ""; }
std::string mpi_library_version() { return ""; }

void cluster_start(double) {
  throw Error("this build of cellshard has no MPI: configure found no mpicc when it was "
              "installed. Install MPI (Debian: apt-get install libopenmpi-dev openmpi-bin) and "
              "reinstall cellshard; see cellshardInfo()");
}

void cluster_finish() {}

void cluster_abort(int) { throw Error("this build of cellshard has no MPI, so there is no job to end"); }

#endif

}  // namespace cellshard
