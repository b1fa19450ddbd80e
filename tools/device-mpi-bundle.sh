#!/bin/bash
# Packs this machine's Open MPI (Debian's openmpi-bin, libopenmpi-dev and the
# libraries they use) into OUT/mpibundle.tar.xz, so that cellshard's MPI path
# can be built and run on the GPU machine, which has no MPI. The companion of
# ../shared/tools/device-r-bundle, used the same way:
#
#   sh tools/install-deps.sh                        # here: Open MPI installed
#   bash tools/device-mpi-bundle.sh .devmpi         # here, once
#   echo /.devmpi/ >> .git/info/exclude             # keep it out of git
# then, in a device run that carries .devr and .devmpi:
#   source .devr/activate.sh && source .devmpi/activate.sh
#   bash tools/gpu-check.sh quick                   # builds with MPI, runs test-mpi.R too
#
# Open MPI finds its plugins and help files at the absolute paths it was
# built for, so its own files unpack at those paths (under /usr; only where
# the machine has no mpirun of its own, which is then used instead); the
# libraries it needs beyond the C runtime go to /tmp/devmpi/syslib, on
# LD_LIBRARY_PATH, rather than over the machine's own.
set -euo pipefail
OUT=${1:?usage: device-mpi-bundle.sh OUTDIR}
command -v mpicc >/dev/null || { echo "Open MPI is not installed here: run sh tools/install-deps.sh" >&2; exit 1; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d)
dpkg -L openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev |
  grep -v -e '/share/man' -e '/share/doc' |
  while read -r f; do if [ -f "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done > "$W/files"
mkdir -p "$W/tmp/devmpi/syslib"
grep -E '\.so|/bin/' "$W/files" | while read -r elf; do
  { ldd "$elf" 2>/dev/null || true; } | awk '$3 ~ /^\// {print $3}'; done | sort -u |
  while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libstdc++*|libgcc_s*|ld-linux*) continue ;;
    esac
    grep -qx "$lib" "$W/files" || cp -L "$lib" "$W/tmp/devmpi/syslib/"
  done
sed 's|^/||' "$W/files" > "$W/relative"
tar -C / -cf "$W/bundle.tar" -T "$W/relative"
tar -C "$W" -rf "$W/bundle.tar" tmp/devmpi/syslib
xz -T0 -6 -c "$W/bundle.tar" > "$OUT/mpibundle.tar.xz"
rm -rf "$W"
cat > "$OUT/activate.sh" <<'EOS'
# source me on the GPU machine (after .devr/activate.sh): Open MPI on PATH
_M=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v mpirun >/dev/null; then
  [ -x /usr/bin/mpirun.openmpi ] || tar -C / -xJf "$_M/mpibundle.tar.xz"
  mkdir -p /tmp/devmpi/bin
  for t in mpirun mpiexec mpicc mpicxx; do ln -sf /usr/bin/$t.openmpi /tmp/devmpi/bin/$t; done
  export PATH=/tmp/devmpi/bin:$PATH
  export LD_LIBRARY_PATH=/tmp/devmpi/syslib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --version | head -1
EOS
echo "wrote $OUT/mpibundle.tar.xz ($(du -h "$OUT/mpibundle.tar.xz" | cut -f1)) and $OUT/activate.sh"
