#!/bin/bash
# What the lead runs on the GPU machine before resolving an issue: builds the
# package with the CUDA backend, runs the CUDA backend driver and the R test
# suite on the GPU, and both again under compute-sanitizer memcheck.
# Usage (device machine, repo root; .devr from ../shared/tools/device-r-bundle):
#   source .devr/activate.sh && bash tools/gpu-check.sh [all|quick|memcheck]
# quick: drivers and R tests; memcheck: only the compute-sanitizer runs
# (building first when a fresh machine has no build yet); all: both.
# CELLSHARD_DRIVERS_ONLY=1: only the CUDA drivers, no R.
# The drivers run with API-error reports off: they provoke some on purpose
# (out-of-memory, a missing device) and every call is checked anyway. The R
# run keeps them (with them off, compute-sanitizer crashed starting Rscript,
# 2026-11-25): expect the deliberate out-of-memory reports of the lifetime
# tests' cs_probe_allocation there and nothing else (8 on 2026-11-26: four
# probes, each reported at the failed cudaMallocAsync and the check after it).
# Logs go to $OUT when set (the device tool brings them back), else /tmp.
# The whole R suite on the GPU outlasts one device call (600 s; 2026-11-27:
# mpi 137 s, out-of-core 57 s): run it in two calls, with
# CELLSHARD_TEST_FILTER="^(cell|eigen|gpu|host|hvg|info|interop|lifetime|matrix|mpi|out)"
# and then "pca|pipeline|plot|progress|readers|sce|synthetic".
set -u -o pipefail
LOGS=${OUT:-/tmp}
export MAKEFLAGS=-j$(nproc)
export CELLSHARD_SHARED_DATA=${CELLSHARD_SHARED_DATA:-$PWD/.shared-data}
[ -d .fixtures ] && export CELLSHARD_H5AD_FIXTURES=$PWD/.fixtures
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
status=0
MODE=${1:-all}

echo "== CUDA drivers (tests/cuda)"
DEFS="-DCELLSHARD_CUDA -DCELLSHARD_NCCL"
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr $DEFS"
# The CPU eigensolver uses R's LAPACK header and library.
R_CPP=$(R CMD config --cppflags)
R_LAPACK="$(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
OBJ=/tmp/cs_obj; rm -rf $OBJ; mkdir -p $OBJ
# objects named dir_file.o: core/ and cuda/ both have a pipeline_kernels
for f in src/cuda/*.cu; do nvcc $NVFLAGS -c $f -o $OBJ/cuda_$(basename $f .cu).o & done
for f in src/core/*.cpp src/cpu/*.cpp; do
  d=$(basename $(dirname $f))
  g++ -std=c++17 -O2 $DEFS $R_CPP -I/usr/local/cuda/include -c $f -o $OBJ/${d}_$(basename $f .cpp).o &
done
wait
for driver in test_backend test_pipeline_kernels; do
  nvcc $NVFLAGS -o /tmp/$driver tests/cuda/$driver.cu $OBJ/*.o -lcusolver -lcublas -lnccl -lcudart \
    $R_LAPACK -lpthread 2>&1 | tail -5
  [ $MODE = memcheck ] && continue
  /tmp/$driver > "$LOGS/$driver.log" 2>&1 || status=1
  echo "$driver: $(tail -1 "$LOGS/$driver.log")"
done

# With CELLSHARD_DRIVERS_ONLY, no R install and no R tests, in any mode.
if [ -z "${CELLSHARD_DRIVERS_ONLY:-}" ]; then
  LIB=/tmp/rlib; mkdir -p $LIB
  if [ -z "${CELLSHARD_INSTALLED:-}" ]; then  # set by a caller that just installed into $LIB
    echo "== R CMD INSTALL"
    R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -40 "$LOGS/install.log"; exit 1; }
    sed -n "/^cellshard configuration/,/^  MPI/p" "$LOGS/install.log"
  fi
  export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
  Rscript -e 'suppressPackageStartupMessages(library(cellshard)); cellshardInfo()'

  if [ $MODE != memcheck ]; then
    echo "== R tests on the GPU"
    Rscript tests/run-testthat.R > "$LOGS/tests.log" 2>&1 || status=1
    grep -E "^(Error|Failure|Skip)|passed" "$LOGS/tests.log" | head -40
  fi
fi
[ $MODE = quick ] && exit $status
echo "== compute-sanitizer memcheck: CUDA drivers"
compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 3 /tmp/test_backend > "$LOGS/memcheck_backend.log" 2>&1 || status=1
tail -2 "$LOGS/memcheck_backend.log"
compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 3 /tmp/test_pipeline_kernels --quick > "$LOGS/memcheck_pipeline.log" 2>&1 || status=1
tail -2 "$LOGS/memcheck_pipeline.log"
[ -n "${CELLSHARD_DRIVERS_ONLY:-}" ] && exit $status  # no R install or R runs
echo "== compute-sanitizer memcheck: R tests"
# the files that run device kernels (readers' fuzzing and host-only files skipped)
CELLSHARD_TEST_FILTER=${MEMCHECK_FILTER:-"gpu|matrix|sce|pipeline|hvg-verbs|lifetime|synthetic"} \
  CELLSHARD_UNDER_SANITIZER=1 compute-sanitizer --tool memcheck --error-exitcode 3 \
  --target-processes all \
  Rscript tests/run-testthat.R > "$LOGS/memcheck_tests.log" 2>&1 || status=1
grep -E "ERROR SUMMARY|passed" "$LOGS/memcheck_tests.log" | tail -3
echo "== compute-sanitizer racecheck: the kernel with shared memory (synthetic atlas)"
CELLSHARD_TEST_FILTER=synthetic CELLSHARD_UNDER_SANITIZER=1 compute-sanitizer --tool racecheck \
  --error-exitcode 3 --target-processes all Rscript tests/run-testthat.R \
  > "$LOGS/racecheck_synthetic.log" 2>&1 || status=1
grep -E "RACECHECK SUMMARY|ERROR SUMMARY|passed" "$LOGS/racecheck_synthetic.log" | tail -3
exit $status
