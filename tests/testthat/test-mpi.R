# The MPI path (cellshardInit(mpi = TRUE)) on the CPU backend: the pipeline
# under mpirun on 2 and 3 ranks must give what one process gives, on pbmc3k
# and on a 50,000-cell synthetic atlas; a rank that dies, hangs or fails must
# stop the job within 60 s. The jobs run the scripts in mpi/ with Open MPI's
# mpirun; the tests skip (and say so) where mpirun or MPI support is missing.
# The reader shares and the GPU sharing rule are also tested in one process.

mpirun <- function() Sys.which("mpirun")

skip_without_mpi <- function() {
    if (!nzchar(mpirun()))
        skip("mpirun not found: the MPI tests need Open MPI (apt-get install openmpi-bin libopenmpi-dev)")
    if (!cellshard:::cs_mpi_built())
        skip("this build of cellshard has no MPI (configure found no mpicc): MPI tests skipped")
}

# Runs `script` under mpirun on `np` ranks; list(status, output, seconds).
# The child processes see this process's library path. Shared-memory
# transport only (the ranks are on this machine), without the single-copy
# mechanism that containers often forbid.
run_mpi <- function(np, script, args = character(), limit = 600) {
    env <- c(paste0("R_LIBS=", paste(.libPaths(), collapse = ":")),
             "OMPI_MCA_btl=self,vader", "OMPI_MCA_btl_vader_single_copy_mechanism=none",
             "OMPI_MCA_rmaps_base_oversubscribe=1")
    cmd <- c(as.character(limit), mpirun(), "--allow-run-as-root", "--oversubscribe", "-np",
             as.character(np), file.path(R.home("bin"), "Rscript"),
             testthat::test_path("mpi", script), args)
    started <- proc.time()[["elapsed"]]
    output <- suppressWarnings(system2("timeout", cmd, stdout = TRUE, stderr = TRUE, env = env))
    list(status = attr(output, "status") %||% 0L, output = paste(output, collapse = "\n"),
         seconds = proc.time()[["elapsed"]] - started)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# A sparse matrix without names (Matrix's unname() says so in a message).
plain <- function(m) {
    dimnames(m) <- list(NULL, NULL)
    m
}

# pbmc3k as an h5ad file with a batch column: b1..b3 in the first 40% of the
# cells (so the last rank of 2 or 3 holds none of them), b4 for the rest.
pbmc_h5ad <- function() {
    path <- file.path(tempdir(), "pbmc3k-mpi.h5ad")
    if (!file.exists(path)) {
        sce <- read10xMtx(shared_data("pbmc3k"), devices = "cpu")
        n <- ncol(sce)
        sce$batch <- ifelse(seq_len(n) <= 0.15 * n, "b1", ifelse(seq_len(n) <= 0.3 * n, "b2",
                            ifelse(seq_len(n) <= 0.4 * n, "b3", "b4")))
        writeH5AD(sce, path)
    }
    path
}

tenx_h5 <- function() system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")

# What one process gives for the same steps as mpi/pipeline-job.R, on the
# CPU or on every visible GPU.
single_process <- local({
    cache <- list()
    function(what, devices = "cpu") {
        key <- paste(what, devices)
        if (is.null(cache[[key]])) cache[[key]] <<- switch(what,
            pbmc = {
                sce <- readH5AD(pbmc_h5ad(), devices = if (devices == "cpu") "cpu")
                sub <- sce[, sce$batch %in% c("b1", "b2", "b3")]
                norm <- normalizeTotal(sub, target.sum = NULL, log = TRUE)
                list(res = runSeedPipeline(sce, n.top = 2000, ncomponents = 30),
                     sub = runSeedPipeline(sub, n.top = 500, ncomponents = 10),
                     median_target = metadata(norm)$normalizeTotal$target.sum,
                     hvg_batch = as.data.frame(rowData(highlyVariableGenes(norm, n.top = 500,
                                                                           batch = "batch"))),
                     # (loess warns about the small batches, in the MPI job too)
                     hvg_v3_batch = as.data.frame(rowData(suppressWarnings(highlyVariableGenes(
                         sub, n.top = 500, flavor = "seurat_v3", batch = "batch")))))
            },
            atlas = runSeedPipeline(simulateAtlas(50000, seed = 7, devices = if (devices == "cpu") "cpu",
                                                  verbose = FALSE),
                                    n.top = 1000, ncomponents = 20))
        cache[[key]]
    }
})

# pipeline-job.R on np ranks (pbmc3k, the 10x h5 and a 50,000-cell atlas):
# the result rank 0 saved, checked to come from a job of np ranks.
run_pipeline_job <- function(np, devices, budget = NULL, atlas_cells = 50000) {
    out_file <- tempfile(fileext = ".rds")
    run <- run_mpi(np, "pipeline-job.R", c(out_file, pbmc_h5ad(), tenx_h5(), atlas_cells, devices,
                                           budget))
    expect_identical(run$status, 0L, info = run$output)
    skip_if_not(file.exists(out_file), "the MPI job wrote no result")
    got <- readRDS(out_file)
    expect_identical(got$size, np)
    got
}

for (np in 2:3) {
    test_that(sprintf("the pipeline under mpirun -np %d equals one process (pbmc3k, 10x h5, 50,000-cell atlas)", np), {
        skip_without_mpi()
        skip_without_shared_data("pbmc3k")
        # The 50,000-cell atlas runs with 1,000 highly variable genes (not the
        # reference workload's 5,000): the CPU eigendecomposition of 5,000
        # genes takes about 40 s with the reference BLAS, too long for CI.
        got <- run_pipeline_job(np, "cpu")

        # Each rank read a contiguous share of the cells, in rank order.
        ref <- single_process("pbmc")
        all_cells <- colnames(readH5AD(pbmc_h5ad(), devices = "cpu"))
        expect_length(got$pbmc_shares, np)
        expect_true(all(lengths(got$pbmc_shares) > 0 & lengths(got$pbmc_shares) < length(all_cells)))
        expect_identical(unlist(got$pbmc_shares), all_cells)

        expect_same_pipeline(got$pbmc, ref$res)
        expect_same_pipeline(got$pbmc_sub, ref$sub)  # the last rank had no cells
        expect_identical(got$median_target, ref$median_target)
        expect_identical(got$hvg_batch$highly_variable, ref$hvg_batch$highly_variable)
        expect_identical(got$hvg_batch$highly_variable_nbatches, ref$hvg_batch$highly_variable_nbatches)
        expect_equal(got$hvg_batch, ref$hvg_batch, tolerance = 1e-10)
        expect_identical(got$hvg_v3_batch$highly_variable, ref$hvg_v3_batch$highly_variable)
        expect_equal(got$hvg_v3_batch, ref$hvg_v3_batch, tolerance = 1e-8)

        tenx <- read10xH5(tenx_h5(), devices = "cpu")
        expect_identical(colnames(got$tenx), colnames(tenx))
        expect_identical(as(counts(got$tenx), "dgCMatrix"), as(counts(tenx), "dgCMatrix"))

        # Each rank drew its share of the atlas: rank r starts at cell r * n / np + 1.
        expect_identical(unlist(got$atlas_first),
                         sprintf("CELL%07d", floor(50000 * (seq_len(np) - 1) / np) + 1))
        expect_same_pipeline(got$atlas, single_process("atlas"))
    })
}

test_that("under a tiny memory budget each rank streams its share, and the job equals one process", {
    skip_without_mpi()
    skip_without_shared_data("pbmc3k")
    got <- run_pipeline_job(2L, "cpu", budget = "2MB", atlas_cells = 0)
    # both ranks kept shards off the device (the CPU backend streams from the file)
    expect_length(got$pbmc_homes, 2)
    for (homes in got$pbmc_homes) expect_true(any(homes != "device"), info = paste(homes, collapse = " "))
    ref <- single_process("pbmc")
    expect_same_pipeline(got$pbmc, ref$res)
    expect_same_pipeline(got$pbmc_sub, ref$sub)
    expect_identical(got$median_target, ref$median_target)
    expect_identical(got$hvg_batch$highly_variable, ref$hvg_batch$highly_variable)
    expect_equal(got$hvg_batch, ref$hvg_batch, tolerance = 1e-10)
})

test_that("the MPI job on the GPUs (NCCL between the ranks) equals one process: 1 rank, and one per GPU", {
    skip_without_gpu()
    skip_without_mpi()
    skip_without_shared_data("pbmc3k")
    ref <- single_process("pbmc", "gpu")
    for (np in unique(c(1L, gpu_count()))) {
        got <- run_pipeline_job(np, "auto")
        # 1 rank takes every GPU; one rank per GPU takes one each
        expect_identical(sort(unlist(got$devices)), seq_len(gpu_count()) - 1L)
        expect_identical(got$nccl, isTRUE(cellshard:::cs_build_info()$nccl))
        expect_same_pipeline(got$pbmc, ref$res)
        expect_same_pipeline(got$pbmc_sub, ref$sub)
        expect_identical(got$median_target, ref$median_target)
        expect_identical(got$hvg_batch$highly_variable, ref$hvg_batch$highly_variable)
        expect_equal(got$hvg_v3_batch, ref$hvg_v3_batch, tolerance = 1e-8)
        expect_same_pipeline(got$atlas, single_process("atlas", "gpu"))
    }
})

for (how in c("kill", "stuck", "error")) {
    test_that(sprintf("a rank that fails (%s) stops every rank within 60 s", how), {
        skip_without_mpi()
        run <- run_mpi(3, "kill-job.R", how, limit = 120)
        expect_false(grepl("not stopped", run$output), info = run$output)
        expect_false(identical(run$status, 0L), info = run$output)
        expect_false(identical(run$status, 124L), info = "the job was still running at the 120 s limit")
        expect_lt(run$seconds, 60)
        if (how == "stuck")
            expect_match(run$output, "waited [0-9]+ s for the other ranks", info = run$output)
        if (how == "error") {
            expect_match(run$output, "rank 1 gives up on purpose", info = run$output)
            expect_match(run$output, "stops the whole job", info = run$output)
        }
    })
}

test_that("readers give each part of the cells, and the parts make up the file", {
    skip_without_shared_data("pbmc3k")
    whole <- as(counts(readH5AD(pbmc_h5ad(), devices = "cpu")), "dgCMatrix")
    read_part <- function(open) {
        r <- open
        m <- cellshard:::cs_reader_finish(r$reader)
        lay <- cellshard:::cs_matrix_layout(m)
        expect_identical(lay$n_cells, r$n_obs)
        list(first = r$first_obs, n = r$n_obs, nnz = lay$nnz,
             x = as(cellshard:::.wrapSeed(cellshard:::.newSeed(m)), "dgCMatrix"))
    }
    for (parts in c(1L, 3L)) {
        got <- lapply(seq_len(parts) - 1L, function(p)
            read_part(cellshard:::cs_h5ad_open(pbmc_h5ad(), -1L, 2L, "X", part = p, parts = parts)))
        expect_identical(vapply(got, `[[`, 0, "first"), cumsum(c(0, vapply(got, `[[`, 0, "n")))[seq_len(parts)])
        combined <- do.call(cbind, lapply(got, `[[`, "x"))
        dimnames(combined) <- dimnames(whole)
        expect_identical(combined, whole)
        # CSR shares hold about equal non-zeros
        nnz <- vapply(got, `[[`, 0, "nnz")
        expect_lt(max(nnz) - min(nnz), 0.01 * sum(nnz))
    }
    # An explicit range (what h5ad layers take after X), and too many ranks
    r <- read_part(cellshard:::cs_h5ad_open(pbmc_h5ad(), -1L, 1L, "X", first = 10, count = 5))
    expect_identical(plain(r$x), plain(whole[, 11:15]))
    tiny <- tenx_h5()
    expect_error(cellshard:::cs_10x_h5_open(tiny, -1L, 1L, part = 0L, parts = 5000L),
                 "fewer than the 5000 MPI ranks")
    # 10x HDF5 and MatrixMarket (equal numbers of cells: read whole, keep the share)
    whole10x <- as(counts(read10xH5(tiny, devices = "cpu")), "dgCMatrix")
    parts10x <- lapply(0:2, function(p) read_part(cellshard:::cs_10x_h5_open(tiny, -1L, 1L, part = p, parts = 3L)))
    expect_identical(plain(do.call(cbind, lapply(parts10x, `[[`, "x"))), plain(whole10x))
    mtx <- shared_data("tenx_v3_chr21", "filtered_feature_bc_matrix")
    skip_if_not(dir.exists(mtx), "shared tenx_v3_chr21 MatrixMarket folder not found")
    partsmtx <- lapply(0:2, function(p) read_part(cellshard:::cs_mtx_open(mtx, -1L, 1L, part = p, parts = 3L)))
    expect_identical(vapply(partsmtx, `[[`, 0, "n"), c(369, 369, 369))
    expect_identical(plain(do.call(cbind, lapply(partsmtx, `[[`, "x"))),
                     plain(as(counts(read10xMtx(mtx, devices = "cpu")), "dgCMatrix")))
})

test_that("a share of the synthetic atlas is the same cells of the whole atlas", {
    whole <- simulateAtlas(900, n.genes = 300, seed = 5, devices = "cpu", verbose = FALSE)
    res <- cellshard:::cs_simulate_atlas(300, 300, 5, 24L, -1L, 2L, numeric(), 450)
    part <- as(cellshard:::.wrapSeed(cellshard:::.newSeed(res$handle)), "dgCMatrix")
    expect_identical(plain(part), plain(as(counts(whole), "dgCMatrix")[, 451:750]))
    expect_identical(res$library, whole$library_size[451:750])
})

test_that("the ranks of a node share out its GPUs by bus id", {
    assign <- function(hosts, buses, rank) cellshard:::cs_assign_rank_gpus(hosts, buses, rank)
    four <- c("A", "B", "C", "D")
    # every rank sees every GPU: contiguous blocks
    expect_identical(assign(c("n1", "n1"), list(four, four), 0L), 0:1)
    expect_identical(assign(c("n1", "n1"), list(four, four), 1L), 2:3)
    # as many ranks as GPUs: one each; ranks on another node count apart
    expect_identical(assign(c("n1", "n1", "n2", "n2"), list(c("A", "B"), c("A", "B"), c("A", "B"), c("A", "B")), 3L), 1L)
    # the launcher gave each rank its own GPU (each sees "device 0")
    expect_identical(assign(c("n1", "n1"), list("A", "B"), 1L), 0L)
    # more ranks than GPUs: someone gets none
    expect_identical(assign(c("n1", "n1", "n1"), list(c("A", "B"), c("A", "B"), c("A", "B")), 2L), integer(0))
    # one rank per node: all of its GPUs
    expect_identical(assign("n1", list(four), 0L), 0:3)
})

test_that("without mpirun, cellshardInit runs the script as one process and gathers are local", {
    skip_if(!is.na(cellshard:::.launcherRanks()), "this test process was itself started by an MPI launcher")
    expect_message(cl <- cellshardInit(mpi = TRUE), "single process")
    expect_identical(cl$size, 1L)
    expect_false(cl$mpi)
    expect_error(cellshardInit(timeout = -1), "positive")
    sce <- read10xH5(tenx_h5(), devices = "cpu")
    sce <- runSeedPipeline(sce, min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 5)
    pcs <- gatherReducedDim(sce, "PCA")
    expect_identical(pcs, reducedDim(sce, "PCA"))
    all <- gatherCells(sce, assays = "counts")
    expect_identical(as.data.frame(colData(all)), as.data.frame(colData(sce)))
    expect_identical(reducedDim(all, "PCA"), reducedDim(sce, "PCA"))
    expect_identical(counts(all), as(counts(sce), "dgCMatrix"))
    expect_error(gatherReducedDim(sce, "UMAP"), "no reducedDim named")
    expect_error(gatherCells(sce, root = 1), "root must be a rank in 0..0")
})
