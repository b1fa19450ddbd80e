#!/bin/bash
# Renders the vignette on the GPU machine (issue 5: the vignette with its
# pictures, on the GPU backend). That machine has no pandoc, so knitr writes
# Markdown and the markdown package makes the HTML; figures are PNGs beside it.
# Needs an R bundle with knitr, markdown and ggplot2, and the graphics bundle:
#   EXTRA_PKGS="knitr markdown ggplot2" ../shared/tools/device-r-bundle .devr-vig   # here, once
#   bash tools/device-graphics-bundle.sh .devgfx                                     # here, once
# then, in a device run carrying .devr-vig and .devgfx, after installing the package:
#   source .devr-vig/activate.sh && source .devgfx/activate.sh && bash tools/device-vignette.sh
# Output: $OUT/vignette/cellshard.html, its figure/ folder and the knit log.
set -u -o pipefail
DEST=${OUT:-/tmp}/vignette
mkdir -p "$DEST"
cd "$DEST" || exit 1
SRC=$OLDPWD/vignettes/cellshard.Rmd
START=$(date +%s)
Rscript -e 'knitr::opts_chunk$set(fig.path = "figure/")' \
  -e "knitr::knit('$SRC', 'cellshard.md', quiet = TRUE)" \
  -e "markdown::mark_html('cellshard.md', output = 'cellshard.html')" > knit.log 2>&1
status=$?
echo "vignette: exit $status in $(( $(date +%s) - START )) s; $(ls figure 2>/dev/null | wc -l) figures"
tail -5 knit.log
exit $status
