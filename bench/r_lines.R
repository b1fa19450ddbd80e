# Line-level R profile of one timed seed run (after a warm-up), for the R side
# of each step. Needs the package installed with its sources kept:
#   R_KEEP_PKG_SOURCE=yes R CMD INSTALL .
#   Rscript bench/r_lines.R [n.cells] [device | cpu] [n.genes]
# Rprof samples CPU time, not wall time: waits without spinning are missed.
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
n_genes <- if (length(args) >= 3) as.integer(args[3]) else 45854L
options(cellshard.verbose = FALSE, keep.source = TRUE)
atlas <- simulateAtlas(n_cells, n.genes = n_genes, seed = 1, devices = device)
pipeline <- function(sce) {
    sce <- qcMetrics(sce, subsets = list(mt = grepl("^MT-", rownames(sce))))
    sce <- sce[SummarizedExperiment::rowData(sce)$n_cells_by_counts >= 10,
               sce$n_genes_by_counts >= 200 & sce$n_genes_by_counts <= 10000]
    sce <- normalizeTotal(sce, target.sum = 1e4, log = TRUE)
    sce <- highlyVariableGenes(sce, n.top = min(5000, nrow(sce) %/% 2), flavor = "cell_ranger",
                               subset = TRUE)
    sce <- rebalance(sce)
    sce <- scaleGenes(sce, zero.center = FALSE)
    computePCA(sce, ncomponents = min(100, nrow(sce) - 1))
}
invisible(pipeline(atlas)); invisible(gc())
prof <- tempfile()
t0 <- proc.time()[[3]]
Rprof(prof, interval = 0.002, line.profiling = TRUE, gc.profiling = TRUE)
out <- pipeline(atlas)
Rprof(NULL)
cat(sprintf("timed run %.3f s (wall)\n", proc.time()[[3]] - t0))
s <- summaryRprof(prof, lines = "show")
by_line <- s$by.line
cat("\nby line, self time (top 40):\n")
print(head(by_line[order(-by_line$self.time), c("self.time", "total.time")], 40))
cat("\nby function, total time (top 60):\n")
print(head(summaryRprof(prof)$by.total[, 1:3], 60))
