"""STAND-IN for the RAPIDS libraries (cuML, cuDF, cuVS, cuGraph, pylibraft, RMM).

NOT cuML. rapids-singlecell imports cuML (and, through its tools and
neighbours modules, cuDF and cuVS) when it is imported, but the
preprocessing path that bench/peers/rsc_steps.py runs (calculate_qc_metrics,
normalize_total, log1p, highly_variable_genes with flavor="cell_ranger",
scale, and pca with its own covariance_eigh solver on Dask arrays) calls none
of them: it runs rapids-singlecell's own CUDA kernels and CuPy. The RAPIDS
wheels are several GB, too large to carry to the benchmark machine, so this
module answers those imports with empty modules:

- `cuml.internals.logger.set_level` (called once at import) does nothing;
- any other name is a placeholder class: `isinstance` checks against it are
  False, and calling it raises StandInError, so a code path that really needs
  a RAPIDS library fails loudly instead of giving a wrong answer.

Install it before importing rapids_singlecell: `import rapids_standin;
rapids_standin.install()`.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

ROOTS = ("cuml", "cudf", "cuvs", "cugraph", "pylibraft")


class StandInError(RuntimeError):
    pass


def _placeholder(module: str, name: str) -> type:
    qual = f"{module}.{name}"

    class _Meta(type):
        def __call__(cls, *args, **kwargs):
            raise StandInError(
                f"{qual} was called, but {module.split('.')[0]} is only a stand-in here "
                "(bench/peers/rapids_standin.py): this code path needs the real RAPIDS library"
            )

        def __getattr__(cls, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _placeholder(qual, attr)

    return _Meta(name, (), {"__module__": module, "__doc__": f"stand-in for {qual}"})


class _StandInModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = _placeholder(self.__name__, attr)
        setattr(self, attr, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ROOTS:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StandInModule(spec.name, f"stand-in for {spec.name} (not RAPIDS)")
        module.__path__ = []
        module.__file__ = __file__
        module.STANDIN = True
        if spec.name == "cuml.internals.logger":
            module.set_level = lambda *args, **kwargs: None
        return module

    def exec_module(self, module):
        pass


def install() -> None:
    """Answers imports of the RAPIDS libraries with stand-ins (see the module's text)."""
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    for root in ROOTS:
        try:
            __import__(root)
        except ImportError:
            continue
        if not getattr(sys.modules[root], "STANDIN", False):
            raise RuntimeError(f"{root} is installed: the stand-in would hide it")
    sys.meta_path.insert(0, _Finder())
