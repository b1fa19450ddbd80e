# The R side's floor of the seed pipeline (issue 8's 0.2 s target): what the
# SingleCellExperiment interface alone costs at one GPU's share, with no
# cellshard and no data at all. Every assay is a DelayedArray over a
# ConstantArray (subsets of it only move indices), and each step makes the
# Bioconductor calls that returning a SingleCellExperiment implies:
#   qc               7 cell columns into colData, 6 gene columns into rowData
#   filter           the cell and gene masks, sce[genes, cells]
#   normalize_log1p  a logcounts assay
#   hvg              4 gene columns into rowData
#   hvg_subset       sce[hvgs, ]
#   scale            a scaled assay
#   pca_fit          a cells x 100 reducedDim (allocated before the clock) and metadata
# (the step names of bench/gpu_steps.R, so that issue8_report.py sets them side by side)
# Cell names like readH5AD's, gene names like the atlas's. Median of `reps`
# runs after a warm-up, R's garbage collected before each step (outside the
# clock), as bench/gpu_steps.R does.
#   Rscript bench/r_floor.R [n.cells] [reps] [out.csv]     (1430156 5 r_floor.csv)
suppressPackageStartupMessages({
    library(SingleCellExperiment)
    library(DelayedArray)
})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.integer(args[1]) else 1430156L
reps <- if (length(args) >= 2) as.integer(args[2]) else 5L
out_csv <- if (length(args) >= 3) args[3] else "r_floor.csv"
n_genes <- 45854L
n_hvg <- 5000L
k <- 100L
clock <- function() proc.time()[["elapsed"]]
lazy <- function(dim) DelayedArray(ConstantArray(dim, value = 0))

set.seed(1)
cells <- sprintf("cell_%07d", seq_len(n_cells))
genes <- sprintf("gene_%05d", seq_len(n_genes))
cell_columns <- function(n) {
    x <- lapply(1:7, function(j) runif(n, 0, 5000))
    names(x) <- c("n_genes_by_counts", "total_counts", "log1p_n_genes_by_counts",
                  "log1p_total_counts", "total_counts_mt", "log1p_total_counts_mt", "pct_counts_mt")
    x$n_genes_by_counts <- round(runif(n, 150, 6000))
    x
}
gene_columns <- function(n) {
    x <- lapply(1:6, function(j) runif(n))
    names(x) <- c("n_cells_by_counts", "mean_counts", "log1p_mean_counts",
                  "pct_dropout_by_counts", "total_counts", "log1p_total_counts")
    x$n_cells_by_counts <- round(runif(n, 0, 1e5))
    x
}

# One pipeline; returns each step's seconds. Inputs that a real pipeline would
# compute on the devices (the columns, the scores) are made before the clock.
run_once <- function() {
    sce <- SingleCellExperiment(assays = list(counts = lazy(c(n_genes, n_cells))))
    dimnames(sce) <- list(genes, cells)
    cc <- cell_columns(n_cells)
    gc_ <- gene_columns(n_genes)
    t <- numeric()
    step <- function(name, expr) {
        invisible(gc())
        t0 <- clock()
        force(expr)
        t[[name]] <<- clock() - t0
    }
    step("qc", {
        colData(sce) <- cbind(colData(sce), S4Vectors::DataFrame(cc))
        rowData(sce) <- cbind(rowData(sce), S4Vectors::DataFrame(gc_))
    })
    step("filter", {
        keep_cells <- sce$n_genes_by_counts >= 200
        keep_genes <- rowData(sce)$n_cells_by_counts >= 3
        sce <- sce[keep_genes, keep_cells]
    })
    step("normalize_log1p", assay(sce, "logcounts", withDimnames = FALSE) <- lazy(dim(sce)))
    hv <- list(means = runif(nrow(sce)), dispersions = runif(nrow(sce)),
               dispersions_norm = runif(nrow(sce)))
    hv$highly_variable <- rank(-hv$dispersions_norm, ties.method = "first") <= n_hvg
    step("hvg", rowData(sce) <- cbind(rowData(sce), S4Vectors::DataFrame(hv)))
    step("hvg_subset", sce <- sce[rowData(sce)$highly_variable, ])
    step("scale", assay(sce, "scaled", withDimnames = FALSE) <- lazy(dim(sce)))
    pcs <- matrix(0, ncol(sce), k)
    step("pca_fit", {
        reducedDim(sce, "PCA", withDimnames = FALSE) <- pcs
        metadata(sce)$PCA <- list(variance = numeric(k), variance_ratio = numeric(k))
    })
    t
}

invisible(run_once())  # warm-up: methods dispatched and cached
runs <- do.call(rbind, lapply(seq_len(reps), function(r) run_once()))
med <- apply(runs, 2, median)
cat(sprintf("R side of the seed pipeline's SingleCellExperiment calls, %d cells x %d genes, no data (median of %d):\n",
            n_cells, n_genes, reps))
for (s in names(med)) cat(sprintf("  %-16s %.4f s  (runs: %s)\n", s, med[[s]],
                                  paste(sprintf("%.3f", runs[, s]), collapse = " ")))
cat(sprintf("  %-16s %.4f s\n", "total", sum(med)))
write.csv(data.frame(step = c(names(med), "total"), seconds = c(med, sum(med)), cells = n_cells,
                     reps = reps), out_csv, row.names = FALSE)
cat("written to", out_csv, "\n")
