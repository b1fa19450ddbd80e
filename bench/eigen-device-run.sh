#!/bin/bash
# One call on the GPU machine for PCA's eigensolvers (issue 8): builds the
# package objects as tools/gpu-check.sh does, then bench/eigen_methods.cu
# (syevdx against chefsi and Lanczos at 5,000 genes, k = 100, and the
# crossover sizes), then the CUDA pipeline driver (its chefsi cases among
# them), all within DEADLINE seconds (default 400). With PCA_METHODS=1 also
# installs the package and runs bench/pca_methods.R on the seed pipeline's
# matrix. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/eigen-device-run.sh
set -u -o pipefail
LOGS=${OUT:-/tmp}
DEADLINE=${DEADLINE:-400}
left() { echo $(( DEADLINE - SECONDS > 5 ? DEADLINE - SECONDS : 5 )); }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
DEFS="-DCELLSHARD_CUDA -DCELLSHARD_NCCL"
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr $DEFS"
R_CPP=$(R CMD config --cppflags)
R_LAPACK="$(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
OBJ=/tmp/cs_obj; rm -rf $OBJ; mkdir -p $OBJ
SECONDS=0
for f in src/cuda/*.cu; do nvcc $NVFLAGS -c $f -o $OBJ/cuda_$(basename $f .cu).o 2>>"$LOGS/build.log" & done
for f in src/core/*.cpp src/cpu/*.cpp; do
  d=$(basename $(dirname $f))
  g++ -std=c++17 -O2 $DEFS $R_CPP -I/usr/local/cuda/include -c $f -o $OBJ/${d}_$(basename $f .cpp).o 2>>"$LOGS/build.log" &
done
nvcc $NVFLAGS -c tests/cuda/test_pipeline_kernels.cu -o /tmp/tpk.o 2>>"$LOGS/build.log" &
nvcc $NVFLAGS -c bench/eigen_methods.cu -o /tmp/em.o 2>>"$LOGS/build.log" &
wait
for d in tpk:test_pipeline_kernels em:eigen_methods; do
  nvcc $NVFLAGS -o /tmp/${d#*:} /tmp/${d%%:*}.o $OBJ/*.o -lcusolver -lcublas -lnccl -lcudart \
    $R_LAPACK -lpthread 2>>"$LOGS/build.log" || echo "link of ${d#*:} failed"
done
echo "built in ${SECONDS} s"; grep -E "error" "$LOGS/build.log" | head -20
echo "== bench/eigen_methods.cu (${SECONDS} s)"
timeout ${BENCH_LIMIT:-150} /tmp/eigen_methods ${BENCH_ARGS:-} 2>&1 | tee "$LOGS/eigen_methods.txt"
if [ -n "${PCA_METHODS:-}" ]; then
  echo "== bench/pca_methods.R (${SECONDS} s)"
  LIB=/tmp/rlib; mkdir -p $LIB
  MAKEFLAGS=-j$(nproc) R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || tail -20 "$LOGS/install.log"
  R_LIBS=$LIB${R_LIBS:+:$R_LIBS} timeout 120 Rscript bench/pca_methods.R 1430156 0 2>&1 | tee "$LOGS/pca_methods.txt"
fi
echo "== CUDA pipeline driver (${SECONDS} s)"
timeout $(left) /tmp/test_pipeline_kernels > "$LOGS/test_pipeline_kernels.log" 2>&1
echo "exit $?"
grep -E "FAILED|threw|chefsi" "$LOGS/test_pipeline_kernels.log" | head -60
tail -1 "$LOGS/test_pipeline_kernels.log"
echo "done in ${SECONDS} s"
