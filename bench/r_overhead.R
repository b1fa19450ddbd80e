# Where the R side of each seed step spends its time: every closure of the
# cellshard namespace is wrapped (except those that look at their caller:
# substitute, parent.frame, sys.call, match.call, missing) and timed by the
# wall clock, and each function's exclusive seconds (its own body, including
# the Bioconductor and base calls it makes, excluding wrapped functions it
# calls) are printed per step. Unlike Rprof, the wall clock also counts time
# spent waiting on GPUs and in threads.
#
#   Rscript bench/r_overhead.R [n.cells] [device | cpu] [n.genes]   (defaults: 1430156, 0, 45854)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) < 2) 0L else if (args[2] == "cpu") "cpu" else as.integer(args[2])
n_genes <- if (length(args) >= 3) as.integer(args[3]) else 45854L
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]

ns <- asNamespace("cellshard")
exclusive <- new.env()
children <- numeric(0)  # a stack: seconds spent in wrapped callees of each open frame
current <- "none"
looks_at_caller <- function(f)
    any(grepl("substitute|parent\\.frame|sys\\.call|sys\\.function|match\\.call|missing\\(",
              deparse(body(f))))
for (name in ls(ns, all.names = TRUE)) {
    f <- get(name, envir = ns)
    if (!is.function(f) || is.primitive(f) || methods::is(f, "standardGeneric") ||
        looks_at_caller(f)) next
    local({
        inner <- f
        fname <- name
        wrapped <- function(...) {
            t0 <- clock()
            children <<- c(children, 0)
            on.exit({
                took <- clock() - t0
                depth <- length(children)
                own <- took - children[depth]
                children <<- children[-depth]
                if (depth > 1) children[depth - 1] <<- children[depth - 1] + took
                key <- paste(current, fname, sep = "\t")
                exclusive[[key]] <- c(exclusive[[key]], own)
            })
            inner(...)
        }
        for (env in list(ns, as.environment("package:cellshard")))  # exports are bound twice
            if (exists(fname, envir = env, inherits = FALSE)) {
                unlockBinding(fname, env)
                assign(fname, wrapped, envir = env)
                lockBinding(fname, env)
            }
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
    sce <- step("highly variable genes", highlyVariableGenes(sce, n.top = min(5000, nrow(sce) %/% 2),
                                                             flavor = "cell_ranger", subset = TRUE))
    sce <- step("rebalance", rebalance(sce))
    sce <- step("scale", scaleGenes(sce, zero.center = FALSE))
    sce <- step("pca", computePCA(sce, ncomponents = min(100, nrow(sce) - 1)))
    sce
}

atlas <- simulateAtlas(n_cells, n.genes = n_genes, seed = 1, devices = device)
invisible(seed_sequence(atlas)); invisible(gc())
for (k in ls(exclusive)) rm(list = k, envir = exclusive)
steps <- list()
gc0 <- gc.time()[3]
out <- seed_sequence(atlas)
cat(sprintf("\n%s cells x %d genes, %s; R gc in the run %.3f s\n", format(n_cells, big.mark = ","),
            n_genes, if (identical(device, "cpu")) "CPU" else paste("GPU", device), gc.time()[3] - gc0))
cat("seconds per step; under it, each wrapped function's own seconds (>= 1 ms), largest first\n")
keys <- ls(exclusive)
for (s in names(steps)) {
    mine <- keys[startsWith(keys, paste0(s, "\t"))]
    own <- vapply(mine, function(k) sum(exclusive[[k]]), numeric(1))
    calls <- vapply(mine, function(k) length(exclusive[[k]]), integer(1))
    cat(sprintf("%-24s %8.3f   (outside wrapped functions: %.3f)\n", s, steps[[s]],
                steps[[s]] - sum(own)))
    o <- order(-own)
    for (i in o[own[o] >= 0.001])
        cat(sprintf("    %-34s %8.3f  (%d)\n", sub(".*\t", "", mine[i]), own[i], calls[i]))
}
cat(sprintf("total %.3f s\n", sum(unlist(steps))))
