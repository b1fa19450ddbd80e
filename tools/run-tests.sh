#!/bin/sh
# Runs the test suite against the package as it is in this checkout: installs
# it into a temporary library, runs testthat, and ends with the line
# "N passed, N failed, N skipped" that CI reads. Exit status 1 on any failure.
set -e
cd "$(dirname "$0")/.."
LIB=$(mktemp -d)
trap 'rm -rf "$LIB"' EXIT
R CMD INSTALL --preclean --no-test-load --library="$LIB" . > "$LIB/install.log" 2>&1 || {
  cat "$LIB/install.log"; echo "0 passed, 1 failed"; exit 1; }
sed -n "/^cellshard configuration/,/^  MPI/p" "$LIB/install.log"
R_LIBS="$LIB${R_LIBS:+:$R_LIBS}" Rscript tests/run-testthat.R
