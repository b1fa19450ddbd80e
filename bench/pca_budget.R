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
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "pca_result.R"))

out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = 0L), verbose = FALSE)
cat(sprintf("scaled HVG matrix: %d cells x %d genes\n", ncol(out), nrow(out)))
chunks <- function() asNamespace("cellshard")$cs_gpu_phase_report()$gram_chunks
for (room in rooms) {
    runs <- lapply(seq_len(reps + 1), function(r) {
        # the budget from what cellshard holds just before the call (earlier
        # calls' scores are collected first)
        invisible(gc())
        held <- deviceMemory(0L)$held
        budget <- if (room == "none") NULL else
            held + asNamespace("cellshard")$.parseBytes(if (room == "0") 1 else room)
        old <- options(cellshard.device.memory = budget)
        on.exit(options(old))
        t0 <- clock()
        sce <- computePCA(out, ncomponents = 100)
        whole <- clock() - t0
        pcs <- reducedDim(sce, "PCA", withDimnames = FALSE)
        list(whole = whole, gram = metadata(sce)$PCA$seconds[["gram"]], held = held,
             chunks = chunks(), line = pca_result_line(pcs))
    })[-1]
    whole <- vapply(runs, `[[`, 0, "whole"); gram <- vapply(runs, `[[`, 0, "gram")
    cat(sprintf("room %-6s (held %.2f GB): %d Gram chunks; computePCA %.3f s (%.3f-%.3f), Gram %.4f s; %s\n",
                room, runs[[1]]$held / 1e9, runs[[1]]$chunks, median(whole), min(whole),
                max(whole), median(gram), runs[[1]]$line))
}
