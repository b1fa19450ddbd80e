# Where computePCA's time goes, R included, on the seed pipeline's scaled HVG
# matrix (one GPU's share unless told): the matrix's stored entries and its
# sparse Gram's products, each statement of computePCA timed on its own
# (bench/pca_breakdown.R, median of `reps` runs), then the whole call.
#   Rscript bench/pca_parts.R [n.cells] [device | cpu] [reps]     (1430156 0 3)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
reps <- if (length(args) >= 3) as.integer(args[3]) else 3L
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]

out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = device), verbose = FALSE)
m <- assay(out, "scaled", withDimnames = FALSE)
nnz <- sum(deviceLayout(m)$nnz)
# The sparse Gram's products: each cell's stored pairs, its diagonal included.
per_cell <- qcMetrics(out, assay.type = "scaled")$n_genes_by_counts
cat(sprintf("scaled HVG matrix: %d cells x %d genes, nnz %.4g (%.2f%% stored), Gram products %.4g\n",
            ncol(out), nrow(out), nnz, 100 * nnz / (as.numeric(nrow(out)) * ncol(out)),
            sum(per_cell * (per_cell + 1) / 2)))
rm(per_cell)

here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)))
source(file.path(here, "pca_breakdown.R"))
source(file.path(here, "pca_result.R"))
whole <- vapply(seq_len(reps), function(r) {
    invisible(gc()); t0 <- clock(); invisible(computePCA(out, ncomponents = 100)); clock() - t0
}, 0)
cat(sprintf("computePCA as a whole: %s s\n", paste(sprintf("%.3f", whole), collapse = ", ")))
# What the call computed, to 17 digits: two runs of different code that should
# give the same bits (bench/pca-before-after.sh) print the same lines.
pcs <- reducedDim(computePCA(out, ncomponents = 100), "PCA", withDimnames = FALSE)
cat(sprintf("result: %s\n", pca_result_line(pcs)))
# One more call with the GPU's phases timed (each phase synchronises the
# stream, so this call is not among the timed ones): the Gram's layout and
# tiles, chefsi's sweeps, products with A and where its time went.
report <- asNamespace("cellshard")$cs_gpu_phase_report
if (!identical(device, "cpu") && is.function(report) && !is.null(report())) {
    Sys.setenv(CELLSHARD_GRAM_PROFILE = "1", CELLSHARD_CHEFSI_PROFILE = "1")
    invisible(computePCA(out, ncomponents = 100))
    Sys.unsetenv(c("CELLSHARD_GRAM_PROFILE", "CELLSHARD_CHEFSI_PROFILE"))
    r <- report()
    cat(sprintf("profiled call: Gram (%d chunks) %s s; chefsi %d sweeps (degrees %s), %.0f products (%.2f n), %s pairs locked by value, %s s\n",
                if (is.null(r$gram_chunks)) NA_integer_ else r$gram_chunks, paste(sprintf("%s %.4f", names(r$gram), r$gram), collapse = ", "),
                r$chefsi$sweeps, paste(r$chefsi$sweep_degree, collapse = " "),
                r$chefsi$products, r$chefsi$products / nrow(out),
                if (is.null(r$chefsi$bulk_locked)) "?" else r$chefsi$bulk_locked,
                paste(sprintf("%s %.4f", names(r$chefsi$seconds), r$chefsi$seconds), collapse = ", ")))
}
