# The seed notebook's sequence on one GPU's share of the reference workload
# (SYNTHETIC.md: 1,430,156 cells x 45,854 genes, ~2.9e9 non-zeros), generated
# on the device. Prints the generator's statistics and the per-step times of
# runSeedPipeline (a warm-up run, then a timed run), then checks the same
# pipeline with the cells in 3 uneven shards on the same device (every 64-bit
# code path past 2^31 non-zeros against shards below it).
#
#   Rscript bench/seed_share.R [n.cells] [device | cpu]     (defaults: 1430156, 0)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
options(cellshard.verbose = TRUE)
cellshardInfo()

timed <- function(expr) {
    t0 <- proc.time()[["elapsed"]]
    value <- expr
    list(value = value, seconds = proc.time()[["elapsed"]] - t0)
}
pipeline <- function(sce) runSeedPipeline(sce, verbose = FALSE)

gen <- timed(simulateAtlas(n_cells, seed = 1, devices = device))
atlas <- gen$value
syn <- metadata(atlas)$synthetic
cat(sprintf("synthetic atlas: %d cells x %d genes, nnz %.4g, mean detected genes %.1f, generated in %.2f s\n",
            syn$cells, syn$genes, syn$nnz, syn$mean.detected, gen$seconds))

warm <- timed(pipeline(atlas))
rm(warm); invisible(gc())
run <- timed(pipeline(atlas))
out <- run$value
tm <- metadata(out)$timings
cat("\nper-step seconds (second run):\n")
print(tm, row.names = FALSE, digits = 4)
cat(sprintf("total %.3f s (pipeline wall time %.3f s)\n", sum(tm$seconds), run$seconds))
cat("PCA phases (s):\n"); print(round(metadata(out)$PCA$seconds, 3))
nnz_hvg <- sum(deviceLayout(assay(out, "scaled"))$nnz)
cat(sprintf("scaled HVG matrix: nnz %.4g, density %.3f\n", nnz_hvg,
            nnz_hvg / (as.numeric(nrow(out)) * ncol(out))))
cat(sprintf("kept %d cells x %d genes; PCA %d x %d\n", ncol(out), nrow(out),
            nrow(reducedDim(out)), ncol(reducedDim(out))))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "pca_breakdown.R"))
one <- list(cells = colnames(out), genes = rownames(out), pca = reducedDim(out, "PCA"),
            qc = atlas$n_genes_by_counts)
rm(out, atlas, run, gen); invisible(gc())

# The same cells in 3 uneven shards on the same device.
sizes <- round(n_cells * c(0.5, 0.3, 0.2)); sizes[3] <- n_cells - sum(sizes[1:2])
three <- pipeline(simulateAtlas(n_cells, seed = 1, devices = device, shards = sizes))
pcs <- reducedDim(three, "PCA")
cor_pc <- abs(diag(cor(one$pca[, 1:20], pcs[, 1:20])))
cat(sprintf("\n3 shards vs 1: same cells %s, same HVGs %s, PC1-20 min |cor| %.6f\n",
            identical(one$cells, colnames(three)), identical(one$genes, rownames(three)),
            min(cor_pc)))
