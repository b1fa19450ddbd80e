#include "cluster_collectives.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cluster.h"
#include "errors.h"
#ifdef CELLSHARD_MPI
#include <mpi.h>
#endif

namespace cellshard {

#ifdef CELLSHARD_MPI

namespace {

// Elements per MPI call: MPI counts are ints.
constexpr size_t kMaxCount = size_t(1) << 28;
constexpr int kGatherTag = 7301;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) cluster_fail(what, mpi_error_text(rc));
}

// The watchdog: polls the request until it completes or the timeout passes.
// Spins briefly (small collectives finish in microseconds), then sleeps
// between polls so that waiting ranks leave the cores to ranks still working.
void wait_for(MPI_Request* request, const char* what) {
  const double limit = cluster_state().timeout_seconds;
  const auto started = std::chrono::steady_clock::now();
  for (unsigned polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (waited > limit) {
      char text[64];
      std::snprintf(text, sizeof text, "%.0f", waited);
      cluster_fail(what, std::string("waited ") + text +
                             " s for the other ranks (the timeout of cellshardInit()): a rank has "
                             "died, hangs, or took another path through the script");
    }
    if (polls > 200) std::this_thread::sleep_for(std::chrono::microseconds(polls > 20000 ? 1000 : 50));
  }
}

template <class T>
void all_reduce(T* data, size_t n, MPI_Datatype type, MPI_Op op, const char* what) {
  if (!cluster_active()) return;
  cluster_check_usable(what);
  for (size_t at = 0; at < n; at += kMaxCount) {
    const int count = int(std::min(kMaxCount, n - at));
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, data + at, count, type, op, MPI_COMM_WORLD, &request), what);
    wait_for(&request, what);
  }
}

// Every rank's byte count, in rank order.
std::vector<int64_t> byte_counts(size_t mine, const char* what) {
  std::vector<int64_t> counts(size_t(cluster_size()), 0);
  int64_t value = int64_t(mine);
  MPI_Request request;
  check(MPI_Iallgather(&value, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, MPI_COMM_WORLD,
                       &request),
        what);
  wait_for(&request, what);
  return counts;
}

}  // namespace

void cluster_sum(double* data, size_t n, const char* what) {
  all_reduce(data, n, MPI_DOUBLE, MPI_SUM, what);
}

void cluster_sum(int64_t* data, size_t n, const char* what) {
  all_reduce(data, n, MPI_INT64_T, MPI_SUM, what);
}

void cluster_max(int64_t* data, size_t n, const char* what) {
  all_reduce(data, n, MPI_INT64_T, MPI_MAX, what);
}

void cluster_broadcast(void* data, size_t bytes, int root, const char* what) {
  if (!cluster_active()) return;
  cluster_check_usable(what);
  auto* p = static_cast<char*>(data);
  for (size_t at = 0; at < bytes; at += kMaxCount) {
    MPI_Request request;
    check(MPI_Ibcast(p + at, int(std::min(kMaxCount, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD,
                     &request),
          what);
    wait_for(&request, what);
  }
}

std::vector<std::vector<uint8_t>> cluster_gather(const std::vector<uint8_t>& mine, int root,
                                                 const char* what) {
  if (!cluster_active()) return {mine};
  cluster_check_usable(what);
  std::vector<int64_t> counts = byte_counts(mine.size(), what);
  const int me = cluster_rank();
  std::vector<std::vector<uint8_t>> out;
  if (me == root) {
    out.resize(counts.size());
    for (int r = 0; r < int(counts.size()); ++r) {
      if (r == me) {
        out[size_t(r)] = mine;
        continue;
      }
      out[size_t(r)].resize(size_t(counts[size_t(r)]));
      // Pieces from one sender arrive in order (MPI does not overtake).
      for (size_t at = 0; at < out[size_t(r)].size(); at += kMaxCount) {
        MPI_Request request;
        check(MPI_Irecv(out[size_t(r)].data() + at, int(std::min(kMaxCount, out[size_t(r)].size() - at)),
                        MPI_BYTE, r, kGatherTag, MPI_COMM_WORLD, &request),
              what);
        wait_for(&request, what);
      }
    }
  } else {
    for (size_t at = 0; at < mine.size(); at += kMaxCount) {
      MPI_Request request;
      check(MPI_Isend(mine.data() + at, int(std::min(kMaxCount, mine.size() - at)), MPI_BYTE, root,
                      kGatherTag, MPI_COMM_WORLD, &request),
            what);
      wait_for(&request, what);
    }
  }
  return out;
}

std::vector<std::vector<uint8_t>> cluster_allgather(const std::vector<uint8_t>& mine,
                                                    const char* what) {
  if (!cluster_active()) return {mine};
  cluster_check_usable(what);
  std::vector<int64_t> counts = byte_counts(mine.size(), what);
  std::vector<std::vector<uint8_t>> out(counts.size());
  for (int r = 0; r < int(counts.size()); ++r) {
    out[size_t(r)] = r == cluster_rank() ? mine : std::vector<uint8_t>(size_t(counts[size_t(r)]));
    cluster_broadcast(out[size_t(r)].data(), out[size_t(r)].size(), r, what);
  }
  return out;
}

void cluster_barrier(const char* what) {
  if (!cluster_active()) return;
  cluster_check_usable(what);
  MPI_Request request;
  check(MPI_Ibarrier(MPI_COMM_WORLD, &request), what);
  wait_for(&request, what);
}

#else  // built without MPI: a job of one rank

void cluster_sum(double*, size_t, const char*) {}
void cluster_sum(int64_t*, size_t, const char*) {}
void cluster_max(int64_t*, size_t, const char*) {}
void cluster_broadcast(void*, size_t, int, const char*) {}
std::vector<std::vector<uint8_t>> cluster_gather(const std::vector<uint8_t>& mine, int,
                                                 const char*) {
  return {mine};
}
std::vector<std::vector<uint8_t>> cluster_allgather(const std::vector<uint8_t>& mine,
                                                    const char*) {
  return {mine};
}
void cluster_barrier(const char*) {}

#endif

int64_t cluster_sum(int64_t value, const char* what) {
  cluster_sum(&value, 1, what);
  return value;
}

}  // namespace cellshard
