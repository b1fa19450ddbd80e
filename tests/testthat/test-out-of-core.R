# Out of core (issue 7): under a tiny memory budget the shards stream through
# the devices (pinned host memory, or the source file) and every step gives
# the same results as with everything in memory; and the same as Seurat's
# references on pbmc3k, as test-pipeline-pbmc3k.R checks them in memory.

with_budget <- function(bytes, expr) {
    old <- options(cellshard.device.memory = bytes)
    on.exit(options(old))
    expr
}

homes <- function(sce, assay = "counts") table(deviceLayout(assay(sce, assay))$home)

test_that("memory budgets are read as bytes, and bad ones refused clearly", {
    expect_identical(cellshard:::.parseBytes("8GB"), 8e9)
    expect_identical(cellshard:::.parseBytes("8 GiB"), 8 * 2^30)
    expect_identical(cellshard:::.parseBytes("512mb"), 512e6)
    expect_identical(cellshard:::.parseBytes(1e9), 1e9)
    expect_identical(cellshard:::.parseBytes(NULL), 0)
    expect_error(cellshard:::.parseBytes("lots"), "device.memory must be NULL, a number of bytes")
    expect_error(cellshard:::.parseBytes(-1), "device.memory must be")
    path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
    expect_error(read10xH5(path, devices = "cpu", device.memory = "8 bananas"),
                 "device.memory must be")
    with_budget("a lot", expect_error(deviceMemory("cpu"), "cellshard.device.memory"))
    mem <- deviceMemory("cpu")
    expect_true(all(c("budget", "held", "pinned") %in% names(mem)))
    expect_gt(mem$budget, 0)
})

test_that("pbmc3k under a tiny budget streams and matches memory and Seurat (CPU, pinned tier)", {
    skip_without_shared_data("pbmc3k", "reference_seurat_4.3.0")
    run <- function(sce) {
        sce <- qcMetrics(sce, subsets = list(mt = grepl("^MT-", rownames(sce))), percent.top = 50)
        sce <- sce[rowData(sce)$n_cells_by_counts >= 3,
                   sce$n_genes_by_counts > 200 & sce$n_genes_by_counts < 2500 & sce$pct_counts_mt < 5]
        sce <- normalizeTotal(sce, target.sum = 1e4, log = TRUE)
        sce <- highlyVariableGenes(sce, n.top = 2000, flavor = "seurat", subset = FALSE)
        sce <- scaleGenes(sce, max.value = 10)
        computePCA(sce, ncomponents = 30, subset.row = rowData(sce)$highly_variable)
    }
    ref <- run(read10xMtx(shared_data("pbmc3k"), devices = "cpu"))
    got <- with_budget("4MB", {
        expect_message(sce <- read10xMtx(shared_data("pbmc3k"), devices = "cpu"),
                       "over the memory budget .* in pinned host memory")
        expect_gt(nrow(deviceLayout(counts(sce))), 10)
        expect_true("pinned" %in% names(homes(sce)))
        run(sce)
    })
    # logcounts and its scaling are computed from counts when read: no pinned copies
    expect_true("computed" %in% names(homes(got, "logcounts")))
    expect_true("computed" %in% names(homes(got, "scaled")))
    expect_same_pipeline(got, ref)
    expect_equal(as.matrix(logcounts(got)[1:50, 1:200]), as.matrix(logcounts(ref)[1:50, 1:200]))

    # The same references as the in-memory test
    ref_dir <- function(...) shared_data("pbmc3k", "reference_seurat_4.3.0", ...)
    qc <- utils::read.csv(ref_dir("qc_per_cell_2700.csv"), stringsAsFactors = FALSE)
    kept <- utils::read.csv(ref_dir("cells_kept_tutorial_filter.csv"), stringsAsFactors = FALSE)
    expect_identical(colnames(got), kept$barcode)
    i <- match(colnames(got), qc[[1]])
    expect_identical(got$total_counts, as.numeric(qc$nCount_RNA[i]))
    expect_identical(got$n_genes_by_counts, as.integer(qc$nFeature_RNA[i]))
    cs <- utils::read.csv(ref_dir("lognorm_colsums_2638.csv"))
    expect_lt(max(abs(colSums(logcounts(got)) - cs$colsum_lognorm) / cs$colsum_lognorm), 1e-6)
})

test_that("an h5ad under a tiny budget is read again from the file at each step (CPU)", {
    skip_without_shared_data("pbmc3k")
    path <- file.path(tempdir(), "pbmc3k-ooc.h5ad")
    if (!file.exists(path)) writeH5AD(read10xMtx(shared_data("pbmc3k"), devices = "cpu"), path)
    ref_sce <- readH5AD(path, devices = "cpu")
    expect_message(sce <- readH5AD(path, devices = "cpu", device.memory = "4MB"),
                   "in the file; each step streams [0-9]+ shards")
    expect_true("file" %in% names(homes(sce)))
    # nothing of the file's shards is in memory, yet every block reads the same
    expect_identical(as(counts(sce), "dgCMatrix"), as(counts(ref_sce), "dgCMatrix"))
    expect_identical(as.matrix(counts(sce)[100:140, 2000:2100]),
                     as.matrix(counts(ref_sce)[100:140, 2000:2100]))
    again <- file.path(tempdir(), "pbmc3k-ooc-again.h5ad")
    writeH5AD(sce, again, overwrite = TRUE)
    expect_identical(as(counts(readH5AD(again, devices = "cpu")), "dgCMatrix"),
                     as(counts(ref_sce), "dgCMatrix"))
    run <- function(s) runSeedPipeline(s, n.top = 1000, ncomponents = 20, verbose = FALSE)
    got <- with_budget("4MB", run(sce))
    expect_same_pipeline(got, run(ref_sce))
    # rebalancing data that lives in its file brings it into memory, equal
    moved <- rebalance(sce, shards = 2)
    expect_identical(as(counts(moved), "dgCMatrix"), as(counts(ref_sce), "dgCMatrix"))
})

test_that("a 50,000-cell synthetic atlas under a budget gives the in-memory results (CPU)", {
    run <- function(sce) runSeedPipeline(sce, n.top = 1000, ncomponents = 20, verbose = FALSE)
    got <- with_budget("200MB", {
        expect_message(sce <- simulateAtlas(50000, seed = 7, devices = "cpu", verbose = FALSE),
                       "simulateAtlas: .* over the memory budget")
        expect_true(all(c("device", "pinned") %in% names(homes(sce))))
        run(sce)
    })
    ref <- run(simulateAtlas(50000, seed = 7, devices = "cpu", verbose = FALSE))
    expect_same_pipeline(got, ref)
})

test_that("on a GPU, shards in pinned host memory stream and give the in-memory results", {
    skip_without_gpu()
    run <- function(sce) runSeedPipeline(sce, n.top = 1000, ncomponents = 20, verbose = FALSE)
    got <- with_budget("300MB", {
        expect_message(sce <- simulateAtlas(200000, seed = 3, devices = 0L, verbose = FALSE),
                       "in pinned host memory; each step streams")
        expect_true(all(c("device", "pinned") %in% names(homes(sce))))
        run(sce)
    })
    ref <- run(simulateAtlas(200000, seed = 3, devices = 0L, verbose = FALSE))
    expect_same_pipeline(got, ref)
    # the CPU backend agrees with the streamed GPU run
    skip_without_shared_data("pbmc3k")
    path <- file.path(tempdir(), "pbmc3k-ooc.h5ad")
    if (!file.exists(path)) writeH5AD(read10xMtx(shared_data("pbmc3k"), devices = "cpu"), path)
    cpu <- runSeedPipeline(readH5AD(path, devices = "cpu"), n.top = 1000, ncomponents = 20,
                           verbose = FALSE)
    gpu <- with_budget("4MB", runSeedPipeline(suppressMessages(readH5AD(path, devices = 0L)),
                                              n.top = 1000, ncomponents = 20, verbose = FALSE))
    expect_identical(rowData(gpu)$highly_variable, rowData(cpu)$highly_variable)
    expect_equal(abs(reducedDim(gpu, "PCA")[, 1:5]), abs(reducedDim(cpu, "PCA")[, 1:5]),
                 tolerance = 1e-4)
})

test_that("on a GPU, the PCA's Gram keeps to a budget the data already fills: more chunks, the same components", {
    skip_without_gpu()
    set.seed(11)
    # values exact in float32, as the device holds them
    m <- Matrix::rsparsematrix(300, 120000, 0.08,
                               rand.x = function(n) round(256 * rexp(n)) / 256 + 0.5)
    dimnames(m) <- list(sprintf("g%03d", seq_len(nrow(m))), sprintf("c%06d", seq_len(ncol(m))))
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = m)), devices = 0L)
    # The reference: the covariance's eigenpairs (1/n) from R's own products.
    n <- ncol(m); mu <- Matrix::rowMeans(m)
    ref <- eigen(as.matrix(Matrix::tcrossprod(m)) / n - tcrossprod(mu), symmetric = TRUE)
    k <- 8
    matches <- function(sce) {
        rotation <- attr(reducedDim(sce, "PCA"), "rotation")
        expect_equal(metadata(sce)$PCA$variance, ref$values[1:k], tolerance = 1e-10)
        expect_equal(unname(abs(colSums(rotation * ref$vectors[, 1:k]))), rep(1, k),
                     tolerance = 1e-10)
    }
    chunks <- function() cellshard:::cs_gpu_phase_report()$gram_chunks
    pca <- function() computePCA(sce, ncomponents = k, assay.type = "logcounts")
    # ~25 MB of the Gram's layout: one chunk when the budget leaves room, more
    # when the data fills it (then the chunks take at most 16 MiB each).
    matches(pca())
    expect_identical(chunks(), 1L)
    full <- with_budget(deviceMemory(0L)$held, pca())
    expect_gt(chunks(), 1L)
    matches(full)
    pca()
    expect_identical(chunks(), 1L)
})

test_that("a normalisation of streamed shards is computed when read, and reads like stored values (CPU)", {
    skip_without_shared_data("pbmc3k")
    ref <- normalizeTotal(read10xMtx(shared_data("pbmc3k"), devices = "cpu"), log = TRUE)
    with_budget("4MB", {
        sce <- suppressMessages(read10xMtx(shared_data("pbmc3k"), devices = "cpu"))
        pinned_before <- deviceMemory("cpu")$pinned
        sce <- normalizeTotal(sce, log = TRUE)
        # the streamed shards' values are kept nowhere: no host memory for them
        expect_true("computed" %in% names(homes(sce, "logcounts")))
        expect_false("pinned" %in% names(homes(sce, "logcounts")))
        expect_lt(deviceMemory("cpu")$pinned - pinned_before, 1e6)
        # every reader sees the in-memory values: blocks, sums, a rebalance, a
        # file, a further map (scaling) and a subset
        expect_identical(as(logcounts(sce), "dgCMatrix"), as(logcounts(ref), "dgCMatrix"))
        expect_identical(colSums(logcounts(sce)), colSums(logcounts(ref)))
        expect_identical(rowSums(logcounts(sce)), rowSums(logcounts(ref)))
        moved <- rebalance(sce, shards = 3)
        expect_identical(as(logcounts(moved), "dgCMatrix"), as(logcounts(ref), "dgCMatrix"))
        # rebalancing the object moves counts; logcounts stays computed from them
        expect_identical(names(homes(moved, "logcounts")), "computed")
        # the logcounts assay alone: its values come to the host, then are placed
        alone <- rebalance(logcounts(sce), shards = 2)
        expect_identical(as(alone, "dgCMatrix"), as(logcounts(ref), "dgCMatrix"))
        path <- file.path(tempdir(), "pbmc3k-computed.h5ad")
        writeH5AD(sce, path, assay = "logcounts", overwrite = TRUE)
        back <- readH5AD(path, devices = "cpu")
        expect_identical(as(counts(back), "dgCMatrix"), as(logcounts(ref), "dgCMatrix"))
        # scaling computed values is one computed map of counts (no pass, no copy)
        scaled <- scaleGenes(sce, max.value = 10)
        expect_true("computed" %in% names(homes(scaled, "scaled")))
        expect_identical(as.matrix(assay(scaled, "scaled")[1:300, 1:40]),
                         as.matrix(assay(scaleGenes(ref, max.value = 10), "scaled")[1:300, 1:40]))
        # a subset of the object: logcounts computed from the subset of counts
        genes <- seq(2, nrow(sce), by = 3)
        sub <- sce[genes, 1000:2600]
        expect_true("computed" %in% names(homes(sub, "logcounts")))
        expect_identical(as(logcounts(sub), "dgCMatrix"), as(logcounts(ref)[genes, 1000:2600], "dgCMatrix"))
        # the logcounts assay alone (no subset of counts to compute from): gathered
        alone <- logcounts(sce)[genes, 1000:2600]
        expect_identical(as(alone, "dgCMatrix"), as(logcounts(ref)[genes, 1000:2600], "dgCMatrix"))
    })
    # and the values are scanpy's normalize_total + log1p (Seurat's LogNormalize)
    skip_without_shared_data("pbmc3k", "reference_seurat_4.3.0")
    cs <- utils::read.csv(shared_data("pbmc3k", "reference_seurat_4.3.0", "lognorm_colsums_2638.csv"))
    kept <- utils::read.csv(shared_data("pbmc3k", "reference_seurat_4.3.0", "cells_kept_tutorial_filter.csv"),
                            stringsAsFactors = FALSE)
    got <- with_budget("4MB", colSums(logcounts(
        normalizeTotal(suppressMessages(read10xMtx(shared_data("pbmc3k"), devices = "cpu"))[, kept$barcode],
                       log = TRUE))))
    expect_lt(max(abs(got - cs$colsum_lognorm) / cs$colsum_lognorm), 1e-6)
})

test_that("a filter of streamed shards is computed: nothing written back, every reader sees the in-memory filter (CPU)", {
    skip_without_shared_data("pbmc3k")
    ref_all <- read10xMtx(shared_data("pbmc3k"), devices = "cpu")
    genes <- seq(2, nrow(ref_all), by = 3)
    cells <- c(5:1200, 1300:2650)
    ref <- ref_all[genes, cells]
    with_budget("4MB", {
        sce <- suppressMessages(read10xMtx(shared_data("pbmc3k"), devices = "cpu"))
        before <- cellshard:::cs_stream_counters()
        pinned_before <- deviceMemory("cpu")$pinned
        sub <- sce[genes, cells]
        # the streamed shards' subset is kept nowhere: only its row pointers
        expect_true("computed" %in% names(homes(sub)))
        expect_false("pinned" %in% names(homes(sub)))
        # (row pointers aside: one int64 per cell and shard)
        small <- 8 * (ncol(sub) + nrow(deviceLayout(counts(sub))))
        expect_lte(cellshard:::cs_stream_counters()[["to_host"]] - before[["to_host"]], small)
        expect_lte(deviceMemory("cpu")$pinned - pinned_before, small)
        lay <- deviceLayout(counts(sub))
        expect_equal(sum(lay$nnz), Matrix::nnzero(as(counts(ref), "dgCMatrix")))

        # every reader: blocks, sums, a rebalance, a file, further subsets
        expect_identical(as(counts(sub), "dgCMatrix"), as(counts(ref), "dgCMatrix"))
        expect_identical(as.matrix(counts(sub)[100:140, 200:300]),
                         as.matrix(counts(ref)[100:140, 200:300]))
        expect_identical(colSums(counts(sub)), colSums(counts(ref)))
        expect_identical(rowSums(counts(sub)), rowSums(counts(ref)))
        moved <- rebalance(sub, shards = 3)
        expect_identical(as(counts(moved), "dgCMatrix"), as(counts(ref), "dgCMatrix"))
        path <- file.path(tempdir(), "pbmc3k-gathered.h5ad")
        writeH5AD(sub, path, overwrite = TRUE)
        expect_identical(as(counts(readH5AD(path, devices = "cpu")), "dgCMatrix"),
                         as(counts(ref), "dgCMatrix"))
        g2 <- seq(1, nrow(sub), by = 2)
        sub2 <- sub[g2, 100:2000]
        expect_true("computed" %in% names(homes(sub2)))
        expect_identical(as(counts(sub2), "dgCMatrix"), as(counts(ref[g2, 100:2000]), "dgCMatrix"))
        reordered <- sub[rev(seq_len(50)), 1:1500]  # genes out of order
        expect_identical(as(counts(reordered), "dgCMatrix"),
                         as(counts(ref[rev(seq_len(50)), 1:1500]), "dgCMatrix"))
        # stored values over a computed index (an assay of the same pattern sent from the host)
        doubled <- as(counts(ref), "dgCMatrix")
        doubled@x <- doubled@x * 2
        twin <- cellshard:::.withValues(counts(sub), doubled)
        expect_identical(as(twin, "dgCMatrix"), doubled)
        expect_identical(colSums(twin), colSums(counts(ref)) * 2)
        expect_identical(as(rebalance(twin, shards = 2), "dgCMatrix"), doubled)
        with_twin <- sub
        SummarizedExperiment::assay(with_twin, "twin") <- twin
        ref_twin <- ref
        SummarizedExperiment::assay(ref_twin, "twin") <- cellshard:::.withValues(counts(ref), doubled)
        expect_identical(as(logcounts(normalizeTotal(with_twin, assay.type = "twin", log = TRUE)), "dgCMatrix"),
                         as(logcounts(normalizeTotal(ref_twin, assay.type = "twin", log = TRUE)), "dgCMatrix"))
        # cells only: row pointers from the source's, without a pass
        staged_before <- cellshard:::cs_stream_counters()[["to_device"]]
        cells_only <- sce[, cells]
        expect_identical(cellshard:::cs_stream_counters()[["to_device"]], staged_before)
        expect_true("computed" %in% names(homes(cells_only)))
        expect_identical(as(counts(cells_only), "dgCMatrix"), as(counts(ref_all[, cells]), "dgCMatrix"))
        # the filter counted its cells' totals in its own passes, and a
        # rebalance keeps them: normalising either stages nothing, and gives
        # the in-memory values
        want_norm <- as(logcounts(normalizeTotal(ref, log = TRUE)), "dgCMatrix")
        for (filtered in list(sub, moved)) {
            staged_before <- cellshard:::cs_stream_counters()[["to_device"]]
            normed <- normalizeTotal(filtered, log = TRUE)
            expect_identical(cellshard:::cs_stream_counters()[["to_device"]], staged_before)
            expect_identical(as(logcounts(normed), "dgCMatrix"), want_norm)
        }

        # the pipeline's steps over it: normalising (computed from the
        # gathered counts), HVG, scaling, PCA over the HVGs
        run <- function(s) {
            s <- normalizeTotal(s, target.sum = 1e4, log = TRUE)
            s <- highlyVariableGenes(s, n.top = 500, flavor = "seurat", subset = FALSE)
            s <- scaleGenes(s, max.value = 10)
            computePCA(s, ncomponents = 10, subset.row = rowData(s)$highly_variable)
        }
        got <- run(sub)
        want <- run(ref)
        expect_true("computed" %in% names(homes(got, "logcounts")))
        expect_identical(as(logcounts(got), "dgCMatrix"), as(logcounts(want), "dgCMatrix"))
        expect_identical(as.matrix(assay(got, "scaled")[1:200, 1:100]),
                         as.matrix(assay(want, "scaled")[1:200, 1:100]))
        expect_same_pipeline(got, want)
        # the logcounts assay alone, subset again (no counts subset to compute from)
        hv <- which(rowData(got)$highly_variable)
        expect_identical(as(logcounts(got)[hv, 10:1900], "dgCMatrix"),
                         as(logcounts(want)[hv, 10:1900], "dgCMatrix"))
    })
})

test_that("a subset of two stored assays under a budget shares one computed index; scattered cells read right (CPU)", {
    skip_without_shared_data("pbmc3k")
    host <- toHost(read10xMtx(shared_data("pbmc3k"), devices = "cpu"))
    twice <- counts(host)
    twice@x <- twice@x * 2
    SummarizedExperiment::assay(host, "twice") <- twice
    genes <- seq(1, nrow(host), by = 2)
    cells <- 3:2500
    with_budget("4MB", {
        sce <- suppressMessages(toDevice(host, devices = "cpu", shards = 40))
        expect_true("pinned" %in% names(homes(sce, "twice")))
        sub <- sce[genes, cells]
        expect_true("computed" %in% names(homes(sub, "twice")))
        expect_identical(deviceLayout(counts(sub))$nnz, deviceLayout(assay(sub, "twice"))$nnz)
        expect_identical(as(assay(sub, "twice"), "dgCMatrix"), twice[genes, cells])
        expect_identical(as(counts(sub), "dgCMatrix"), counts(host)[genes, cells])
        # a map of the stored values over the computed index, and cells out of order
        norm <- normalizeTotal(sub, assay.type = "twice", log = TRUE)
        ref <- normalizeTotal(toDevice(host[genes, cells], devices = "cpu"), assay.type = "twice",
                              log = TRUE)
        expect_identical(as(logcounts(norm), "dgCMatrix"), as(logcounts(ref), "dgCMatrix"))
        scattered <- sample(ncol(sub), 600)
        expect_identical(as(counts(sub[, scattered]), "dgCMatrix"),
                         counts(host)[genes, cells][, scattered])
    })
})
