# Run by test-mpi.R under mpirun: the seed pipeline on each rank's share of
# the cells, with the per-cell results gathered on rank 0, which saves them
# for the test process to compare with one process's results.
# Arguments: output .rds, pbmc3k .h5ad (or "-"), 10x .h5, cells of the
# synthetic atlas (0: none), devices ("cpu", or "auto": the node's GPUs
# shared out by cellshardInit), and optionally a device memory budget per rank
# (out of core: each rank streams its own share).
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(cellshard))
if (length(args) >= 6) options(cellshard.device.memory = args[6])
cl <- cellshardInit(mpi = TRUE, devices = if (args[5] == "cpu") "cpu", timeout = 120)
out <- list(size = cl$size, nccl = cl$nccl,
            devices = cellshard:::.clusterGather(cl$devices, "test"))

if (args[2] != "-") {
    sce <- suppressMessages(readH5AD(args[2]))
    # The share each rank read (the test checks: contiguous, in rank order, all cells).
    out$pbmc_shares <- cellshard:::.clusterGather(colnames(sce), "test")
    # Where each rank keeps its shards (under a budget: streamed, not on the device).
    out$pbmc_homes <- cellshard:::.clusterGather(unique(deviceLayout(counts(sce))$home), "test")
    res <- runSeedPipeline(sce, n.top = 2000, ncomponents = 30)
    out$pbmc <- gatherCells(res)
    # The median target, and batches that each rank sees only some of (the
    # last rank holds none of these cells at all).
    sub <- sce[, sce$batch %in% c("b1", "b2", "b3")]
    norm <- normalizeTotal(sub, target.sum = NULL, log = TRUE)
    out$median_target <- metadata(norm)$normalizeTotal$target.sum
    out$hvg_batch <- as.data.frame(rowData(highlyVariableGenes(norm, n.top = 500, batch = "batch")))
    # The whole pipeline on those cells: the last rank runs it without cells.
    out$pbmc_sub <- gatherCells(runSeedPipeline(sub, n.top = 500, ncomponents = 10))
    out$hvg_v3_batch <- as.data.frame(rowData(suppressWarnings(highlyVariableGenes(
        sub, n.top = 500, flavor = "seurat_v3", batch = "batch"))))
}

tenx <- read10xH5(args[3])
out$tenx <- gatherCells(tenx, assays = "counts")

if (as.numeric(args[4]) > 0) {
    atlas <- suppressMessages(simulateAtlas(as.numeric(args[4]), seed = 7, verbose = FALSE))
    out$atlas_first <- cellshard:::.clusterGather(colnames(atlas)[1], "test")
    res <- runSeedPipeline(atlas, n.top = 1000, ncomponents = 20)
    out$atlas <- gatherCells(res)
}
if (cl$rank == 0) saveRDS(out, args[1])
