#!/bin/bash
# One call on the GPU machine for PCA's floors (issue 8): installs the
# package, builds bench/pca_floors.cu, then in one run on one card: the dense
# Gram on tensor cores and the tile kernel's shared-memory floor
# (bench/pca_floors.cu), computePCA statement by statement (bench/pca_parts.R)
# and every Gram / eigensolver pair on the seed matrix (bench/pca_methods.R).
# Logs go to $OUT.
#   source .devr/activate.sh && bash bench/pca-floors-run.sh [n.cells]
set -u -o pipefail
LOGS=${OUT:-/tmp}
CELLS=${1:-1430156}
export MAKEFLAGS=-j$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
SECONDS=0
nvcc -O2 -std=c++17 -gencode=arch=compute_90,code=sm_90 -o /tmp/pca_floors bench/pca_floors.cu \
  -lcublas > "$LOGS/pca_floors_build.log" 2>&1 &
LIB=/tmp/rlib; mkdir -p $LIB
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -30 "$LOGS/install.log"; exit 1; }
wait
echo "built in ${SECONDS} s"
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
echo "== bench/pca_floors.cu (${SECONDS} s)"
# the seed matrix's rows after the filter (2 of the 1,430,156 cells go); the
# products of gram_kernel.cu's uniform shard, whose tile time is known
timeout 150 /tmp/pca_floors $(( CELLS - 2 )) ${PRODUCTS:-2.2e10} 3 2>&1 | tee "$LOGS/pca_floors.txt"
echo "== bench/pca_parts.R (${SECONDS} s)"
timeout 150 Rscript bench/pca_parts.R "$CELLS" 0 3 2>&1 | tee "$LOGS/pca_parts.txt"
echo "== bench/pca_methods.R (${SECONDS} s)"
timeout 150 Rscript bench/pca_methods.R "$CELLS" 0 2>&1 | tee "$LOGS/pca_methods.txt"
echo "done in ${SECONDS} s"
