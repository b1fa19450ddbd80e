# Every verb gives the same answer on the CPU backend, on one shard, on three
# uneven shards, and on the GPU (to float32 rounding; integers identical).

pipeline_run <- function(sce) {
    sce <- qcMetrics(sce, subsets = list(first = 1:25, odd = seq(1, nrow(sce), 2)),
                     percent.top = c(5, 20))
    sce <- sce[, sce$n_genes_by_counts >= 10]
    sce <- normalizeTotal(sce, exclude.highly.expressed = TRUE, max.fraction = 0.1)
    sce <- log1pTransform(sce, base = 2)
    sce <- scaleGenes(sce, max.value = 5)
    sce <- computePCA(sce, ncomponents = 5)
    sce
}

test_that("all verbs agree across backends and shard layouts", {
    m <- random_counts(150, 400, density = 0.2, seed = 21)
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = m))
    ref <- pipeline_run(toDevice(sce, devices = "cpu"))
    for (cfg_name in names(device_configs())) {
        cfg <- device_configs()[[cfg_name]]
        got <- pipeline_run(to_device_as(sce, cfg))
        expect_identical(got$n_genes_by_counts, ref$n_genes_by_counts, info = cfg_name)
        expect_identical(SummarizedExperiment::rowData(got)$n_cells_by_counts,
                         SummarizedExperiment::rowData(ref)$n_cells_by_counts, info = cfg_name)
        expect_identical(metadata(got)$normalizeTotal$excluded.genes,
                         metadata(ref)$normalizeTotal$excluded.genes, info = cfg_name)
        for (col in names(SummarizedExperiment::colData(ref)))
            expect_equal(got[[col]], ref[[col]], tolerance = 1e-12, info = paste(cfg_name, col))
        expect_equal(as.matrix(logcounts(got)), as.matrix(logcounts(ref)), tolerance = 1e-6, info = cfg_name)
        expect_equal(as.matrix(assay(got, "scaled")), as.matrix(assay(ref, "scaled")), tolerance = 1e-6,
                     info = cfg_name)
        expect_equal(reducedDim(got, "PCA"), reducedDim(ref, "PCA"), tolerance = 1e-6, info = cfg_name)
    }
})

test_that("QC, normalisation and log1p equal host computations", {
    m <- random_counts(80, 60, seed = 22)
    sce <- qcMetrics(toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)),
                              devices = "cpu", shards = 2),
                     subsets = list(s = 1:10), percent.top = 3)
    dm <- unname(as.matrix(m))
    expect_equal(sce$total_counts, colSums(dm))
    expect_equal(sce$total_counts_s, colSums(dm[1:10, ]))
    top3 <- apply(dm, 2, function(v) sum(sort(v, decreasing = TRUE)[1:3]))
    expect_equal(sce$pct_counts_in_top_3_genes, 100 * top3 / colSums(dm))
    expect_equal(SummarizedExperiment::rowData(sce)$pct_dropout_by_counts,
                 100 * (1 - rowSums(dm > 0) / ncol(dm)))
    sce <- log1pTransform(normalizeTotal(sce, target.sum = NULL))
    target <- stats::median(colSums(dm)[colSums(dm) > 0])
    expected <- log1p(sweep(dm, 2, ifelse(colSums(dm) > 0, colSums(dm), 1), "/") * target)
    expect_equal(unname(as.matrix(logcounts(sce))), unname(expected), tolerance = 1e-6)
    expect_equal(metadata(sce)$normalizeTotal$target.sum, target)
    # normalise and log in one pass: the same values, one assay
    fused <- normalizeTotal(sce, target.sum = NULL, log = TRUE, name = "fused")
    expect_equal(unname(as.matrix(assay(fused, "fused"))), unname(expected), tolerance = 1e-6)
    bare <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)), devices = "cpu")
    expect_identical(assayNames(normalizeTotal(bare, log = TRUE)), c("counts", "logcounts"))
})

test_that("normalise + log1p of small, large and fractional counts equals the host's", {
    # The CPU backend computes log1p once a cell for each distinct value:
    # small and large whole counts, fractions (e.g. ambient-corrected counts)
    # and base 2. Each value must be its own count's.
    set.seed(23)
    dm <- matrix(0, 60, 8)
    dm[sample(length(dm), 300)] <- c(1:31, 32, 33, 40, 1e5, 2.5, 0.25, 30.5, 1 + 2^-10)[
        sample(39, 300, replace = TRUE)]
    dm[, 3] <- 0
    dm[2, 3] <- 7
    m <- Matrix::Matrix(dm, sparse = TRUE)
    expected <- log1p(sweep(dm, 2, colSums(dm), "/") * 1e4)
    for (cfg_name in names(device_configs())) {
        sce <- to_device_as(SingleCellExperiment::SingleCellExperiment(list(counts = m)),
                            device_configs()[[cfg_name]])
        got <- normalizeTotal(sce, target.sum = 1e4, log = TRUE)
        expect_equal(unname(as.matrix(logcounts(got))), expected, tolerance = 1e-6,
                     info = cfg_name)
        got2 <- log1pTransform(normalizeTotal(sce, target.sum = 1e4), base = 2)
        expect_equal(unname(as.matrix(logcounts(got2))), expected / log(2), tolerance = 1e-6,
                     info = cfg_name)
    }
})

test_that("zero-centred scaling reads as the dense scaled matrix", {
    m <- random_counts(40, 70, seed = 23)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))), devices = "cpu")
    sce <- scaleGenes(sce, max.value = 3)
    dm <- as.matrix(log1p(m))
    sd <- apply(dm, 1, stats::sd); sd[sd == 0] <- 1
    expected <- pmin(pmax((dm - rowMeans(dm)) / sd, -3), 3)
    got <- assay(sce, "scaled")
    expect_equal(as.matrix(got), expected, tolerance = 1e-6)
    expect_equal(colSums(got), colSums(expected), tolerance = 1e-5)
    expect_equal(as.matrix(got[c(3, 1), 5:9]), expected[c(3, 1), 5:9], tolerance = 1e-6)
    expect_equal(as.matrix(t(got)[5:9, c(3, 1)]), t(expected)[5:9, c(3, 1)], tolerance = 1e-6)
    sparse <- scaleGenes(sce, zero.center = FALSE, max.value = 2, name = "s2")
    expect_equal(as.matrix(assay(sparse, "s2")), pmin(dm / sd, 2), tolerance = 1e-6)
})

test_that("PCA equals prcomp on a small matrix, with deterministic signs", {
    m <- random_counts(30, 200, density = 0.3, seed = 24)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))),
                    devices = "cpu", shards = 3)
    sce <- computePCA(sce, ncomponents = 5, assay.type = "logcounts")
    pr <- stats::prcomp(t(as.matrix(log1p(m))), center = TRUE, scale. = FALSE)
    pcs <- reducedDim(sce, "PCA")
    expect_equal(sqrt(attr(pcs, "varExplained")), pr$sdev[1:5], tolerance = 1e-8)
    expect_equal(abs(as.vector(pcs)), abs(as.vector(pr$x[, 1:5])), tolerance = 1e-6)
    # The SPEC's signs: each component's largest-magnitude loading positive.
    largest <- apply(abs(pr$rotation[, 1:5]), 2, which.max)
    flip <- sign(pr$rotation[cbind(largest, 1:5)])
    expect_equal(matrix(as.numeric(pcs), nrow(pcs)), unname(sweep(pr$x[, 1:5], 2, flip, `*`)),
                 tolerance = 1e-6)
    expect_equal(unname(attr(pcs, "rotation")), unname(sweep(pr$rotation[, 1:5], 2, flip, `*`)),
                 tolerance = 1e-6)
    expect_equal(attr(pcs, "percentVar"), 100 * pr$sdev[1:5]^2 / sum(pr$sdev^2), tolerance = 1e-8)
    unc <- computePCA(sce, ncomponents = 3, zero.center = FALSE, assay.type = "logcounts", name = "U")
    sv <- svd(t(as.matrix(log1p(m))), nu = 3, nv = 3)
    expect_equal(metadata(unc)$U$variance, sv$d[1:3]^2, tolerance = 1e-8)
})

test_that("PCA scores of a centred scaled matrix (stored with a background) equal svd's", {
    # scaleGenes keeps x - mean as offsets from a per-gene background, so the
    # scores carry an offset per component: (b - mu)^T V centred, b^T V not.
    m <- random_counts(25, 150, density = 0.3, seed = 26)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))),
                    devices = "cpu", shards = 2)
    sce <- scaleGenes(sce, max.value = 2)
    x <- t(as.matrix(assay(sce, "scaled")))  # cells x genes, dense
    flip_to_loadings <- function(scores, rotation) {  # the SPEC's signs
        largest <- apply(abs(rotation), 2, which.max)
        sweep(scores, 2, sign(rotation[cbind(largest, seq_len(ncol(rotation)))]), `*`)
    }
    cen <- computePCA(sce, ncomponents = 4, name = "C")
    xc <- sweep(x, 2, colMeans(x))
    sv <- svd(xc, nu = 4, nv = 4)
    expect_equal(matrix(as.numeric(reducedDim(cen, "C")), ncol = 4),
                 flip_to_loadings(sv$u %*% diag(sv$d[1:4]), sv$v), tolerance = 1e-6)
    unc <- computePCA(sce, ncomponents = 4, zero.center = FALSE, name = "U")
    su <- svd(x, nu = 4, nv = 4)
    expect_equal(matrix(as.numeric(reducedDim(unc, "U")), ncol = 4),
                 flip_to_loadings(su$u %*% diag(su$d[1:4]), su$v), tolerance = 1e-6)
})

test_that("bad input gives clear errors", {
    m <- random_counts(20, 15, seed = 25)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)), devices = "cpu")
    expect_error(qcMetrics(sce, subsets = list(1:3)), "named list")
    expect_warning(qcMetrics(sce, subsets = list(none = logical(20))), "selects no gene")
    expect_error(qcMetrics(sce, subsets = list(x = "nope")), "gene not found")
    expect_error(qcMetrics(sce, assay.type = "logcounts"), "no assay named")
    expect_error(qcMetrics(SingleCellExperiment::SingleCellExperiment(list(counts = m))), "not on the devices")
    expect_error(qcMetrics(sce[, integer(0)]), "0 cells")
    expect_error(normalizeTotal(sce, target.sum = -1), "positive")
    expect_error(computePCA(log1pTransform(normalizeTotal(sce)), ncomponents = 100), "ncomponents")
    neg <- m; neg[3, 2] <- -5
    dneg <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = neg)), devices = "cpu")
    expect_error(normalizeTotal(dneg), "negative values \\(in 1 genes, first gene003\\)")
    expect_error(qcMetrics(dneg), "negative values")
    # zero-count cells and genes: QC reports zeros, normalisation leaves them zero
    z <- m; z[, 4] <- 0; z[6, ] <- 0
    zs <- qcMetrics(toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = Matrix::drop0(z))),
                             devices = "cpu"))
    expect_identical(zs$n_genes_by_counts[4], 0L)
    expect_identical(SummarizedExperiment::rowData(zs)$n_cells_by_counts[6], 0L)
    expect_equal(unname(colSums(logcounts(log1pTransform(normalizeTotal(zs))))[4]), 0)
})

test_that("runSeedPipeline runs the notebook's steps in order and keeps the user's QC subsets", {
    m <- random_counts(200, 300, density = 0.2, seed = 26)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)), devices = "cpu", shards = 2)
    out <- runSeedPipeline(sce, min.genes = 20, max.genes = 60, min.cells = 15, n.top = 50,
                           ncomponents = 5, subsets = list(first = 1:10), verbose = FALSE)
    expect_true("pct_counts_first" %in% names(SummarizedExperiment::colData(out)))
    by_hand <- qcMetrics(sce, subsets = list(first = 1:10))
    by_hand <- by_hand[SummarizedExperiment::rowData(by_hand)$n_cells_by_counts >= 15,
                       by_hand$n_genes_by_counts >= 20 & by_hand$n_genes_by_counts <= 60]
    by_hand <- normalizeTotal(by_hand, log = TRUE)
    by_hand <- highlyVariableGenes(by_hand, n.top = 50, subset = TRUE)
    by_hand <- computePCA(scaleGenes(by_hand, zero.center = FALSE), ncomponents = 5)
    expect_identical(dimnames(out), dimnames(by_hand))
    expect_equal(reducedDim(out, "PCA"), reducedDim(by_hand, "PCA"), tolerance = 1e-10)
    expect_identical(metadata(out)$timings$step, c("qc metrics", "filter", "normalize + log1p",
                                                   "highly variable genes", "rebalance", "scale", "pca"))
    expect_false("normcounts" %in% SummarizedExperiment::assayNames(out))
})

test_that("the CPU backend gives the same bits on 1 thread and on several", {
    old <- Sys.getenv("CELLSHARD_THREADS", NA)
    on.exit(if (is.na(old)) Sys.unsetenv("CELLSHARD_THREADS") else Sys.setenv(CELLSHARD_THREADS = old))
    m <- random_counts(1200, 500, density = 0.1, seed = 27)
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = m))
    run <- function(threads) {
        Sys.setenv(CELLSHARD_THREADS = threads)
        expect_identical(cellshard:::cs_build_info()$cpu_threads, as.integer(threads))
        runSeedPipeline(toDevice(sce, devices = "cpu"), min.genes = 20, min.cells = 5, n.top = 1100,
                        ncomponents = 20, verbose = FALSE)
    }
    one <- run(1)
    three <- run(3)
    expect_identical(one$total_counts, three$total_counts)
    expect_identical(SummarizedExperiment::rowData(one), SummarizedExperiment::rowData(three))
    expect_identical(reducedDim(one, "PCA"), reducedDim(three, "PCA"))
})
