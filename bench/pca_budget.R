# computePCA on the seed pipeline's scaled HVG matrix under memory budgets
# that leave the sparse Gram's working buffers less and less room (the budget
# set to what cellshard holds on the device plus `room`): how many chunks the
# Gram takes, the whole call's seconds (median and range of `reps`) and its
# Gram phase, and the result line (the same components; the last bits may
# move, since the row blocks' sums are added in another order).
#   Rscript bench/pca_budget.R [n.cells] [reps] [room ...]
#   (1430156 3 none 1GB 256MB 0; "none": no budget set)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
reps <- if (length(args) >= 2) as.integer(args[2]) else 3L
rooms <- if (length(args) >= 3) args[-(1:2)] else c("none", "1GB", "256MB", "0")
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]

out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = 0L), verbose = FALSE)
cat(sprintf("scaled HVG matrix: %d cells x %d genes\n", ncol(out), nrow(out)))
chunks <- function() asNamespace("cellshard")$cs_gpu_phase_report()$gram_chunks
for (room in rooms) {
    invisible(gc())
    held <- deviceMemory(0L)$held
    budget <- if (room == "none") NULL else held + asNamespace("cellshard")$.parseBytes(
        if (room == "0") 1 else room)
    old <- options(cellshard.device.memory = budget)
    runs <- lapply(seq_len(reps + 1), function(r) {
        invisible(gc()); t0 <- clock()
        sce <- computePCA(out, ncomponents = 100)
        list(whole = clock() - t0, gram = metadata(sce)$PCA$seconds[["gram"]], sce = sce)
    })[-1]
    options(old)
    whole <- vapply(runs, `[[`, 0, "whole"); gram <- vapply(runs, `[[`, 0, "gram")
    pcs <- reducedDim(runs[[1]]$sce, "PCA", withDimnames = FALSE)
    cat(sprintf("room %-6s (held %.2f GB): %d Gram chunks; computePCA %.3f s (%.3f-%.3f), Gram %.4f s; variances %.17g, |rotation| %.17g, |scores| of cell 1 %.17g\n",
                room, held / 1e9, chunks(), median(whole), min(whole), max(whole), median(gram),
                sum(attr(pcs, "varExplained")), sum(abs(attr(pcs, "rotation"))),
                sum(abs(pcs[1, ]))))
}
