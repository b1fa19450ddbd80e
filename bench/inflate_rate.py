#!/usr/bin/env python3
"""How fast one CPU core inflates the gzip chunks of an h5ad's X (issue 8,
item 4): the yardstick for readH5AD on a compressed file, whose best rate is
the number of cores times this one (bench/issue8_report.py).

Reads the stored (compressed) chunks of X/data and X/indices with h5py's
read_direct_chunk, then times zlib.decompress over them in this one thread;
appends rows to the CSV of bench/device_rates.py.

  python3 bench/inflate_rate.py file.h5ad [out.csv] [max MB of chunks, default 512]
"""
import csv
import os
import sys
import time
import zlib

import h5py


def main(path, out, max_bytes):
    raw = []
    total = 0
    with h5py.File(path, "r") as f:
        for name in ("X/data", "X/indices"):
            d = f[name]
            if d.chunks is None or d.compression != "gzip":
                raise SystemExit(f"{path}: {name} is not gzip-compressed")
            step = d.chunks[0]
            for lo in range(0, d.shape[0], step):
                mask, chunk = d.id.read_direct_chunk((lo,))
                raw.append(chunk)
                total += len(chunk)
                if total >= max_bytes / 2 * (1 + (name == "X/indices")):
                    break
    t = time.perf_counter()
    inflated = sum(len(zlib.decompress(c)) for c in raw)
    dt = time.perf_counter() - t
    rate = inflated / dt
    cores = os.cpu_count()
    print(f"inflate on one core: {rate / 1e6:.0f} MB/s of output ({total / 1e6:.0f} MB of "
          f"{len(raw)} chunks -> {inflated / 1e6:.0f} MB in {dt:.2f} s); {cores} cores")
    new = not os.path.exists(out)
    with open(out, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["metric", "value", "unit", "detail", "device"])
        w.writerow(["inflate_one_core", f"{rate:.6g}", "bytes/s",
                    f"zlib.decompress of {len(raw)} chunks of {os.path.basename(path)}", "CPU"])
        w.writerow(["cpu_cores", cores, "cores", "os.cpu_count()", "CPU"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "device_rates.csv",
         float(sys.argv[3]) * 1e6 if len(sys.argv) > 3 else 512e6)
