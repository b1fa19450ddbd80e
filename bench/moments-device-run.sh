#!/bin/bash
# One call on the GPU machine for the col_moments kernel (issue 8): builds the
# package's objects as tools/gpu-check.sh does, the bench's variants of the
# new kernel (other constants, renamed entry points), the CUDA pipeline
# driver and bench/moments_kernel.cu; runs the bench (timings first, alone on
# the GPU), then the driver. Logs go to $OUT.
#   source .devr/activate.sh && bash bench/moments-device-run.sh [bench args]
set -u -o pipefail
LOGS=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv,noheader
DEFS="-DCELLSHARD_CUDA -DCELLSHARD_NCCL"
NVFLAGS="-std=c++17 -O2 -gencode=arch=compute_90,code=sm_90 --expt-relaxed-constexpr $DEFS"
R_CPP=$(R CMD config --cppflags)
R_LAPACK="$(R CMD config LAPACK_LIBS) $(R CMD config BLAS_LIBS) $(R CMD config FLIBS)"
OBJ=/tmp/cs_obj; rm -rf $OBJ; mkdir -p $OBJ /tmp/mkv
SECONDS=0
for f in src/cuda/*.cu; do nvcc $NVFLAGS -c $f -o $OBJ/cuda_$(basename $f .cu).o & done
for f in src/core/*.cpp src/cpu/*.cpp; do
  d=$(basename $(dirname $f))
  g++ -std=c++17 -O2 $DEFS $R_CPP -I/usr/local/cuda/include -c $f -o $OBJ/${d}_$(basename $f .cpp).o &
done
nvcc $NVFLAGS -c src/cuda/moments_kernels.cu -DCELLSHARD_MOMENTS_BATCH=4 \
  -Dcol_moments_on_device=col_moments_b4 -Dlast_moment_phases=last_moment_phases_b4 -o /tmp/mkv/b4.o &
nvcc $NVFLAGS -c src/cuda/moments_kernels.cu -DCELLSHARD_MOMENTS_THREADS=512 \
  -DCELLSHARD_MOMENTS_RANGE_SHIFT=12 -Dcol_moments_on_device=col_moments_t512 \
  -Dlast_moment_phases=last_moment_phases_t512 -o /tmp/mkv/t512.o &
nvcc $NVFLAGS -Xptxas -v -c src/cuda/moments_kernels.cu -o /tmp/mkv/resources.o > "$LOGS/ptxas.log" 2>&1 &
wait
LINK="$OBJ/*.o -lcusolver -lcublas -lnccl -lcudart $R_LAPACK -lpthread"
nvcc $NVFLAGS -o /tmp/test_pipeline_kernels tests/cuda/test_pipeline_kernels.cu $LINK 2>&1 | tail -5 &
nvcc $NVFLAGS -o /tmp/moments_kernel bench/moments_kernel.cu /tmp/mkv/b4.o /tmp/mkv/t512.o $LINK 2>&1 | tail -5 &
wait
echo "built in ${SECONDS} s"
grep -E "Used|spill" "$LOGS/ptxas.log" | sed 's/^ptxas info *: //' | head -12
echo "== bench/moments_kernel.cu (${SECONDS} s)"
timeout ${BENCH_TIMEOUT:-170} /tmp/moments_kernel "$@" 2>&1 | tee "$LOGS/moments_kernel.txt"
echo "== tests/cuda/test_pipeline_kernels.cu (${SECONDS} s)"
timeout ${TEST_TIMEOUT:-200} /tmp/test_pipeline_kernels > "$LOGS/test_pipeline_kernels.log" 2>&1
echo "exit $?"
grep -E "FAILED|threw" "$LOGS/test_pipeline_kernels.log" | head -30
tail -1 "$LOGS/test_pipeline_kernels.log"
echo "done in ${SECONDS} s"
