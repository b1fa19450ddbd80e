#!/bin/bash
# One call on a multi-GPU machine (issue 6): install, NCCL all-reduce bandwidth,
# the scaling benchmark (bench/scaling.R), then the GPU checks (CUDA drivers,
# whose all-reduce test spans every GPU, and the R tests, whose "gpus"
# configuration shards over every GPU). Logs go to $OUT.
#   source .devr/activate.sh && bash bench/multi-gpu-run.sh [per.gpu] [strong cells] [scaling seconds]
set -u -o pipefail
LOGS=${OUT:-/tmp}
export MAKEFLAGS=-j$(nproc)
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
nvidia-smi topo -m 2>&1 | head -12
LIB=/tmp/rlib; mkdir -p $LIB
R CMD INSTALL --library=$LIB . > "$LOGS/install.log" 2>&1 || { tail -40 "$LOGS/install.log"; exit 1; }
sed -n "/^cellshard configuration/,/^  MPI/p" "$LOGS/install.log"
export R_LIBS=$LIB${R_LIBS:+:$R_LIBS}
echo "== NCCL bandwidth"
nvcc -O2 -o /tmp/nccl_bandwidth bench/nccl_bandwidth.cu -lnccl && /tmp/nccl_bandwidth | tee "$LOGS/nccl_bandwidth.txt"
echo "== bench/scaling.R"
timeout "${3:-300}" Rscript bench/scaling.R "${1:-1430156}" "${2:-2860312}" 2>&1 | tee "$LOGS/scaling.txt"
echo "== GPU checks"
CELLSHARD_INSTALLED=1 bash tools/gpu-check.sh quick 2>&1 | tee "$LOGS/gpu-check.txt"
