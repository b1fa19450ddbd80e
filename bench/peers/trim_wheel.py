#!/usr/bin/env python3
"""Drops the compiled CUDA modules that the benchmark does not load from the
rapids-singlecell wheel, so that the peer's wheels fit the 64 MiB that travels
to the GPU machine (the whole wheel is 22 MB). Nothing else changes: the
Python code is the wheel's, the kept modules are the wheel's files, and
rapids_singlecell._cuda resolves a missing module to None (its own fallback
for builds without them), which only the dropped features would touch.

  python3 trim_wheel.py rapids_singlecell_cu13-*.whl   (rewrites it in place)
"""
import base64
import hashlib
import os
import sys
import zipfile

# The kernels of calculate_qc_metrics, normalize_total/log1p, the mean and
# variance of highly_variable_genes and scale, scale itself, and the sparse PCA.
KEEP = {"_qc_cuda", "_qc_dask_cuda", "_norm_cuda", "_mean_var_cuda", "_scale_cuda",
        "_sparse2dense_cuda", "_spca_cuda", "_hvg_cuda"}


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(path: str) -> None:
    tmp = path + ".tmp"
    dropped = []
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        lines = []
        for info in src.infolist():
            name = info.filename
            module = os.path.basename(name).split(".")[0]
            if name.startswith("rapids_singlecell/_cuda/") and name.endswith(".so") \
                    and module not in KEEP:
                dropped.append(module)
                continue
            if name == record_name:
                continue
            data = src.read(name)
            dst.writestr(info, data)
            lines.append(record_line(name, data))
        lines.append(f"{record_name},,")
        dst.writestr(record_name, "\n".join(lines) + "\n")
    os.replace(tmp, path)
    missing = KEEP - {os.path.basename(n).split(".")[0] for n in zipfile.ZipFile(path).namelist()}
    if missing:
        sys.exit(f"the wheel lacks {sorted(missing)}: update KEEP for this version")
    print(f"{os.path.basename(path)}: dropped {len(dropped)} CUDA modules, kept {sorted(KEEP)}; "
          f"{os.path.getsize(path) / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1])
