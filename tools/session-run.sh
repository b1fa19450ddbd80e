#!/bin/bash
# One device call (session 9, temporary): install, GPU reader tests, load breakdown, projection methods, steps under a budget.
set -u -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/rlib /tmp/d
source .devr/activate.sh
export MAKEFLAGS=-j$(nproc)
export CELLSHARD_SHARED_DATA=$PWD/.shared-data CELLSHARD_H5AD_FIXTURES=$PWD/.fixtures
T0=$(date +%s); stamp() { echo "== $* (+$(( $(date +%s) - T0 )) s)"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc; free -g | head -2
stamp install
if [ "${REUSE:-}" = 1 ] && [ -d /tmp/rlib/cellshard ]; then echo reusing; else
R CMD INSTALL --library=/tmp/rlib . > "$OUT/install.log" 2>&1 || { tail -30 "$OUT/install.log"; exit 1; }; fi
export R_LIBS=/tmp/rlib${R_LIBS:+:$R_LIBS}
(cp bench/pool_peak.c /tmp/ && cd /tmp && R CMD SHLIB -o pool_peak.so pool_peak.c > /dev/null)
for step in ${STEPS:-tests load pca budget}; do
case $step in
tests) stamp "tests ${TEST_FILTER:-readers|out-of-core|plot-layout}"
  CELLSHARD_TEST_FILTER="${TEST_FILTER:-readers|out-of-core|plot-layout}" timeout 400 Rscript tests/run-testthat.R > "$OUT/tests.log" 2>&1; tail -4 "$OUT/tests.log"; grep -B2 -A12 "Failure\|Error (" "$OUT/tests.log" | head -60 ;;
load) stamp "write atlas"
  timeout 200 Rscript -e 'suppressPackageStartupMessages(library(cellshard)); writeH5AD(simulateAtlas(1430156, seed = 1, devices = 0L), "/tmp/d/atlas.h5ad", overwrite = TRUE)'
  stamp "load parts"
  timeout 300 Rscript bench/load_parts.R /tmp/d/atlas.h5ad 0 2 "$OUT/load_parts.csv" ;;
pca) stamp "pca methods"
  timeout 300 Rscript bench/pca_methods.R 1430156 0 2>&1 | tee "$OUT/pca_methods.log" ;;
drivers) stamp "CUDA drivers"
  CELLSHARD_DRIVERS_ONLY=1 timeout 500 bash tools/gpu-check.sh quick 2>&1 | tail -5 ;;
budget) stamp "steps under 36.8GB"
  ISSUE8_BUDGET=36.8GB timeout 300 Rscript bench/gpu_steps.R 1430156 3 "$OUT/budget_steps.csv" /tmp/pool_peak.so 2>&1 | tail -30 ;;
esac
done
stamp done
