#!/usr/bin/env python3
"""Where a kernel's instructions go, from Nsight Compute's source counters.

Reads the CSV that `ncu -i report --page source --csv --print-source sass`
writes (gram-device-run.sh with NCU_SOURCE=1 leaves it as tile_source.csv)
and prints runs of consecutive SASS lines that execute equally often (a
straight stretch of code: a window's bookkeeping, a loop's body, a branch
taken by some lanes) with their share of the executed instructions, of the
warp-stall samples and of the shared-memory wavefronts, and the average
active lanes. Session 21 found the staging copies (15% of the tile kernel's
instructions) this way.
    python3 bench/sass_counts.py tile_source.csv [min share %, default 0.5]
"""
import csv
import sys


def number(text):
    try:
        return float(text)
    except ValueError:
        return 0.0


def main():
    rows = list(csv.reader(open(sys.argv[1])))
    threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    names = {name: i for i, name in enumerate(rows[header])}
    lines = [r for r in rows[header + 1:] if len(r) == len(rows[header])]

    def column(name):  # a kernel with no shared-memory accesses has no wavefront column
        return [number(r[names[name]]) if name in names else 0.0 for r in lines]

    executed = column("Instructions Executed")
    samples = column("Warp Stall Sampling (All Samples)")
    wavefronts = column("L1 Wavefronts Shared")
    lanes = column("Avg. Threads Executed")
    totals = [max(sum(c), 1.0) for c in (executed, samples, wavefronts)]
    print(f"{len(lines)} SASS lines, {totals[0]:.4g} warp instructions executed, "
          f"{totals[2]:.4g} shared wavefronts")
    print("lines        executions a line  instr %  stall %  wavefront %  lanes  first line")
    start = 0
    for i in range(1, len(lines) + 1):
        if i < len(lines) and executed[i] == executed[start]:
            continue
        share = 100 * sum(executed[start:i]) / totals[0]
        if executed[start] > 0 and share >= threshold:
            print(f"{start:5d}-{i - 1:5d}  {executed[start]:15.4g}  {share:7.1f}  "
                  f"{100 * sum(samples[start:i]) / totals[1]:7.1f}  "
                  f"{100 * sum(wavefronts[start:i]) / totals[2]:11.1f}  {lanes[start]:5.1f}  "
                  f"{lines[start][names['Source']].strip()}")
        start = i


if __name__ == "__main__":
    main()
