#!/bin/bash
# One call on the GPU machine for the sparse Gram's tile kernel (issue 8):
# installs the package (its objects serve the drivers, as in
# pca-device-run.sh), builds bench/gram_kernel.cu and the CUDA drivers, then,
# in order of need and within DEADLINE seconds (default 340): the old/new
# kernel bench at the share (bench/gram_kernel.cu), Nsight Compute on both
# tile kernels of a one-chunk shard (when ncu is there; NCU=0 skips), the
# methods' crossover sweep (bench/gram_methods.cu; METHODS=0 skips), the CUDA drivers (test_backend, test_pipeline_kernels), and PCA's methods on the
# real matrix (bench/pca_methods.R; PCA=0 skips). NCU_SOURCE=1: Nsight
# Compute's per-instruction counts of the package's tile kernel, summarised by
# bench/sass_counts.py. DENSE_SPLIT=1: bench/gram_dense_split.cu first (the
# dense block of the frequent genes on the int8 tensor cores); GRAM_BENCH=0
# and DRIVERS=0 skip the kernel bench and the drivers. VARIANT_SRC="file ...": each
# such version of sparse_gram_tiles.cu joins the bench as a third method, one
# bench run each. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/gram-device-run.sh
set -u -o pipefail
LOGS=${OUT:-/tmp}
DEADLINE=${DEADLINE:-340}
export MAKEFLAGS=-j$(nproc)
export CELLSHARD_SHARED_DATA=$PWD/.shared-data
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
left() { echo $(( DEADLINE - SECONDS > 5 ? DEADLINE - SECONDS : 5 )); }
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr -DCELLSHARD_CUDA -DCELLSHARD_NCCL"
SECONDS=0
DENSE=(); [ "${DENSE_SPLIT:-0}" != 0 ] && DENSE=(gram_dense_split:bench)
for d in gram_kernel:bench "${DENSE[@]}" gram_methods:bench test_pipeline_kernels:tests/cuda test_backend:tests/cuda; do
  nvcc $NVFLAGS -Xcompiler -fPIC -c ${d#*:}/${d%%:*}.cu -o /tmp/${d%%:*}.o >> "$LOGS/drivers.log" 2>&1 &
done
VARIANTS=(${VARIANT_SRC:-})
for i in "${!VARIANTS[@]}"; do  # other versions of the tile file, each as a third method
  nvcc $NVFLAGS -Xcompiler -fPIC -Isrc/cuda -c ${VARIANTS[$i]} -o /tmp/variant_$i.o \
    -Dsparse_gram_lower=variant_sparse_gram_lower -Dsparse_gram_last_phases=variant_sparse_gram_last_phases \
    -Dsparse_gram_is_faster=variant_sparse_gram_is_faster \
    -Dgram_work_on_device=variant_gram_work_on_device >> "$LOGS/drivers.log" 2>&1 &
done
[ ${#VARIANTS[@]} -gt 0 ] && { nvcc $NVFLAGS -DGRAM_BENCH_VARIANT -Xcompiler -fPIC -c bench/gram_kernel.cu \
  -o /tmp/gram_kernel_v.o >> "$LOGS/drivers.log" 2>&1 & }
[ ${#DENSE[@]} -gt 0 ] && { nvcc $NVFLAGS -Xcompiler -fPIC -Isrc/cuda -DCELLSHARD_GRAM_BENCH_SKIP_PANELS \
  -c src/cuda/sparse_gram_tiles.cu -o /tmp/skip_panels.o -Dsparse_gram_lower=skip_sparse_gram_lower \
  -Dsparse_gram_last_phases=skip_sparse_gram_last_phases -Dsparse_gram_is_faster=skip_sparse_gram_is_faster \
  -Dgram_work_on_device=skip_gram_work_on_device >> "$LOGS/drivers.log" 2>&1 & }
nvcc $NVFLAGS -Xptxas -v -c src/cuda/sparse_gram_tiles.cu -o /tmp/sgt_resources.o > "$LOGS/ptxas.log" 2>&1 &
LIB=/tmp/rlib; mkdir -p $LIB
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -30 "$LOGS/install.log"; exit 1; }
wait
echo "built in ${SECONDS} s"
grep -A3 gram_tile "$LOGS/ptxas.log" | grep -E "Used|spill" | sed 's/^ptxas info *: //'
LIBS="$(sed -n 's/^PKG_LIBS = //p' src/Makevars | sed 's/\$([A-Z_]*)//g') -L/usr/local/cuda/lib64 -lnccl"
LIBS="$LIBS $(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
for d in gram_kernel gram_methods test_pipeline_kernels test_backend; do
  g++ -o /tmp/$d /tmp/$d.o src/core/*.o src/cpu/*.o src/cuda/*.o $LIBS >> "$LOGS/drivers.log" 2>&1 ||
    { echo "link of $d failed"; tail -5 "$LOGS/drivers.log"; }
done
if [ ${#DENSE[@]} -gt 0 ]; then
  g++ -o /tmp/gram_dense_split /tmp/gram_dense_split.o /tmp/skip_panels.o src/core/*.o src/cpu/*.o \
    src/cuda/*.o $LIBS >> "$LOGS/drivers.log" 2>&1 || echo "link of gram_dense_split failed"
  echo "== bench/gram_dense_split.cu (${SECONDS} s)"
  timeout $(left) /tmp/gram_dense_split 1430156 5000 0.035 ${REPS:-3} ${DENSE_P:-4,6,8,10} 2>&1 |
    tee "$LOGS/gram_dense_split.txt"
fi
BENCHES=(/tmp/gram_kernel)
[ "${GRAM_BENCH:-1}" = 0 ] && BENCHES=()
for i in "${!VARIANTS[@]}"; do
  g++ -o /tmp/gram_kernel_$i /tmp/gram_kernel_v.o /tmp/variant_$i.o src/core/*.o src/cpu/*.o \
    src/cuda/*.o $LIBS >> "$LOGS/drivers.log" 2>&1 || echo "link of the bench of ${VARIANTS[$i]} failed"
  BENCHES[$i]=/tmp/gram_kernel_$i
done
for i in "${!BENCHES[@]}"; do
  echo "== bench/gram_kernel.cu${VARIANTS[$i]:+, variant ${VARIANTS[$i]}} (${SECONDS} s)"
  timeout $(left) ${BENCHES[$i]} 1430156 5000 0.035 ${REPS:-3} 2>&1 | tee "$LOGS/gram_kernel_$i.txt"
done
if [ "${NCU:-1}" != 0 ] && command -v ncu > /dev/null; then
  echo "== ncu, tile kernels (NCU_SKIP=1: the new one only), 300,000 skewed rows (${SECONDS} s)"
  timeout $(left) ncu -k regex:gram_tile --launch-skip ${NCU_SKIP:-0} --launch-count $((2 - ${NCU_SKIP:-0})) --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section MemoryWorkloadAnalysis_Tables --section ComputeWorkloadAnalysis \
    /tmp/gram_kernel 300000 5000 0.035 1 skewed > "$LOGS/ncu.txt" 2>&1
  grep -E "gram_tile|Duration|Throughput|Bank|Issue Slots|Stall|Achieved Occ|Warp Cycles" "$LOGS/ncu.txt" | head -40
fi
if [ "${NCU_SOURCE:-0}" != 0 ] && command -v ncu > /dev/null; then
  # Per-instruction counts of the package's tile kernel (300,000 uniform
  # rows): tile_source.csv, summarised by bench/sass_counts.py.
  echo "== ncu source counters, the package's tile kernel, 300,000 uniform rows (${SECONDS} s)"
  timeout $(left) ncu -k regex:gram_tile --launch-skip 1 --launch-count 1 --section SourceCounters \
    --section InstructionStats --section WarpStateStats --section SpeedOfLight -o /tmp/tile_source -f \
    /tmp/gram_kernel 300000 5000 0.035 1 uniform > "$LOGS/ncu_source.log" 2>&1
  ncu -i /tmp/tile_source.ncu-rep --page source --csv --print-source sass > "$LOGS/tile_source.csv" 2> /dev/null
  python3 bench/sass_counts.py "$LOGS/tile_source.csv" 1.0 | head -40
fi
if [ "${METHODS:-1}" != 0 ]; then
  echo "== bench/gram_methods.cu, 100,000 rows (${SECONDS} s)"
  timeout 60 /tmp/gram_methods 2>&1 | tee "$LOGS/gram_methods.txt"
fi
[ "${DRIVERS:-1}" = 0 ] && { echo "done in ${SECONDS} s"; exit 0; }
echo "== CUDA drivers (${SECONDS} s)"
for d in test_backend test_pipeline_kernels; do
  timeout $(left) /tmp/$d > "$LOGS/$d.log" 2>&1 &
done
wait
for d in test_backend test_pipeline_kernels; do
  echo "$d: $(grep -cE "FAILED" "$LOGS/$d.log") FAILED lines; $(tail -1 "$LOGS/$d.log")"
  grep -E "FAILED|threw" "$LOGS/$d.log" | head -10
done
if [ "${PCA:-1}" != 0 ] && [ $(left) -gt 60 ]; then
  echo "== bench/pca_methods.R (${SECONDS} s)"
  R_LIBS=$LIB${R_LIBS:+:$R_LIBS} timeout $(left) Rscript bench/pca_methods.R 1430156 0 2>&1 |
    tee "$LOGS/pca_methods.txt"
fi
echo "done in ${SECONDS} s"
