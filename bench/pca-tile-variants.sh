#!/bin/bash
# computePCA with other versions of the Gram's tile kernel, on one GPU
# machine in one call (issue 8): installs the working tree and runs
# bench/pca_parts.R, then, for each file named in VARIANT_SRC, puts it in
# place of src/cuda/sparse_gram_tiles.cu, reinstalls (only that file is
# rebuilt), runs the CUDA driver test_pipeline_kernels against those objects
# (DRIVER_SRC: the driver's source, default the tree's) and pca_parts.R again.
# The working tree's file is put back at the end. Logs go to $OUT.
#   source .devr/activate.sh && VARIANT_SRC="a.cu b.cu" bash bench/pca-tile-variants.sh [n.cells] [reps]
set -u -o pipefail
LOGS=${OUT:-/tmp}
N=${1:-1430156}
REPS=${2:-3}
export MAKEFLAGS=-j$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr -DCELLSHARD_CUDA -DCELLSHARD_NCCL"
TILES=src/cuda/sparse_gram_tiles.cu
cp $TILES /tmp/tiles_of_tree.cu
SECONDS=0
nvcc $NVFLAGS -Xcompiler -fPIC -c ${DRIVER_SRC:-tests/cuda/test_pipeline_kernels.cu} \
  -o /tmp/test_pipeline_kernels.o > "$LOGS/driver_build.log" 2>&1 &
rm -f src/*.o src/*/*.o src/*.so  # a warm machine keeps objects newer than copied sources
run_tree() {  # $1: label
  local lib=/tmp/lib_$1
  mkdir -p $lib
  R CMD INSTALL --library=$lib . > "$LOGS/install_$1.log" 2>&1 || { tail -30 "$LOGS/install_$1.log"; return 1; }
  if [ "$1" != tree ]; then
    wait
    local libs="$(sed -n 's/^PKG_LIBS = //p' src/Makevars | sed 's/\$([A-Z_]*)//g') -L/usr/local/cuda/lib64 -lnccl"
    libs="$libs $(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
    g++ -o /tmp/driver_$1 /tmp/test_pipeline_kernels.o src/core/*.o src/cpu/*.o src/cuda/*.o $libs \
      >> "$LOGS/driver_build.log" 2>&1 || echo "link of the driver failed"
    echo "== $1: test_pipeline_kernels (${SECONDS} s)"
    timeout 200 /tmp/driver_$1 > "$LOGS/driver_$1.log" 2>&1
    echo "$(tail -1 "$LOGS/driver_$1.log")"; grep -E "FAILED|threw" "$LOGS/driver_$1.log" | head -10
  fi
  echo "== $1: Rscript bench/pca_parts.R $N 0 $REPS (${SECONDS} s)"
  R_LIBS=$lib${R_LIBS:+:$R_LIBS} Rscript bench/pca_parts.R $N 0 $REPS 2>&1 | tee "$LOGS/pca_parts_$1.txt"
}
run_tree tree || exit 1
for v in ${VARIANT_SRC:-}; do
  cp $v $TILES && touch $TILES
  run_tree $(basename $v .cu)
done
cp /tmp/tiles_of_tree.cu $TILES
echo "done in ${SECONDS} s"
