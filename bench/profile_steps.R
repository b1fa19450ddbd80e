# (Superseded by bench/r_overhead.R, which times every cellshard function by the
# wall clock; kept because BENCHMARKS.md quotes its runs.)
# Where each step's time goes: runs the seed sequence verb by verb (as
# runSeedPipeline does) with every C++ entry point (cs_*) timed, and prints,
# per step, the seconds spent inside each entry point and the rest (R code:
# colData, subsetting, garbage collection), then R's profile of the run.
#
#   Rscript bench/profile_steps.R [n.cells] [device | cpu]     (defaults: 1430156, 0)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]

ns <- asNamespace("cellshard")
calls <- new.env()
current <- "none"
for (name in grep("^cs_", ls(ns), value = TRUE)) {
    local({
        f <- get(name, envir = ns)
        fname <- name
        wrapped <- function(...) {
            t0 <- clock()
            on.exit({
                key <- paste(current, fname, sep = "\t")
                calls[[key]] <- c(calls[[key]], clock() - t0)
            })
            f(...)
        }
        unlockBinding(fname, ns)
        assign(fname, wrapped, envir = ns)
        lockBinding(fname, ns)
    })
}

steps <- list()
step <- function(label, expr) {
    current <<- label
    t0 <- clock()
    value <- expr
    steps[[label]] <<- clock() - t0
    current <<- "none"
    value
}
seed_sequence <- function(sce) {
    sce <- step("qc metrics", qcMetrics(sce, subsets = list(mt = grepl("^MT-", rownames(sce)))))
    sce <- step("filter", sce[SummarizedExperiment::rowData(sce)$n_cells_by_counts >= 10,
                              sce$n_genes_by_counts >= 200 & sce$n_genes_by_counts <= 10000])
    sce <- step("normalize + log1p", normalizeTotal(sce, target.sum = 1e4, log = TRUE))
    sce <- step("highly variable genes", highlyVariableGenes(sce, n.top = 5000, flavor = "cell_ranger",
                                                             subset = TRUE))
    sce <- step("rebalance", rebalance(sce))
    sce <- step("scale", scaleGenes(sce, zero.center = FALSE))
    sce <- step("pca", computePCA(sce, ncomponents = 100))
    sce
}

atlas <- simulateAtlas(n_cells, seed = 1, devices = device)
invisible(seed_sequence(atlas)); invisible(gc())
for (k in ls(calls)) rm(list = k, envir = calls)
steps <- list()
prof <- tempfile()
Rprof(prof, interval = 0.005, gc.profiling = TRUE)
out <- seed_sequence(atlas)
Rprof(NULL)

cat(sprintf("\n%s cells, %s: seconds per step and inside each C++ entry point (calls)\n",
            format(n_cells, big.mark = ","), if (identical(device, "cpu")) "CPU" else paste("GPU", device)))
keys <- ls(calls)
for (s in names(steps)) {
    mine <- keys[startsWith(keys, paste0(s, "\t"))]
    inside <- 0
    cat(sprintf("%-24s %8.3f\n", s, steps[[s]]))
    for (k in mine) {
        t <- calls[[k]]
        inside <- inside + sum(t)
        cat(sprintf("    %-30s %8.3f  (%d)\n", sub(".*\t", "", k), sum(t), length(t)))
    }
    cat(sprintf("    %-30s %8.3f\n", "R and the rest", steps[[s]] - inside))
}
cat(sprintf("total %.3f s\n", sum(unlist(steps))))
cat("\nR profile of the timed run (Rprof, 5 ms samples; <GC> is R's garbage collector), by self time:\n")
print(head(summaryRprof(prof)$by.self, 12))
