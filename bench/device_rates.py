#!/usr/bin/env python3
"""The GPU's rates that bench/issue8_report.py turns floors into times with,
measured in the same run as the steps (issue 8, item 2), with CuPy:

  copy_bandwidth    cudaMemcpy device to device of a 4 GiB buffer: (bytes read
                    + bytes written) / time, the median of 10 copies after one
                    warm-up. The steps' floors are their bytes at this rate.
  kernel_copy       the same through a plain element-wise kernel (float4 loads
                    and stores), for reference.
  fp64_gemm, fp32_gemm   8192 x 8192 matrix products (cuBLAS), 2 n^3 / time,
                    the median of 5 after one warm-up; fp64 is the rate PCA's
                    flops are set against.

  python3 bench/device_rates.py [out.csv]     (default device_rates.csv)
"""
import csv
import statistics
import sys

import cupy as cp


def timed(fn, reps):
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    fn()
    times = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def main(out: str) -> None:
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode()
    rows = []

    def measure(label, fn):
        try:
            rows.append(fn())
        except Exception as e:  # noqa: BLE001 - one failed rate must not lose the others
            print(f"{label}: not measured ({type(e).__name__}: {e})")

    n = 4 << 30
    src = cp.ones(n // 4, dtype=cp.float32)  # 4 GiB
    dst = cp.zeros_like(src)

    def memcpy():
        dst.data.copy_from_device_async(src.data, n, cp.cuda.get_current_stream())

    def copy_bandwidth():
        t = timed(memcpy, 10)
        if not bool((dst[-1024:] == 1).all()):
            raise RuntimeError("the copy did not copy")
        return ("copy_bandwidth", 2 * n / t, "bytes/s", f"cudaMemcpy D2D of 4 GiB, {t * 1e3:.3f} ms")

    copy4 = cp.RawKernel(r'''
    extern "C" __global__ void copy4(const float4* __restrict__ a, float4* __restrict__ b,
                                     unsigned long long n) {
        for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
             i < n; i += (unsigned long long)gridDim.x * blockDim.x) b[i] = a[i];
    }''', "copy4")

    def kernel_copy():
        dst.fill(0)
        n4 = n // 16
        blocks = props["multiProcessorCount"] * 8
        t = timed(lambda: copy4((blocks,), (512,), (src, dst, cp.uint64(n4))), 10)
        if not bool((dst[-1024:] == 1).all()):
            raise RuntimeError("the copy kernel did not copy")
        return ("kernel_copy", 2 * n / t, "bytes/s", f"float4 grid-stride copy, {t * 1e3:.3f} ms")

    measure("copy_bandwidth", copy_bandwidth)
    measure("kernel_copy", kernel_copy)
    del src, dst
    cp.get_default_memory_pool().free_all_blocks()

    m = 8192

    def gemm(dtype, label):
        a = cp.random.random((m, m)).astype(dtype)
        b = cp.random.random((m, m)).astype(dtype)
        t = timed(lambda: cp.matmul(a, b), 5)
        return (label, 2 * m**3 / t, "flop/s", f"{m} x {m} matmul, {t * 1e3:.2f} ms")

    measure("fp64_gemm", lambda: gemm(cp.float64, "fp64_gemm"))
    measure("fp32_gemm", lambda: gemm(cp.float32, "fp32_gemm"))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "value", "unit", "detail", "device"])
        for r in rows:
            w.writerow([r[0], f"{r[1]:.6g}", r[2], r[3], name])
    for r in rows:
        scale = 1e9 if r[2] == "bytes/s" else 1e12
        unit = "GB/s" if r[2] == "bytes/s" else "TFLOP/s"
        print(f"{r[0]:15s} {r[1] / scale:10.1f} {unit:8s} ({r[3]}; {name})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "device_rates.csv")
