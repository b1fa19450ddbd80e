#!/bin/bash
# computePCA before and after a change, on one GPU machine in one call
# (issue 8): installs the working tree, runs bench/pca_parts.R, then reverses
# bench/.before.patch (made beforehand with
#   git diff BASE HEAD -- R src > bench/.before.patch
# on the development machine), rebuilds from clean objects, installs into a
# second library and runs the same. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/pca-before-after.sh [n.cells] [reps]
set -u -o pipefail
LOGS=${OUT:-/tmp}
N=${1:-1430156}
REPS=${2:-5}
export MAKEFLAGS=-j$(nproc)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
[ -s bench/.before.patch ] || { echo "no bench/.before.patch"; exit 1; }
run_tree() {  # $1: label
  local lib=/tmp/lib_$1
  mkdir -p $lib
  rm -f src/*.o src/*/*.o src/*.so  # a warm machine keeps objects newer than copied sources
  R CMD INSTALL --library=$lib . > "$LOGS/install_$1.log" 2>&1 || { tail -30 "$LOGS/install_$1.log"; return 1; }
  echo "== $1: Rscript bench/pca_parts.R $N 0 $REPS (${SECONDS} s)"
  R_LIBS=$lib${R_LIBS:+:$R_LIBS} Rscript bench/pca_parts.R $N 0 $REPS 2>&1 | tee "$LOGS/pca_parts_$1.txt"
}
SECONDS=0
run_tree after || exit 1
patch -R -p1 < bench/.before.patch > /dev/null || { echo "patch -R failed"; exit 1; }
run_tree before
patch -p1 < bench/.before.patch > /dev/null  # the working tree as it came
echo "done in ${SECONDS} s"
