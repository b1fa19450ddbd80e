# Where computePCA's time goes, R included: each top-level statement of its
# body, as the package has it, timed on its own on the seed pipeline's scaled
# HVG matrix (one GPU's share unless told). The statements are evaluated one
# by one in a frame of the cellshard namespace with computePCA's arguments
# bound, so this follows the code as it changes. Median of `reps` runs after a
# warm-up; R's garbage collected before each run, outside the clock.
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

ns <- asNamespace("cellshard")
statements <- as.list(body(ns$computePCA))[-1]
labels <- vapply(statements, function(s) {
    text <- paste(trimws(deparse(s, width.cutoff = 500L)), collapse = " ")
    if (nchar(text) > 70) paste0(substr(text, 1, 67), "...") else text
}, "")
one_run <- function() {
    frame <- new.env(parent = ns)
    frame$sce <- out; frame$ncomponents <- 100; frame$zero.center <- TRUE
    frame$subset.row <- NULL; frame$assay.type <- NULL; frame$name <- "PCA"
    invisible(gc())
    seconds <- numeric(length(statements))
    for (i in seq_along(statements)) {
        t0 <- clock()
        eval(statements[[i]], frame)
        seconds[i] <- clock() - t0
    }
    list(seconds = seconds, phases = frame$seconds)
}
invisible(one_run())  # warm-up
runs <- lapply(seq_len(reps), function(r) one_run())
per_statement <- apply(do.call(rbind, lapply(runs, `[[`, "seconds")), 2, median)
phases <- apply(do.call(rbind, lapply(runs, `[[`, "phases")), 2, median)
whole <- vapply(seq_len(reps), function(r) {
    invisible(gc()); t0 <- clock(); invisible(computePCA(out, ncomponents = 100)); clock() - t0
}, 0)
cat(sprintf("\ncomputePCA statement by statement, median of %d runs (s):\n", reps))
for (i in order(-per_statement)[seq_len(min(12, length(per_statement)))])
    cat(sprintf("  %7.4f  %s\n", per_statement[i], labels[i]))
cat(sprintf("  %7.4f  all statements\n", sum(per_statement)))
cat("its phases (metadata(sce)$PCA$seconds):\n")
print(round(phases, 4))
cat(sprintf("computePCA as a whole: %s s\n", paste(sprintf("%.3f", whole), collapse = ", ")))
