# The whole spectrum of the seed pipeline's PCA matrix (the covariance of the
# scaled HVG matrix, one GPU's share unless told), by syevdx, written one
# eigenvalue a line (descending) for bench/chefsi_simulate.R; then chefsi
# (k = 100) with the package's settings and with each setting given, a setting
# being NAME=value[,NAME=value] for the environment variables
# CELLSHARD_CHEFSI_NAME (BLOCK, TOLERANCE, VALUE_TOLERANCE, LOW, MAX_DEGREE,
# MAX_RATIO): eigen seconds
# (median of 3 after a warm-up), then one profiled call's sweeps, degrees,
# active widths, locked pairs and products (what the simulation should
# reproduce), and the distance from syevdx's answer (eigenvalues, relative;
# |cos| of the eigenvectors separated by > 1%, SPEC.md's bar).
#   Rscript bench/pca_spectrum.R [n.cells] [device] [out.txt] [settings ...]
#   (1430156 0 spectrum.txt; e.g. MAX_DEGREE=72 BLOCK=192,MAX_DEGREE=90)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) >= 2) as.integer(args[2]) else 0L
out_file <- if (length(args) >= 3) args[3] else "spectrum.txt"
settings <- c("default", if (length(args) >= 4) args[-(1:3)])
options(cellshard.verbose = FALSE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))
source(file.path(here, "eigen_reference.R"))
source(file.path(here, "pca_matrix.R"))

pca <- pca_matrix_eigen(n_cells, device)
m <- pca$matrix
whole <- pca$whole
writeLines(sprintf("%.17g", whole), out_file)
cat(sprintf("%d cells x %d genes: %d eigenvalues to %s (largest %.6g, 100th %.6g, 129th %.6g, smallest %.6g)\n",
            ncol(m), nrow(m), length(whole), out_file, whole[1], whole[100], whole[129],
            whole[length(whole)]))
for (setting in settings) {
    vars <- if (setting == "default") character() else {
        kv <- strsplit(strsplit(setting, ",")[[1]], "=")
        structure(vapply(kv, `[`, "", 2), names = paste0("CELLSHARD_CHEFSI_", vapply(kv, `[`, "", 1)))
    }
    run <- chefsi_with(pca, vars)
    ch <- run$chefsi
    distance <- run$distance
    cat(sprintf("%-28s eigen %.4f s, products %.0f, sweeps %d, degrees %s, active %s, locked %s, max rel. value diff %.3g, min |cos| sep %.12f%s\n",
                setting, run$seconds, ch$products, ch$sweeps,
                paste(ch$sweep_degree, collapse = " "), paste(ch$sweep_active, collapse = " "),
                paste(ch$sweep_locked, collapse = " "), distance[["value"]], distance[["cosine"]],
                if (isTRUE(ch$converged)) "" else " (did not converge: syevdx answered)"))
    cat(sprintf("%-28s phases: %s\n", "", paste(names(ch$seconds), sprintf("%.4f", ch$seconds),
                                                 sep = " ", collapse = ", ")))
}
