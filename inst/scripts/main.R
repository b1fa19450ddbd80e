# The main job, for now: read the bundled 10x file onto the devices (every
# visible GPU, or the CPU backend), and summarise it without leaving them.
# It grows into the seed pipeline (QC, filter, normalise, HVG, scale, PCA).
#   Rscript inst/scripts/main.R [file.h5 | file.h5ad | 10x-folder]
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args)) args[1] else system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")

info <- cellshardInfo()
timed <- function(label, expr) {
    t0 <- proc.time()[["elapsed"]]
    value <- expr
    cat(sprintf("%-28s %8.3f s\n", label, proc.time()[["elapsed"]] - t0))
    value
}
reader <- if (dir.exists(path)) read10xMtx else if (grepl("\\.h5ad$", path)) readH5AD else read10xH5
sce <- timed(paste("read", basename(path)), reader(path))
counts <- SingleCellExperiment::counts(sce)
per_cell <- timed("per-cell totals (colSums)", colSums(counts))
per_gene <- timed("per-gene totals (rowSums)", rowSums(counts))
kept <- timed("subset cells >= 50 counts", sce[per_gene > 0, per_cell >= 50])

cat("\n")
print(sce)
cat("\nLayout of the counts on the devices:\n")
print(deviceLayout(counts))
cat(sprintf("\nCells: %d; genes: %d; non-zeros: %s\n", ncol(sce), nrow(sce),
            format(sum(deviceLayout(counts)$nnz), big.mark = ",")))
cat(sprintf("Counts per cell: median %.0f (range %.0f to %.0f)\n", stats::median(per_cell),
            min(per_cell), max(per_cell)))
cat(sprintf("Genes detected in at least one cell: %d of %d\n", sum(per_gene > 0), length(per_gene)))
cat(sprintf("Cells with at least 50 counts (kept on the devices): %d\n", ncol(kept)))
top <- utils::head(sort(per_gene, decreasing = TRUE), 5)
ids <- names(top)
symbols <- SummarizedExperiment::rowData(sce)[ids, "name"]
cat("Top genes by total counts:", paste0(symbols, " (", top, ")", collapse = ", "), "\n")
releaseDevice(sce); releaseDevice(kept)
