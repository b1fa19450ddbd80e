# chefsi's filter and the lower end of the spectrum (issue 8): on the seed
# pipeline's PCA matrix (one GPU's share unless told), the whole spectrum by
# syevdx (its smallest eigenvalues: how far above 0, the filter's lower end
# now, the spectrum starts), then chefsi with the damped interval's lower end
# set to each value in turn (CELLSHARD_CHEFSI_LOW): eigen seconds (median of
# 3 after a warm-up), sweeps and products with A (one more, profiled call),
# and the distance from syevdx's answer (eigenvalues, relative; |cos| of the
# eigenvectors separated by > 1%, SPEC.md's bar).
#   Rscript bench/chefsi_bounds.R [n.cells] [device] [lows, comma-separated]   (1430156 0 0,0.2,0.4)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) >= 2) as.integer(args[2]) else 0L
lows <- if (length(args) >= 3) as.numeric(strsplit(args[3], ",")[[1]]) else c(0, 0.2, 0.4)
options(cellshard.verbose = FALSE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))
source(file.path(here, "eigen_reference.R"))
source(file.path(here, "pca_matrix.R"))

k <- 100L
pca <- pca_matrix_eigen(n_cells, device, k)
m <- pca$matrix
n <- nrow(m)
whole <- pca$whole
cat(sprintf("%d cells x %d genes; the covariance's spectrum: largest %.6g, 100th %.6g, 128th %.6g, median %.6g, smallest %s\n",
            ncol(m), n, whole[1], whole[100], whole[128], stats::median(whole),
            paste(signif(rev(tail(whole, 5)), 6), collapse = ", ")))
cat(sprintf("%8s %8s %6s %10s %14s %14s\n", "low", "eigen s", "sweeps", "products", "max rel value",
            "min |cos| sep"))
for (low in lows) {
    run <- chefsi_with(pca, c(CELLSHARD_CHEFSI_LOW = low))
    ch <- run$chefsi
    distance <- run$distance
    cat(sprintf("%8.3g %8.4f %6d %10.0f %14.3g %14.12f%s\n", low, run$seconds, ch$sweeps,
                ch$products, distance[["value"]], distance[["cosine"]],
                if (isTRUE(ch$converged)) "" else "  (did not converge: syevdx answered)"))
}
