#!/bin/sh
# Installs what cellshard needs on Debian 12 (bookworm): R, the Bioconductor
# packages it imports, HDF5 and zlib headers, Open MPI (for runs under
# mpirun / srun; the test suite runs the pipeline on 2 and 3 ranks), and what
# its tests and vignette use (scater, scran and Seurat for the
# interoperability tests; hdf5r to rewrite h5ad storage layouts in the
# reader tests).
# Nothing is downloaded from outside Debian. Skips apt when all are present.
set -e
PKGS="r-base-core r-base-dev r-cran-rcpp r-cran-rcpparmadillo r-cran-matrix r-cran-cli r-cran-testthat
  r-bioc-singlecellexperiment r-bioc-summarizedexperiment r-bioc-delayedarray r-bioc-s4vectors
  r-bioc-biocgenerics r-bioc-scuttle r-cran-knitr r-cran-rmarkdown r-cran-ggplot2
  r-bioc-scater r-bioc-scran r-cran-seurat r-cran-hdf5r
  libhdf5-dev hdf5-tools zlib1g-dev python3-anndata python3-h5py openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
