#!/bin/sh
# R CMD build + R CMD check of this checkout (no manual; the tests run
# separately through tools/run-tests.sh). Fails on any ERROR or WARNING;
# NOTEs are printed for reading. Builds the CPU-only package unless
# CELLSHARD_NO_CUDA is set otherwise.
set -e
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CELLSHARD_NO_CUDA=${CELLSHARD_NO_CUDA:-1}
export _R_CHECK_FORCE_SUGGESTS_=false
(cd "$WORK" && R CMD build "$OLDPWD" > build.log 2>&1) || {
  cat "$WORK/build.log"; echo "R CMD build failed"; exit 1; }
(cd "$WORK" && R CMD check --no-manual --no-tests cellshard_*.tar.gz > check.log 2>&1) || true
log="$WORK/cellshard.Rcheck/00check.log"
[ -f "$log" ] || { cat "$WORK/check.log"; echo "R CMD check did not run"; exit 1; }
grep -E "^\* .*\.\.\. (NOTE|WARNING|ERROR)" -A8 "$log" || true
status=$(grep -E "^Status:" "$log" || echo "Status: unknown")
echo "R CMD check: $status"
case "$status" in
  *ERROR*|*WARNING*|*unknown*) exit 1 ;;
esac
