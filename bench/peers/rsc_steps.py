#!/usr/bin/env python3
"""rapids-singlecell peer of bench/gpu_steps.R (issue 8, item 3).

Runs rapids-singlecell's own functions, from its PyPI wheel, on the h5ad that
cellshard wrote (bench/load.R), the way its multi-GPU Dask path works on each
GPU: the cells in CSR chunks of 200,000 rows (CuPy sparse matrices on the GPU),
one Dask array over them, Dask's synchronous scheduler in this process (one
worker with one thread per GPU, as LocalCUDACluster's default, without the
transfers between processes), CuPy's memory pool (faster than the managed
memory of the reference notebook). The steps and their calls are those of
the notebook (docs/background/rapids-singlecell-semantics.md):

  qc               calculate_qc_metrics(adata, qc_vars=["mt"])
  filter           adata[cells].copy(); adata[:, genes].copy(); X.persist()
  normalize_log1p  normalize_total(target_sum=1e4); log1p(); X.persist()
  hvg              highly_variable_genes(n_top_genes=5000, flavor="cell_ranger")
  hvg_subset       adata[:, adata.var.highly_variable].copy(); X.persist()
  scale            scale(zero_center=False); X.persist()
  pca_fit          pca(n_comps=100, mask_var=None): Gram + eigh; X_pca stays lazy
  pca_projection   obsm["X_pca"].compute(): the projection, gathered on the GPU

Every step runs once to warm up, then `reps` times on the same input; the time
ends after a device synchronisation. normalize_total and scale write into
their input chunks (rapids-singlecell's Dask kernels work in place), so each of
their runs starts from a fresh copy of the input values, made outside the
timed region. Peak device memory is the CuPy pool's bytes in use, tracked at
every allocation.

cuML is not installed: rapids_standin.py (next to this file, clearly a
stand-in) answers the RAPIDS imports that rapids-singlecell makes at import
time; none of these steps calls them.

  python3 bench/peers/rsc_steps.py atlas.h5ad [--reps 5] [--chunk 200000] [--out rsc_steps.csv]
"""
from __future__ import annotations

import argparse
import csv
import gc
import importlib.metadata
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rapids_standin  # noqa: E402

rapids_standin.install()


def preload_cudart() -> None:
    """rapids-singlecell's kernels need libcudart.so.13 and carry no path to it."""
    import ctypes
    import glob

    candidates = ["libcudart.so.13"] + sorted(glob.glob("/usr/local/cuda/lib64/libcudart.so.13*"))
    for d in sys.path:
        candidates += sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib", "libcudart.so.13*")))
        candidates += sorted(glob.glob(os.path.join(d, "nvidia", "cu13", "lib", "libcudart.so.13*")))
    for c in candidates:
        try:
            ctypes.CDLL(c, mode=ctypes.RTLD_GLOBAL)
            return
        except OSError:
            continue


preload_cudart()

import anndata as ad  # noqa: E402
import cupy as cp  # noqa: E402
import cupyx.scipy.sparse as csp  # noqa: E402
import dask  # noqa: E402
import dask.array as da  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rapids_singlecell as rsc  # noqa: E402
from rapids_singlecell._compat import _meta_sparse  # noqa: E402


class PeakTracker:
    """CuPy allocator that records the pool's largest bytes in use."""

    def __init__(self) -> None:
        self.pool = cp.get_default_memory_pool()
        self.peak = 0
        cp.cuda.set_allocator(self.malloc)

    def malloc(self, nbytes: int):
        mem = self.pool.malloc(nbytes)
        used = self.pool.used_bytes()
        if used > self.peak:
            self.peak = used
        return mem

    def reset(self) -> int:
        self.peak = self.pool.used_bytes()
        return self.peak


def read_chunks(path: str, chunk: int):
    """CSR chunks of `chunk` cells of the h5ad's X on the GPU, and the names."""
    with h5py.File(path, "r") as f:
        X = f["X"]
        enc = X.attrs.get("encoding-type")
        enc = enc.decode() if isinstance(enc, bytes) else enc
        if enc != "csr_matrix":
            raise SystemExit(f"{path}: X is {enc}, not csr_matrix")
        n_cells, n_genes = (int(v) for v in X.attrs["shape"])
        indptr = X["indptr"][:].astype(np.int64)
        chunks = []
        for lo in range(0, n_cells, chunk):
            hi = min(n_cells, lo + chunk)
            a, b = int(indptr[lo]), int(indptr[hi])
            if b - a >= 2**31:
                raise SystemExit(f"chunk of {b - a} entries: CuPy's CSR needs fewer than 2^31")
            data = cp.asarray(X["data"][a:b].astype(np.float32, copy=False))
            idx = cp.asarray(X["indices"][a:b].astype(np.int32, copy=False))
            ptr = cp.asarray((indptr[lo:hi + 1] - a).astype(np.int32))
            m = csp.csr_matrix((data, idx, ptr), shape=(hi - lo, n_genes))
            m.has_sorted_indices = True  # cellshard writes sorted gene indices
            chunks.append(m)
        names = {}
        for group in ("obs", "var"):
            g = f[group]
            key = g.attrs["_index"]
            key = key.decode() if isinstance(key, bytes) else key
            names[group] = pd.Index(g[key].asstr()[:], dtype=str)
    return chunks, names["obs"], names["var"]


def to_dask(chunks, n_genes: int):
    """A Dask array whose chunks are the given matrices (as after persist())."""
    name = "chunks-" + uuid.uuid4().hex
    graph = {(name, i, 0): c for i, c in enumerate(chunks)}
    sizes = (tuple(c.shape[0] for c in chunks), (n_genes,))
    return da.Array(graph, name, chunks=sizes, meta=_meta_sparse(chunks[0].dtype))


def chunks_of(X):
    """The chunk matrices of a persisted Dask array, without copying them."""
    X = X.persist()  # nothing to do when it already is
    graph = dict(X.__dask_graph__())
    out = []
    for i in range(X.numblocks[0]):
        v = graph[(X.name, i, 0)]
        if not hasattr(v, "nnz"):  # Dask's task spec may wrap a stored value
            v = getattr(v, "value", None)
        out.append(v if hasattr(v, "nnz") else X.blocks[i].compute())
    return out


def nnz_of(adata) -> int:
    return int(sum(c.nnz for c in chunks_of(adata.X)))


def with_fresh_values(adata):
    """adata with its own copy of X's values (index arrays shared)."""
    fresh = [csp.csr_matrix((c.data.copy(), c.indices, c.indptr), shape=c.shape)
             for c in chunks_of(adata.X)]
    out = ad.AnnData(X=to_dask(fresh, adata.n_vars), obs=adata.obs, var=adata.var)
    return out


def sync() -> None:
    cp.cuda.Device().synchronize()


def collect() -> None:
    """Python's cycle collector, then CuPy's cached blocks back to the driver
    (outside the timed runs: GPU memory held by garbage in reference cycles
    is invisible to the collector's own triggers)."""
    gc.collect()
    cp.get_default_memory_pool().free_all_blocks()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("h5ad")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--chunk", type=int, default=200_000)
    p.add_argument("--out", default="rsc_steps.csv")
    a = p.parse_args()
    dask.config.set(scheduler="synchronous")
    versions = {}
    for dist in ("rapids-singlecell-cu13", "anndata", "scanpy", "dask", "cupy-cuda13x", "numpy",
                 "pandas", "scipy", "h5py"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    print("rapids-singlecell peer:", ", ".join(f"{k} {v}" for k, v in versions.items()))
    print("GPU:", cp.cuda.runtime.getDeviceProperties(0)["name"].decode())
    tracker = PeakTracker()

    t0 = time.perf_counter()
    chunks, obs_names, var_names = read_chunks(a.h5ad, a.chunk)
    adata = ad.AnnData(X=to_dask(chunks, len(var_names)), obs=pd.DataFrame(index=obs_names),
                       var=pd.DataFrame(index=var_names))
    del chunks
    sync()
    print(f"read {adata.n_obs} x {adata.n_vars} in {adata.X.numblocks[0]} chunks "
          f"({time.perf_counter() - t0:.1f} s)")
    adata.var["mt"] = adata.var_names.str.startswith("MT-")

    rows = []

    def bench(step, inp, run, prepare=None, parts=None):
        """run(prepared input) once to warm up and `reps` times; returns the last output."""
        times, peaks, extras, kept = [], [], [], []
        out = None
        size = (inp.n_obs, inp.n_vars, nnz_of(inp))
        for r in range(a.reps + 1):
            out = None
            gc.collect()  # AnnData and Dask objects hold cycles: the last run's arrays go back to the pool
            x = prepare(inp) if prepare else inp
            sync()
            before = tracker.reset()
            t = time.perf_counter()
            out = run(x)
            sync()
            dt = time.perf_counter() - t
            if r > 0:
                times.append(dt)
                peaks.append(tracker.peak)
                extras.append(tracker.peak - before)
                if parts:
                    kept.append(parts(out))
            del x
        collect()
        print(f"{step:18s} median {statistics.median(times):8.4f} s  (min {min(times):.4f}, "
              f"max {max(times):.4f})  peak {max(peaks) / 1e9:.2f} GB (+{max(extras) / 1e9:.2f} GB)",
              flush=True)
        for name, ts in ([(step, times)] if not parts else
                         [(k, [d[k] for d in kept]) for k in kept[0]]):
            rows.append(dict(side="rapids-singlecell", step=name, runs=len(ts),
                             median_s=round(statistics.median(ts), 4), min_s=round(min(ts), 4),
                             max_s=round(max(ts), 4), cells=size[0], genes=size[1], nnz=size[2],
                             peak_device_bytes=max(peaks), peak_extra_bytes=max(extras),
                             note=notes.get(step, "")))
        return out

    def qc(x):
        rsc.pp.calculate_qc_metrics(x, qc_vars=["mt"])
        return x

    notes = {}

    def index(x, cells, genes, step):
        """AnnData's boolean indexing + copy + persist, as the notebook does."""
        try:
            y = x[cells].copy() if cells is not None else x
            y = y[:, genes].copy()
            y.X = y.X.persist()
            notes.setdefault(step, "AnnData indexing of the Dask array")
            return y
        except Exception as e:  # noqa: BLE001
            # What Dask's getitem does per chunk, written out: said in the CSV.
            if step not in notes:
                print(f"{step}: AnnData indexing failed ({type(e).__name__}: {e}); "
                      "indexing each chunk instead", flush=True)
            notes[step] = f"each chunk indexed with CuPy (AnnData indexing failed: {type(e).__name__})"
            return index_chunks(x, cells, genes)

    def index_chunks(x, cells, genes):
        cells = np.ones(x.n_obs, bool) if cells is None else cells
        keep_genes = cp.asarray(np.flatnonzero(genes))
        bounds = np.cumsum((0,) + x.X.chunks[0])
        out = []
        for i, c in enumerate(chunks_of(x.X)):
            rows_ = np.flatnonzero(cells[bounds[i]:bounds[i + 1]])
            part = c[cp.asarray(rows_)] if len(rows_) < c.shape[0] else c
            out.append(part[:, keep_genes])
        return ad.AnnData(X=to_dask(out, len(keep_genes)), obs=x.obs[cells], var=x.var[genes])

    def filt(x):
        cells = ((x.obs["n_genes_by_counts"] >= 200) & (x.obs["n_genes_by_counts"] <= 10000)).to_numpy()
        genes = (x.var["n_cells_by_counts"] >= 10).to_numpy()
        return index(x, cells, genes, "filter")

    def normalize(x):
        rsc.pp.normalize_total(x, target_sum=1e4)
        rsc.pp.log1p(x)
        x.X = x.X.persist()
        return x

    def hvg(x):
        rsc.pp.highly_variable_genes(x, n_top_genes=5000, flavor="cell_ranger")
        return x

    def subset(x):
        return index(x, None, x.var["highly_variable"].to_numpy(), "hvg_subset")

    def scale(x):
        rsc.pp.scale(x, zero_center=False)
        x.X = x.X.persist()
        return x

    def pca(x):
        t = time.perf_counter()
        rsc.pp.pca(x, n_comps=100, mask_var=None)
        sync()
        fit = time.perf_counter() - t
        t = time.perf_counter()
        scores = x.obsm["X_pca"].compute()
        sync()
        x.obsm["X_pca"] = scores
        return x, {"pca_fit": fit, "pca_projection": time.perf_counter() - t}

    adata = bench("qc", adata, qc)
    filtered = bench("filter", adata, filt)
    del adata
    collect()
    normed = bench("normalize_log1p", filtered, normalize, prepare=with_fresh_values)
    del filtered
    collect()
    normed = bench("hvg", normed, hvg)
    n_hvg = int(normed.var["highly_variable"].sum())
    sub = bench("hvg_subset", normed, subset)
    del normed
    collect()
    scaled = bench("scale", sub, scale, prepare=with_fresh_values)
    del sub
    collect()
    out, _ = bench("pca", scaled, pca, parts=lambda o: o[1])
    scores = out.obsm["X_pca"]
    print(f"kept {out.n_obs} cells x {out.n_vars} genes ({n_hvg} highly variable); "
          f"X_pca {scores.shape[0]} x {scores.shape[1]} on the GPU; "
          f"variance ratio of PC1-5 {np.round(out.uns['pca']['variance_ratio'][:5], 4).tolist()}")

    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    total = sum(r["median_s"] for r in rows)
    print(f"total of the step medians: {total:.3f} s; written to {a.out}")


if __name__ == "__main__":
    main()
