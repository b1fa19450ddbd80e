#!/usr/bin/env python3
"""Tables and plot of the issue 8 benchmarks from one run of bench/issue8-run.sh.

Reads, from DIR: cellshard_steps.csv (bench/gpu_steps.R), rsc_steps.csv
(bench/peers/rsc_steps.py), device_rates.csv (bench/device_rates.py and
bench/inflate_rate.py) load.csv (bench/load.R) and r_floor.csv (bench/r_floor.R). Writes DIR/steps_summary.csv
and DIR/steps.png, and prints the tables (Markdown) with the targets:

  floor time = max(bytes / copy bandwidth, flops / fp64 GEMM rate), both rates
               measured in the same run; fraction of the floor = floor / median;
  memory-bound steps (qc, filter, normalize_log1p, hvg, hvg_subset, scale):
               target >= 0.5 of the floor;
  total:       rapids-singlecell's total / cellshard's >= 4;
  load:        cat time / readH5AD time >= 0.7 (uncompressed, same cache state);
  R floor:     bench/r_floor.R's seconds per step and in total (r_floor.csv),
               the SingleCellExperiment calls alone, beside each step and
               against the 0.2 s target;
               compressed: readH5AD's rate against cores x one core's inflate rate.

  python3 bench/issue8_report.py DIR
"""
import csv
import os
import sys

STEPS = ["qc", "filter", "normalize_log1p", "hvg", "hvg_subset", "rebalance", "scale",
         "pca_fit", "pca_projection"]
LABELS = {"qc": "QC metrics", "filter": "filter cells + genes",
          "normalize_log1p": "normalize + log1p", "hvg": "HVG statistics + selection",
          "hvg_subset": "HVG subset", "rebalance": "rebalance", "scale": "scale",
          "pca_fit": "PCA fit", "pca_projection": "PCA projection"}
MEMORY_BOUND = {"qc", "filter", "normalize_log1p", "hvg", "hvg_subset", "scale"}


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def fmt(x, spec=".3f"):
    return "n/a" if x != x else format(x, spec)


def main(d):
    ours = {r["step"]: r for r in read(os.path.join(d, "cellshard_steps.csv"))}
    peer = {r["step"]: r for r in read(os.path.join(d, "rsc_steps.csv"))}
    rates = {r["metric"]: r for r in read(os.path.join(d, "device_rates.csv"))}
    bw_row = rates.get("copy_bandwidth") or rates.get("kernel_copy") or {}
    bw = num(bw_row.get("value"))
    bw_name = "copy bandwidth" if "copy_bandwidth" in rates else "copy-kernel bandwidth"
    gemm = num(rates.get("fp64_gemm", {}).get("value"))
    device = next((r["device"] for r in rates.values() if r.get("device") not in (None, "CPU")), "?")

    r_floor = {r["step"]: num(r["seconds"]) for r in read(os.path.join(d, "r_floor.csv"))}
    rows = []
    for s in STEPS:
        o, p = ours.get(s, {}), peer.get(s, {})
        bytes_, flops = num(o.get("bytes_floor")), num(o.get("flops"))
        floor = max(bytes_ / bw if bytes_ == bytes_ else 0.0, flops / gemm if flops == flops else 0.0)
        t_o, t_p = num(o.get("median_s")), num(p.get("median_s"))
        rows.append(dict(step=s, cellshard_s=t_o, rsc_s=t_p,
                         rsc_over_cellshard=t_p / t_o if t_o > 0 else float("nan"),
                         bytes_floor=bytes_, flops=flops, floor_s=floor,
                         cellshard_fraction_of_floor=floor / t_o if t_o > 0 else float("nan"),
                         rsc_fraction_of_floor=floor / t_p if t_p > 0 else float("nan"),
                         cellshard_peak_gb=num(o.get("peak_device_bytes")) / 1e9,
                         cellshard_peak_extra_gb=num(o.get("peak_extra_bytes")) / 1e9,
                         rsc_peak_gb=num(p.get("peak_device_bytes")) / 1e9,
                         rsc_peak_extra_gb=num(p.get("peak_extra_bytes")) / 1e9,
                         r_floor_s=r_floor.get(s, float("nan")),
                         cells=o.get("cells", ""), genes=o.get("genes", ""), nnz=o.get("nnz", "")))
    with open(os.path.join(d, "steps_summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    print(f"## GPU steps ({device}; {bw_name} {fmt(bw / 1e9, '.0f')} GB/s, "
          f"fp64 GEMM {fmt(gemm / 1e12, '.1f')} TFLOP/s, measured in this run)\n")
    print("| step | cellshard s | rapids-singlecell s | ratio (peer / cellshard) | bytes floor (GB) | GFLOP | "
          "floor s | cellshard % of floor | peer % of floor | R floor s | peak GB (cellshard / peer) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        mark = " *" if r["step"] in MEMORY_BOUND and r["cellshard_fraction_of_floor"] < 0.5 else ""
        print(f"| {LABELS[r['step']]} | {fmt(r['cellshard_s'], '.4f')} | {fmt(r['rsc_s'], '.4f')} | "
              f"{fmt(r['rsc_over_cellshard'], '.2f')} | {fmt(r['bytes_floor'] / 1e9, '.2f')} | "
              f"{fmt(r['flops'] / 1e9, '.1f')} | {fmt(r['floor_s'], '.4f')} | "
              f"{fmt(100 * r['cellshard_fraction_of_floor'], '.1f')}{mark} | "
              f"{fmt(100 * r['rsc_fraction_of_floor'], '.1f')} | {fmt(r['r_floor_s'], '.4f')} | "
              f"{fmt(r['cellshard_peak_gb'], '.1f')} / {fmt(r['rsc_peak_gb'], '.1f')} |")
    tot_o = sum(r["cellshard_s"] for r in rows if r["cellshard_s"] == r["cellshard_s"])
    tot_p = sum(r["rsc_s"] for r in rows if r["rsc_s"] == r["rsc_s"])
    print(f"| **total** | **{tot_o:.3f}** | **{tot_p:.3f}** | **{fmt(tot_p / tot_o if tot_o else float('nan'), '.2f')}** | | | | | | | |")
    print("\n(* a memory-bound step under the 50% target)")
    met = [r["step"] for r in rows if r["step"] in MEMORY_BOUND and r["cellshard_fraction_of_floor"] >= 0.5]
    print(f"targets: memory-bound steps at >= 50% of the floor: {len(met)} of {len(MEMORY_BOUND)} "
          f"({', '.join(met) or 'none'}); peer total / cellshard total = "
          f"{fmt(tot_p / tot_o if tot_o else float('nan'), '.2f')} (target >= 4)")

    load = read(os.path.join(d, "load.csv"))
    if load:
        print("\n## Load\n")
        print("| file | read | rep | seconds | GB/s of file | GB/s of matrix |")
        print("|---|---|---:|---:|---:|---:|")
        for r in load:
            s = num(r["seconds"])
            print(f"| {r['file']} | {r['what']} | {r['rep']} | {s:.3f} | "
                  f"{num(r['file_bytes']) / s / 1e9:.2f} | {num(r['matrix_bytes']) / s / 1e9:.2f} |")

        def pick(file, what, rep):
            for r in load:
                if r["file"] == file and r["what"] == what and r["rep"] == str(rep):
                    return num(r["seconds"])
            return float("nan")
        for rep in (1, 2):
            c, t = pick("atlas.h5ad", "cat", rep), pick("atlas.h5ad", "readH5AD", rep)
            print(f"uncompressed, read {rep}: readH5AD at {fmt(100 * c / t, '.0f')}% of cat's rate (target 70%)")
        gz = [r for r in load if r["file"] == "atlas_gzip.h5ad" and r["what"] == "readH5AD"]
        one = num(rates.get("inflate_one_core", {}).get("value"))
        cores = num(rates.get("cpu_cores", {}).get("value"))
        if gz:
            best = min(num(r["seconds"]) for r in gz)
            rate = num(gz[0]["matrix_bytes"]) / best
            print(f"gzip (level {gz[0]['gzip_level']}): readH5AD {rate / 1e9:.2f} GB/s of matrix; one core "
                  f"inflates {fmt(one / 1e9, '.2f')} GB/s; {fmt(cores, '.0f')} cores -> "
                  f"{fmt(rate / one, '.1f')} cores' worth, {fmt(100 * rate / (one * cores), '.0f')}% of all cores "
                  f"(cellshard threads {gz[0]['cellshard_threads']})")
    floor_r = read(os.path.join(d, "r_floor.csv"))
    if floor_r:
        print("\n## The R side's floor (bench/r_floor.R: the SingleCellExperiment calls alone, no data)\n")
        print("| step | seconds |")
        print("|---|---:|")
        for r in floor_r:
            print(f"| {r['step']} | {num(r['seconds']):.4f} |")
        total = next((num(r["seconds"]) for r in floor_r if r["step"] == "total"), float("nan"))
        print(f"R-side floor {total:.3f} s against the 0.2 s target for everything after load; "
              f"cellshard's total {tot_o:.3f} s")
    plot(rows, os.path.join(d, "steps.png"), device)


def plot(rows, path, device):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    shown = [r for r in rows if r["step"] != "rebalance"]
    labels = [LABELS[r["step"]] for r in shown]
    series = [("cellshard", "cellshard_s", "#1b6ca8"), ("rapids-singlecell", "rsc_s", "#e07b39"),
              ("floor (bytes at copy bandwidth, flops at fp64 GEMM)", "floor_s", "#7a7a7a")]
    if any(r["r_floor_s"] == r["r_floor_s"] for r in shown):
        series.append(("R side's floor (the SingleCellExperiment calls alone)", "r_floor_s", "#59a14f"))
    fig, ax = plt.subplots(figsize=(9, 6))
    h = 0.8 / len(series)
    for k, (name, key, colour) in enumerate(series):
        ys = [i + (k - (len(series) - 1) / 2) * h for i in range(len(shown))]
        xs = [r[key] if r[key] == r[key] and r[key] > 0 else float("nan") for r in shown]
        ax.barh(ys, xs, height=h, color=colour, label=name)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("seconds (median after warm-up; log scale)")
    first = rows[0]
    ax.set_title(f"Seed steps, {int(num(first['cells'])):,} cells x {int(num(first['genes'])):,} genes "
                 f"on one {device}", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    print(f"plot: {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
