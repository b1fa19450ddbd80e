#!/bin/bash
# Issue 6 on a multi-GPU machine, in two device calls (each under the device's
# 10-minute limit; issue the second at once, a machine idle 30 s goes back):
#   source .devr/activate.sh && bash bench/issue6-run.sh scaling [max.per.gpu]
#       install, NCCL all-reduce bandwidth over every GPU, the CUDA drivers,
#       bench/scaling.R on
#       1, 2, 4, ... GPUs (correctness, weak and strong scaling, and the whole
#       11.4M-cell reference workload on every GPU when it fits)
#   source .devr/activate.sh && bash bench/issue6-run.sh ranks
#       install (a fresh machine) or reuse, 2 MPI ranks against one process on
#       2,860,312 cells, one rank per GPU on the whole workload, then the R
#       tests (TEST_FILTER) with every configuration sharded over every GPU
# max.per.gpu: cells one GPU can hold through the pipeline (2,860,312 on an
# H200; 1,430,156 on an H100). Logs go to $OUT.
set -u -o pipefail
LOGS=${OUT:-/tmp}
STAGE=${1:?usage: issue6-run.sh scaling|ranks [max.per.gpu]}
MAX_SHARE=${2:-2860312}
SHARE=1430156; WHOLE=11441407
export MAKEFLAGS=-j$(nproc)
G=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
LIB=/tmp/rlib; mkdir -p $LIB
if [ ! -f $LIB/cellshard/DESCRIPTION ]; then
  R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -40 "$LOGS/install.log"; exit 1; }
  sed -n "/^cellshard configuration/,/^  MPI/p" "$LOGS/install.log"
fi
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
secs() { date +%s; }
T0=$(secs)
stamp() { echo "== [$(( $(secs) - T0 )) s] $*"; }

if [ "$STAGE" = scaling ]; then
  nvidia-smi topo -m 2>&1 | head -$((G + 2))
  stamp "NCCL bandwidth"
  nvcc -O2 -o /tmp/nccl_bandwidth bench/nccl_bandwidth.cu -lnccl && /tmp/nccl_bandwidth | tee "$LOGS/nccl_bandwidth.txt"
  stamp "CUDA drivers (their all-reduce tests span every GPU)"
  CELLSHARD_DRIVERS_ONLY=1 bash tools/gpu-check.sh quick 2>&1 | tee "$LOGS/gpu-drivers.txt"
  stamp "bench/scaling.R"
  # the whole workload only where its share per GPU fits
  STRONG=$((2 * SHARE)); [ $((WHOLE / G)) -le "$MAX_SHARE" ] && STRONG="$STRONG,$WHOLE"
  timeout 480 Rscript bench/scaling.R $SHARE "$STRONG" "$MAX_SHARE" 2>&1 | tee "$LOGS/scaling.txt"
  stamp "done"
elif [ "$STAGE" = ranks ]; then
  MPIRUN="mpirun --allow-run-as-root --bind-to none"
  N=$((2 * SHARE))
  stamp "2 MPI ranks, $N cells"
  timeout 150 $MPIRUN -np 2 Rscript bench/mpi_ranks.R mpi $N /tmp/ranks.rds 2>&1 | tail -5
  stamp "one process on 2 GPUs, $N cells"
  CUDA_VISIBLE_DEVICES=0,1 timeout 120 Rscript bench/mpi_ranks.R single $N /tmp/single.rds 2>&1 | tail -3
  Rscript bench/mpi_ranks.R compare /tmp/ranks.rds /tmp/single.rds 2>&1 | tee "$LOGS/mpi_ranks.txt"
  rm -f /tmp/ranks.rds /tmp/single.rds
  if [ $((WHOLE / G)) -le "$MAX_SHARE" ]; then
    stamp "$G MPI ranks, the whole workload ($WHOLE cells); timings only"
    MPI_RANKS_TIMINGS_ONLY=1 timeout 200 $MPIRUN -np $G Rscript bench/mpi_ranks.R mpi $WHOLE /tmp/whole.rds 2>&1 | tail -5
    Rscript -e 'r <- readRDS("/tmp/whole.rds"); print(r$timings[, c("step", "seconds")], row.names = FALSE, digits = 4); cat(sprintf("total %.3f s, wall %.3f s, %d ranks, %s cells kept\n", sum(r$timings$seconds), r$wall, r$ranks, format(r$n_cells, big.mark = ",")))' 2>&1 | tee "$LOGS/mpi_whole.txt"
  fi
  stamp "R tests with every configuration sharded over every GPU"
  export CELLSHARD_SHARED_DATA=$PWD/.shared-data CELLSHARD_H5AD_FIXTURES=$PWD/.fixtures
  CELLSHARD_TEST_FILTER=${TEST_FILTER:-"gpu|pipeline|pca|out-of-core|mpi|sce|matrix|lifetime|hvg|synthetic"} \
    timeout $((570 - $(secs) + T0)) Rscript tests/run-testthat.R > "$LOGS/tests.log" 2>&1
  grep -E "^(Error|Failure|Skip)|passed" "$LOGS/tests.log" | head -40
  stamp "done"
else
  echo "unknown stage $STAGE" >&2; exit 2
fi
