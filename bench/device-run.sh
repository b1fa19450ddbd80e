#!/bin/bash
# One call on the GPU machine: the GPU checks (CUDA drivers + R tests), then
# the seed-share benchmark. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/device-run.sh [n.cells]
set -u -o pipefail
LOGS=${OUT:-/tmp}
bash tools/gpu-check.sh quick 2>&1 | tee "$LOGS/gpu-check.txt"
check=$?
export R_LIBS=/tmp/rlib${R_LIBS:+:$R_LIBS}
echo "== bench/seed_share.R"
Rscript bench/seed_share.R "${1:-1430156}" 2>&1 | tee "$LOGS/seed_share.txt"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
exit $check
