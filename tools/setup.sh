#!/bin/sh
# The README's first command: installs every dependency (Debian packages),
# builds and installs cellshard (with the CUDA backend where CUDA is found),
# and runs the main job on the bundled data.
set -e
cd "$(dirname "$0")/.."
sh tools/install-deps.sh
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO R CMD INSTALL --preclean .
Rscript inst/scripts/main.R "$@"
