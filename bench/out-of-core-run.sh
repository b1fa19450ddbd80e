#!/bin/bash
# One call on the GPU machine for issue 7: install, the out-of-core tests on
# the GPU, then bench/out_of_core.R. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/out-of-core-run.sh [n.cells] [budget] [bench seconds]
set -u -o pipefail
LOGS=${OUT:-/tmp}
export MAKEFLAGS=-j$(nproc)
export CELLSHARD_SHARED_DATA=${CELLSHARD_SHARED_DATA:-$PWD/.shared-data}
LIB=/tmp/rlib; mkdir -p $LIB
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
free -g | head -2
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -40 "$LOGS/install.log"; exit 1; }
sed -n "/^cellshard configuration/,/^  MPI/p" "$LOGS/install.log"
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
TESTS=${OOC_TESTS:-"out-of-core|pipeline-backends"}  # a CELLSHARD_TEST_FILTER
echo "== GPU tests: $TESTS"
CELLSHARD_TEST_FILTER="$TESTS" timeout 300 Rscript tests/run-testthat.R \
  > "$LOGS/tests.log" 2>&1; echo "tests rc=$?"; tail -25 "$LOGS/tests.log"
echo "== bench/out_of_core.R"
timeout "${3:-200}" Rscript bench/out_of_core.R "${1:-1430156}" "${2:-8GB}" 0 2>&1 | tee "$LOGS/out_of_core.txt"
