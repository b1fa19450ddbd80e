# The seed pipeline as MPI ranks on one multi-GPU host (issue 6, item 5):
# one rank per GPU, NCCL between the ranks, against one process driving the
# same GPUs, on the same synthetic atlas (each rank draws its own share).
#
#   mpirun -np 2 Rscript bench/mpi_ranks.R mpi    N ranks.rds
#   Rscript bench/mpi_ranks.R              single N single.rds
#   Rscript bench/mpi_ranks.R              compare ranks.rds single.rds
# With MPI_RANKS_TIMINGS_ONLY=1, mpi mode saves only the per-step seconds and
# the number of cells kept (for the whole 11.4M-cell workload).
# Each run warms up once, then times runSeedPipeline (default parameters:
# 5,000 HVGs, 100 PCs); rank 0 (or the single process) saves per-step
# seconds, the QC columns, the cells and genes kept and the PCs.
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]
t_start <- clock()

keep <- function(out) {
    qc <- as.data.frame(SummarizedExperiment::colData(out)[, c("n_genes_by_counts", "total_counts")])
    list(cells = colnames(out), genes = rownames(out), qc = qc,
         gene_qc = SummarizedExperiment::rowData(out)$n_cells_by_counts)
}

run_pipeline <- function(atlas) {
    warm <- runSeedPipeline(atlas, verbose = FALSE)
    rm(warm); invisible(gc())
    t0 <- proc.time()[["elapsed"]]
    out <- runSeedPipeline(atlas, verbose = FALSE)
    list(out = out, wall = proc.time()[["elapsed"]] - t0)
}

if (mode == "mpi") {
    cl <- cellshardInit(mpi = TRUE, timeout = 300)
    say <- function(...) if (cl$rank == 0) message(sprintf("[%.1f s] ", clock() - t_start), ...)
    atlas <- simulateAtlas(as.numeric(args[2]), seed = 1, verbose = FALSE)
    say("drew the atlas")
    r <- run_pipeline(atlas)
    say("ran the pipeline twice")
    timings <- metadata(r$out)$timings
    walls <- cellshard:::.clusterGather(r$wall, "bench")
    if (nzchar(Sys.getenv("MPI_RANKS_TIMINGS_ONLY"))) {
        # the whole workload: no gathering of 11M cells' PCs onto rank 0
        kept <- cellshard:::.clusterGather(ncol(r$out), "bench-cells")
        if (cl$rank == 0)
            saveRDS(list(timings = timings, wall = max(unlist(walls)), ranks = cl$size,
                         n_cells = sum(unlist(kept))), args[3])
        quit(save = "no")
    }
    all_cells <- gatherCells(r$out)  # rank 0: every rank's cells, PCs included
    say("gathered the cells")
    if (cl$rank == 0) {
        res <- c(keep(all_cells), list(pcs = reducedDim(all_cells, "PCA"), timings = timings,
                                       wall = max(unlist(walls)), ranks = cl$size, nccl = cl$nccl))
        saveRDS(res, args[3], compress = FALSE)  # gzip of 2 GB of PCs takes minutes
        say("saved")
    }
} else if (mode == "single") {
    atlas <- simulateAtlas(as.numeric(args[2]), seed = 1, verbose = FALSE)
    message(sprintf("[%.1f s] drew the atlas", clock() - t_start))
    r <- run_pipeline(atlas)
    message(sprintf("[%.1f s] ran the pipeline twice", clock() - t_start))
    res <- c(keep(r$out), list(pcs = as.matrix(reducedDim(r$out, "PCA")),
                               timings = metadata(r$out)$timings, wall = r$wall, ranks = 1L))
    saveRDS(res, args[3], compress = FALSE)  # gzip of 2 GB of PCs takes minutes
} else if (mode == "compare") {
    a <- readRDS(args[2]); b <- readRDS(args[3])
    k <- min(ncol(a$pcs), ncol(b$pcs))
    same_cells <- identical(a$cells, b$cells)
    pa <- as.matrix(a$pcs)[, 1:k]; pb <- as.matrix(b$pcs)[, 1:k]
    flip <- sign(colSums(pa * pb))
    cat(sprintf("%d ranks (NCCL %s) against one process\n", a$ranks, a$nccl))
    print(data.frame(
        qc_identical = isTRUE(all.equal(a$qc, b$qc, tolerance = 0, check.attributes = FALSE)),
        gene_qc_identical = identical(a$gene_qc, b$gene_qc),
        same_cells = same_cells, same_hvgs = identical(a$genes, b$genes),
        min_abs_cor_pc = if (same_cells) min(abs(diag(cor(pa, pb)))) else NA,
        max_rel_diff = if (same_cells) max(abs(sweep(pa, 2, flip, `*`) - pb)) / max(abs(pb)) else NA),
        row.names = FALSE, digits = 7)
    steps <- merge(a$timings[, c("step", "seconds")], b$timings[, c("step", "seconds")],
                   by = "step", sort = FALSE, suffixes = c(".ranks", ".single"))
    steps <- rbind(steps, data.frame(step = "total", seconds.ranks = sum(a$timings$seconds),
                                     seconds.single = sum(b$timings$seconds)))
    print(steps, row.names = FALSE, digits = 4)
    if (nzchar(Sys.getenv("OUT")))
        write.csv(steps, file.path(Sys.getenv("OUT"), "mpi_ranks.csv"), row.names = FALSE)
} else stop("mode must be mpi, single or compare")
