#!/bin/sh
# Fetches the rapids-singlecell peer's wheels (wheels.txt) for the GPU machine
# (CPython 3.12, x86-64) into bench/peers/wheels/, on a machine that reaches
# PyPI. docrep has no wheel on PyPI: it is built from its sdist (pure Python).
# The rapids-singlecell wheel is trimmed to the CUDA modules the benchmark
# loads (trim_wheel.py says why). bench/issue8-run.sh installs them there with
#   python3 -m pip install --no-index --no-deps --target DIR bench/peers/wheels/*.whl
set -eu
cd "$(dirname "$0")"
rm -rf wheels && mkdir wheels
grep -v '^#' wheels.txt | grep -v '^$' > wheels/.requirements
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d wheels -r wheels/.requirements
python3 -m pip wheel -q --no-deps -w wheels docrep==0.3.2
rm wheels/.requirements
python3 trim_wheel.py wheels/rapids_singlecell_cu13-*.whl
ls wheels | wc -l | xargs echo "wheels:"
du -sh wheels
