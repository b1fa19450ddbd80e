#!/bin/sh
# The package's host code under AddressSanitizer (compute-sanitizer covers only
# device memory): builds the committed tree with -fsanitize=address on the CPU
# backend into a library of its own, then runs the R tests with libasan
# preloaded (R itself is not instrumented). Stops at the first error.
#   sh tools/asan-check.sh ["test file filter"]     (default: the out-of-core and matrix files)
# Leak checks are off (R frees at exit as it likes); the lifetime tests'
# deliberate huge allocation must return null rather than abort. Tests that
# need ../shared/data read CELLSHARD_SHARED_DATA, as in the README.
set -e
FILTER=${1:-"out-of-core|matrix|sce|pipeline|lifetime"}
SRC=/tmp/cellshard-asan-src LIB=/tmp/cellshard-asan-lib
rm -rf "$SRC" && mkdir -p "$SRC" "$LIB"
git archive HEAD | tar -x -C "$SRC"
FLAGS="-g -O1 -fsanitize=address -fno-omit-frame-pointer"
printf 'CXXFLAGS = %s\nCXX17FLAGS = %s\nCFLAGS = %s\nLDFLAGS = -fsanitize=address\n' \
  "$FLAGS" "$FLAGS" "$FLAGS" > "$SRC/asan-makevars"
(cd "$SRC" && R_MAKEVARS_USER="$SRC/asan-makevars" CELLSHARD_NO_CUDA=1 \
  MAKEFLAGS=-j"$(nproc)" R CMD INSTALL --no-test-load --library="$LIB" . > "$SRC/install.log" 2>&1) ||
  { tail -30 "$SRC/install.log"; exit 1; }
cd "$SRC"
LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1 \
  R_LIBS="$LIB" CELLSHARD_NO_CUDA=1 CELLSHARD_TEST_FILTER="$FILTER" \
  Rscript tests/run-testthat.R
