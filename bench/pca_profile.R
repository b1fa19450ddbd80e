# computePCA's own R time on the seed pipeline's matrix: the call against its
# phases, and an R profile (Rprof, every 2 ms of CPU time) of a few calls.
#   Rscript bench/pca_profile.R [n.cells] [device] [calls]     (1430156 0 5)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
calls <- if (length(args) >= 3) as.integer(args[3]) else 5L
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]
out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = device), verbose = FALSE)
invisible(computePCA(out, ncomponents = 100))  # warm-up
for (i in seq_len(calls)) {
    invisible(gc())
    gc0 <- gc.time()[3]
    t0 <- clock()
    x <- computePCA(out, ncomponents = 100)
    wall <- clock() - t0
    ph <- metadata(x)$PCA$seconds
    cat(sprintf("call %.3f s, phases %.3f s (%s), R's collector %.3f s\n", wall, sum(ph),
                paste(sprintf("%s %.3f", names(ph), ph), collapse = ", "), gc.time()[3] - gc0))
    rm(x)
}
invisible(gc())
prof <- tempfile()
Rprof(prof, interval = 0.002, line.profiling = FALSE)
for (i in seq_len(calls)) invisible(computePCA(out, ncomponents = 100))
Rprof(NULL)
s <- summaryRprof(prof)
cat(sprintf("\nRprof over %d calls (CPU seconds of the process, all threads):\n", calls))
print(head(s$by.total[, c("total.time", "self.time")], 30))
cat("\nby self time:\n")
print(head(s$by.self[, c("self.time", "total.time")], 15))
