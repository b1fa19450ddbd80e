#!/bin/bash
# Issue 8's GPU benchmarks in one call on the GPU machine, from the repository
# root: the device's copy bandwidth and GEMM rates, the load benchmark (which
# also writes the atlas as h5ad), cellshard's steps, rapids-singlecell's steps
# on that file, then the tables and the plot. Everything lands in $OUT: 8
# files, the most the device tool brings back (run.log, device_rates.csv,
# load.csv, cellshard_steps.csv, r_floor.csv, rsc_steps.csv,
# steps_summary.csv, steps.png).
#
# Needs: the R bundle (.devr, or DEVR=path) and the peer's wheels
# (sh bench/peers/fetch-wheels.sh here first); on the run tool, carry
# [".devr", "bench/peers/wheels"]:
#   bash bench/issue8-run.sh [n.cells] [reps] [gzip.cells]     (1430156 5 50000)
# Each stage has a time limit (STAGE_SECONDS, default 240) so that the report
# still runs when one stage overruns; ISSUE8_REUSE_INSTALL=1 skips the package
# install when /tmp/rlib already holds one (a warm machine); ISSUE8_LOAD=0
# only writes the peer's file (no load timings).
set -u -o pipefail
N=${1:-1430156}
REPS=${2:-5}
NGZ=${3:-50000}
OUT=${OUT:-/tmp/issue8-out}
DATA=${ISSUE8_DATA:-/tmp/issue8-data}
DEVR=${DEVR:-.devr}
LIMIT=${STAGE_SECONDS:-240}
SITE=/tmp/rsc-site
mkdir -p "$OUT" "$DATA"
PY_LD=${LD_LIBRARY_PATH:-}  # Python runs with the machine's libraries, not the R bundle's
py() { env LD_LIBRARY_PATH="$PY_LD" PYTHONUNBUFFERED=1 python3 "$@"; }
T0=$(date +%s)
stage() { echo; echo "== $* ($(date +%T), +$(( $(date +%s) - T0 )) s)"; }

main() {
stage "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "CPU cores: $(nproc); $(free -g | awk '/Mem:/ {print $2 " GB memory"}'); /tmp: $(df -h /tmp | awk 'NR==2 {print $4 " free on " $1}')"
echo "atlas: $N cells, $REPS timed runs per step, gzip file of $NGZ cells"

stage "device rates (copy bandwidth, GEMM)"
timeout "$LIMIT" env LD_LIBRARY_PATH="$PY_LD" PYTHONUNBUFFERED=1 python3 bench/device_rates.py "$OUT/device_rates.csv"

stage "rapids-singlecell wheels"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" bench/peers/wheels/*.whl || echo "the peer's wheels did not install"

stage "cellshard install"
# shellcheck disable=SC1090
source "$DEVR/activate.sh"
export MAKEFLAGS=-j$(nproc)
mkdir -p /tmp/rlib
if [ "${ISSUE8_REUSE_INSTALL:-}" = 1 ] && [ -d /tmp/rlib/cellshard ]; then
    echo "reusing /tmp/rlib/cellshard"
else
    # The install's log stays in /tmp (its configuration lines go to run.log)
    # unless it fails: a ninth file in $OUT would not come back.
    R CMD INSTALL --library=/tmp/rlib . > /tmp/install.log 2>&1 ||
        { cp /tmp/install.log "$OUT/"; tail -40 /tmp/install.log; exit 1; }
    sed -n "/^cellshard configuration/,/^  MPI/p" /tmp/install.log
fi
export R_LIBS=/tmp/rlib${R_LIBS:+:$R_LIBS}
cp bench/pool_peak.c /tmp/pool_peak.c && (cd /tmp && R CMD SHLIB -o pool_peak.so pool_peak.c > /dev/null) ||
    echo "bench/pool_peak.c did not build: no peak memory"

stage "load: bench/load.R"
if [ "${ISSUE8_LOAD:-1}" = 0 ]; then  # only the peer's file, no read timings
    timeout "$LIMIT" Rscript -e 'suppressPackageStartupMessages(library(cellshard)); a <- commandArgs(TRUE)
        writeH5AD(simulateAtlas(as.numeric(a[1]), seed = 1, devices = 0L), a[2], overwrite = TRUE)' \
        "$N" "$DATA/atlas.h5ad"
else
timeout "$LIMIT" Rscript bench/load.R "$N" "$NGZ" "$DATA" "$OUT/load.csv"
timeout 60 env LD_LIBRARY_PATH="$PY_LD" PYTHONUNBUFFERED=1 python3 bench/inflate_rate.py "$DATA/atlas_gzip.h5ad" "$OUT/device_rates.csv"
rm -f "$DATA/atlas_gzip.h5ad"
fi

stage "cellshard steps: bench/gpu_steps.R"
timeout "$LIMIT" Rscript bench/gpu_steps.R "$N" "$REPS" "$OUT/cellshard_steps.csv" /tmp/pool_peak.so

stage "the R side's floor: bench/r_floor.R"
timeout "$LIMIT" Rscript bench/r_floor.R "$N" "$REPS" "$OUT/r_floor.csv"

stage "rapids-singlecell steps: bench/peers/rsc_steps.py"
timeout "$LIMIT" env LD_LIBRARY_PATH="$PY_LD" PYTHONUNBUFFERED=1 PYTHONPATH="$SITE" \
    python3 bench/peers/rsc_steps.py "$DATA/atlas.h5ad" --reps "$REPS" --chunk 200000 \
    --out "$OUT/rsc_steps.csv"

stage "report: bench/issue8_report.py"
py bench/issue8_report.py "$OUT"
rm -rf "$DATA"
stage "done"
}

main 2>&1 | tee "$OUT/run.log"
