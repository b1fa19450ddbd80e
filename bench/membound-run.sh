#!/bin/bash
# Issue 8 (memory-bound steps) in one call on the GPU machine, from the
# package root: installs cellshard, times each entry point alone
# (bench/membound.R), then times its kernels with Nsight Compute (one timed
# run per step, kernels in launch order: their sum against the wall seconds
# is the device's share, the rest the host's). Optional: the CUDA drivers
# (MEMBOUND_DRIVERS=1) and the R tests (MEMBOUND_TESTS=1). Logs in $OUT.
#   DEVR=../.devr bash bench/membound-run.sh [n.cells] [reps]
# MEMBOUND_PKG=dir installs the package from another tree (a baseline).
set -u -o pipefail
N=${1:-1430156}
REPS=${2:-5}
OUT=${OUT:-/tmp/membound-out}
mkdir -p "$OUT"
# shellcheck disable=SC1090
source "${DEVR:-.devr}/activate.sh"
export MAKEFLAGS=-j$(nproc)
T0=$(date +%s)
stage() { echo "== $* (+$(( $(date +%s) - T0 )) s)"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
stage install
mkdir -p /tmp/rlib
R CMD INSTALL --library=/tmp/rlib "${MEMBOUND_PKG:-.}" > "$OUT/install.log" 2>&1 || { tail -40 "$OUT/install.log"; exit 1; }
export R_LIBS=/tmp/rlib${R_LIBS:+:$R_LIBS}
stage "installed"; sed -n "/^cellshard configuration/,/^  MPI/p" "$OUT/install.log"
stage "bench/membound.R $N $REPS"
Rscript bench/membound.R "$N" "$REPS" "$OUT/membound.csv" 2>&1 | tee "$OUT/bench.log"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
ls /usr/local/cuda/bin/nsys 2>/dev/null || echo "no /usr/local/cuda/bin/nsys"
if [ -n "$NCU" ] && [ "${MEMBOUND_NCU:-1}" = 1 ]; then
  stage "kernel times ($NCU)"
  timeout 150 "$NCU" --target-processes all --clock-control none --metrics gpu__time_duration.sum \
    -k regex:'row_|gathered|selected|by_column|map_values|Scan|Segmented|qc_' --csv --log-file "$OUT/ncu.csv" \
    Rscript bench/membound.R "$N" 1 /tmp/membound-ncu.csv > /tmp/ncu-bench.log 2>&1
  python3 - "$OUT/ncu.csv" <<'PY'
import csv, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('"')]
rows = list(csv.DictReader(lines))
for r in rows:
    name = r.get("Kernel Name", "?")
    name = name.split("(")[0].split("::")[-1][:40]
    val = r.get("Metric Value") or r.get("gpu__time_duration.sum") or "?"
    unit = r.get("Metric Unit", "")
    print(f'{r.get("ID", "?"):>4} {name:40s} {val} {unit}')
PY
fi
# The checks run after the timings, beside each other (neither is timed).
# MEMBOUND_DATA: the folder holding .shared-data and .fixtures (the references).
DATA_DIR=${MEMBOUND_DATA:-.}
[ -d "$DATA_DIR/.shared-data" ] && export CELLSHARD_SHARED_DATA=$(cd "$DATA_DIR/.shared-data" && pwd)
[ -d "$DATA_DIR/.fixtures" ] && export CELLSHARD_H5AD_FIXTURES=$(cd "$DATA_DIR/.fixtures" && pwd)
if [ "${MEMBOUND_DRIVERS:-}" = 1 ]; then
  (CELLSHARD_DRIVERS_ONLY=1 timeout "${CHECK_SECONDS:-220}" bash tools/gpu-check.sh quick > "$OUT/drivers.log" 2>&1; echo "drivers exit $?" >> "$OUT/drivers.log") &
  DRIVERS=$!
fi
if [ -n "${MEMBOUND_TEST_FILTER:-}" ]; then
  export CELLSHARD_TEST_FILTER=$MEMBOUND_TEST_FILTER
  MEMBOUND_TESTS=1
fi
if [ "${MEMBOUND_TESTS:-}" = 1 ]; then
  stage "R tests"
  timeout "${CHECK_SECONDS:-220}" Rscript tests/run-testthat.R > "$OUT/tests.log" 2>&1; echo "R tests exit $?"
  grep -E "^(Error|Failure)|passed" "$OUT/tests.log" | tail -20
fi
if [ -n "${DRIVERS:-}" ]; then
  wait $DRIVERS
  stage drivers
  grep -E "^test_|drivers exit|error" "$OUT/drivers.log" | tail -8
fi
stage done
