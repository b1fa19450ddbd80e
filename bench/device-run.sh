#!/bin/bash
# One call on the GPU machine: install, the seed-share benchmark, then the GPU
# checks (CUDA drivers + R tests). Logs go to $OUT.
#   source .devr/activate.sh && bash bench/device-run.sh [n.cells] [bench seconds] [quick|memcheck|all]
set -u -o pipefail
LOGS=${OUT:-/tmp}
export MAKEFLAGS=-j$(nproc)
LIB=/tmp/rlib; mkdir -p $LIB
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -40 "$LOGS/install.log"; exit 1; }
sed -n "/^cellshard configuration/,/^  MPI/p" "$LOGS/install.log"
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
echo "== bench/seed_share.R"
timeout "${2:-240}" Rscript bench/seed_share.R "${1:-1430156}" 2>&1 | tee "$LOGS/seed_share.txt"
echo "== GPU checks"
CELLSHARD_INSTALLED=1 bash tools/gpu-check.sh "${3:-quick}" 2>&1 | tee "$LOGS/gpu-check.txt"
