# Where the filter step's time goes in one process driving several GPUs
# (session 5: it grew from 0.54 to 1.87 s at 5.72M cells on 4 GPUs once the QC
# columns lived outside R's heap). Times the cell mask, the subset with the
# QC columns as they are, and with them copied into R's heap; then profiles.
#   Rscript bench/filter_parts.R 5720624 4
suppressPackageStartupMessages(library(cellshard))
options(cellshard.verbose = FALSE)
args <- as.numeric(commandArgs(trailingOnly = TRUE))
a <- simulateAtlas(args[1], seed = 1, devices = seq_len(args[2]) - 1L)
q <- qcMetrics(a, subsets = list(mt = grepl("^(MT|mt)-", rownames(a))))
rows <- SummarizedExperiment::rowData(q)$n_cells_by_counts >= 10
clock <- function(label, expr) {
    t0 <- proc.time()[[3]]; g0 <- gc.time()[3]
    v <- force(expr)
    cat(sprintf("%-40s %.3f s (R gc %.3f s)\n", label, proc.time()[[3]] - t0, gc.time()[3] - g0))
    invisible(v)
}
for (rep in 1:2) {
    keep <- clock("mask (C++)", cellshard:::cs_in_range(q$n_genes_by_counts, 200, 10000))
    keep_r <- clock("mask (R)", q$n_genes_by_counts >= 200 & q$n_genes_by_counts <= 10000)
    f <- clock("subset, C++ columns, C++ mask", q[rows, keep]); rm(f)
    f <- clock("subset, C++ columns, R mask", q[rows, keep_r]); rm(f)
    cd <- SummarizedExperiment::colData(q)
    for (n in names(cd)) if (is.numeric(cd[[n]])) cd[[n]] <- cd[[n]] + 0L
    q2 <- q; SummarizedExperiment::colData(q2) <- cd
    f <- clock("subset, R columns, R mask", q2[rows, keep_r]); rm(f)
    f <- clock("colData subset alone (C++ columns)", SummarizedExperiment::colData(q)[keep_r, ]); rm(f)
    f <- clock("colData subset alone (R columns)", cd[keep_r, ]); rm(f)
    f <- clock("colnames subset", colnames(q)[keep_r]); rm(f)
    f <- clock("counts subset alone", counts(q)[rows, keep_r]); rm(f, q2, cd)
    seed <- counts(q)@seed
    f <- clock("cs_subset alone (C++ and devices)",
               cellshard:::cs_subset(seed@handle, which(keep_r), which(rows))); rm(f)
}
Rprof("/tmp/filter.prof", interval = 0.002)
f <- q[rows, keep]
Rprof(NULL)
print(head(summaryRprof("/tmp/filter.prof")$by.total[, 1:2], 25))
