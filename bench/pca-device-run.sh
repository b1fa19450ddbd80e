#!/bin/bash
# One call on the GPU machine for PCA's methods (issue 8): install, the
# methods benchmark at 1,430,156 cells (bench/pca_methods.R), the Gram
# crossover sweep (bench/gram_methods.cu), then the CUDA pipeline driver and
# the R pipeline tests side by side, all within DEADLINE seconds (default
# 290). The drivers link the package's own objects (no second compile).
# Logs go to $OUT.
#   source .devr/activate.sh && bash bench/pca-device-run.sh [n.cells]
set -u -o pipefail
LOGS=${OUT:-/tmp}
DEADLINE=${DEADLINE:-290}
export MAKEFLAGS=-j$(nproc)
export CELLSHARD_SHARED_DATA=$PWD/.shared-data
[ -d .fixtures ] && export CELLSHARD_H5AD_FIXTURES=$PWD/.fixtures
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
left() { echo $(( DEADLINE - SECONDS > 5 ? DEADLINE - SECONDS : 5 )); }
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr -DCELLSHARD_CUDA -DCELLSHARD_NCCL"
SECONDS=0
nvcc $NVFLAGS -Xcompiler -fPIC -c tests/cuda/test_pipeline_kernels.cu -o /tmp/tpk.o > "$LOGS/drivers.log" 2>&1 &
nvcc $NVFLAGS -Xcompiler -fPIC -c bench/gram_methods.cu -o /tmp/gm.o >> "$LOGS/drivers.log" 2>&1 &
LIB=/tmp/rlib; mkdir -p $LIB
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -30 "$LOGS/install.log"; exit 1; }
wait
echo "built in ${SECONDS} s"
# the package's link flags (CUDA, MPI, HDF5), through g++ (nvcc refuses -Wl,...)
LIBS="$(sed -n 's/^PKG_LIBS = //p' src/Makevars | sed 's/\$([A-Z_]*)//g') -L/usr/local/cuda/lib64 -lnccl"
LIBS="$LIBS $(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
for d in tpk:test_pipeline_kernels gm:gram_methods; do
  g++ -o /tmp/${d#*:} /tmp/${d%%:*}.o src/core/*.o src/cpu/*.o src/cuda/*.o $LIBS >> "$LOGS/drivers.log" 2>&1 ||
    { echo "link of ${d#*:} failed"; tail -5 "$LOGS/drivers.log"; }
done
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
echo "== bench/pca_methods.R (${SECONDS} s)"
timeout 80 Rscript bench/pca_methods.R "${1:-1430156}" 0 2>&1 | tee "$LOGS/pca_methods.txt"
echo "== bench/gram_methods.cu (${SECONDS} s)"
timeout 35 /tmp/gram_methods 2>&1 | tee "$LOGS/gram_methods.txt"
echo "== CUDA pipeline driver and R pipeline tests (${SECONDS} s)"
timeout $(left) /tmp/test_pipeline_kernels > "$LOGS/test_pipeline_kernels.log" 2>&1 &
CELLSHARD_TEST_FILTER=${PCA_TEST_FILTER:-pipeline|gpu} timeout $(left) Rscript tests/run-testthat.R \
  > "$LOGS/tests.log" 2>&1
wait
grep -E "FAILED|passed|threw" "$LOGS/test_pipeline_kernels.log" | head -30
tail -2 "$LOGS/test_pipeline_kernels.log"
grep -E "^(Error|Failure)|passed|✖" "$LOGS/tests.log" | head -20
echo "done in ${SECONDS} s"
