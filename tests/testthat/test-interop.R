# Handing a device-backed SingleCellExperiment to scater, scran and Seurat:
# their functions read our assays block by block and our statistics from
# rowData / reducedDims, and give what they give on references computed here
# in plain R from the counts.

bundled <- function() system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")

# The seed sequence on the bundled file (CPU backend), and the counts it kept,
# as a dgCMatrix on the host.
processed <- function(flavor = "cell_ranger", n.top = 100) {
    sce <- read10xH5(bundled(), devices = "cpu", shards = 2)
    sce <- qcMetrics(sce)
    sce <- sce[rowData(sce)$n_cells_by_counts >= 3, sce$n_genes_by_counts >= 5]
    sce <- normalizeTotal(sce, target.sum = 1e4, log = TRUE)
    sce <- highlyVariableGenes(sce, n.top = n.top, flavor = flavor,
                               assay.type = if (flavor == "seurat_v3") "counts" else "logcounts")
    computePCA(scaleGenes(sce, max.value = 10), ncomponents = 10)
}

# scanpy's normalize_total(target_sum = 1e4) and log1p, in plain R.
reference_logcounts <- function(counts) {
    counts <- as.matrix(counts)
    log1p(sweep(counts, 2, colSums(counts), "/") * 1e4)
}

test_that("scater's plotReducedDim and plotPCA show our PCA and our colData", {
    skip_if_not_installed("scater")
    sce <- processed()
    pcs <- reducedDim(sce, "PCA")
    p <- scater::plotReducedDim(sce, "PCA", ncomponents = c(1, 3), colour_by = "total_counts")
    expect_equal(p$data$X, unname(pcs[, 1]))
    expect_equal(p$data$Y, unname(pcs[, 3]))
    expect_equal(p$data$colour_by, sce$total_counts)
    q <- scater::plotPCA(sce, colour_by = "n_genes_by_counts")
    expect_equal(q$data$X, unname(pcs[, 1]))
    expect_equal(q$data$Y, unname(pcs[, 2]))
    # scater labels the axes with our percentVar
    expect_match(q$labels$x, sprintf("(%d%%)", round(attr(pcs, "percentVar")[1])), fixed = TRUE)
    expect_no_error(ggplot2::ggplot_build(q))
})

test_that("scater's plotExpression reads our logcounts block by block", {
    skip_if_not_installed("scater")
    sce <- processed()
    expect_s4_class(logcounts(sce), "CellshardMatrix")
    genes <- rownames(sce)[order(-rowData(sce)$total_counts)[1:3]]
    p <- scater::plotExpression(sce, features = genes, exprs_values = "logcounts")
    ref <- reference_logcounts(counts(toHost(sce, assays = "counts")))
    for (g in genes)
        expect_equal(p$data$Y[p$data$Feature == g], unname(ref[g, ]), tolerance = 1e-6)
})

test_that("scran's getTopHVGs on our dispersions selects our highly variable genes", {
    skip_if_not_installed("scran")
    for (n in c(25, 100)) {
        sce <- processed(n.top = n)
        st <- rowData(sce)
        d <- st$dispersions_norm
        # no tie at the cut-off, so both rules select exactly n genes
        expect_gt(sort(d, decreasing = TRUE)[n], sort(d, decreasing = TRUE)[n + 1])
        top <- scran::getTopHVGs(st, var.field = "dispersions_norm", n = n, var.threshold = NULL)
        expect_setequal(top, rownames(sce)[st$highly_variable])
    }
    v3 <- processed("seurat_v3", n.top = 50)
    top <- scran::getTopHVGs(rowData(v3), var.field = "variances_norm", n = 50, var.threshold = NULL)
    expect_setequal(top, rownames(v3)[rowData(v3)$highly_variable])
})

test_that("scran's modelGeneVar and getTopHVGs work on the device-backed logcounts", {
    skip_if_not_installed("scran")
    sce <- processed()
    ref <- reference_logcounts(counts(toHost(sce, assays = "counts")))
    mine <- scran::modelGeneVar(sce)
    theirs <- scran::modelGeneVar(ref)
    expect_equal(mine$mean, theirs$mean, tolerance = 1e-6)
    expect_equal(mine$total, theirs$total, tolerance = 1e-5)
    expect_identical(scran::getTopHVGs(sce, n = 20), scran::getTopHVGs(theirs, n = 20))
})

test_that("Seurat's as.Seurat takes the host copy: counts, logcounts and the PCA", {
    skip_if_not_installed("Seurat")
    sce <- processed()
    host <- toHost(sce, assays = c("counts", "logcounts"))
    expect_s4_class(counts(host), "dgCMatrix")
    seu <- suppressWarnings(Seurat::as.Seurat(host, counts = "counts", data = "logcounts"))
    expect_identical(dim(seu), dim(sce))
    ref <- reference_logcounts(counts(host))
    expect_equal(as.matrix(Seurat::GetAssayData(seu, slot = "data")), ref, tolerance = 1e-6,
                 ignore_attr = TRUE)
    expect_equal(unname(Seurat::Embeddings(seu, "PCA")), unname(reducedDim(sce, "PCA")[, ]),
                 ignore_attr = TRUE)
    expect_equal(seu$total_counts, sce$total_counts, ignore_attr = TRUE)
})
