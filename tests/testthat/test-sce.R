# SingleCellExperiment integration: Bioconductor code that knows nothing of the
# devices gives the same answers on device-backed assays as on dgCMatrix ones.

for (cfg_name in names(device_configs())) {
    cfg <- device_configs()[[cfg_name]]
    m <- random_counts(200, 150, seed = 3)
    host <- SingleCellExperiment::SingleCellExperiment(list(counts = m))
    dev <- toDevice(host, devices = cfg$devices,
                    shards = if (identical(cfg$shards, "uneven")) uneven_shards(ncol(m)) else NULL)

    test_that(paste("the assay is device-backed after toDevice:", cfg_name), {
        expect_s4_class(SingleCellExperiment::counts(dev), "CellshardMatrix")
        expect_identical(dimnames(dev), dimnames(host))
    })

    test_that(paste("scuttle's QC metrics equal those on the dgCMatrix:", cfg_name), {
        skip_if_not_installed("scuttle")
        subsets <- list(first = 1:20)
        expect_equal(as.data.frame(scuttle::perCellQCMetrics(dev, subsets = subsets)),
                     as.data.frame(scuttle::perCellQCMetrics(host, subsets = subsets)))
        expect_equal(as.data.frame(scuttle::perFeatureQCMetrics(dev)),
                     as.data.frame(scuttle::perFeatureQCMetrics(host)))
        expect_equal(scuttle::librarySizeFactors(dev), scuttle::librarySizeFactors(host))
    })

    test_that(paste("sce[genes, cells] stays on the devices:", cfg_name), {
        keep <- Matrix::colSums(m) > stats::median(Matrix::colSums(m))
        genes <- which(Matrix::rowSums(m) > 20)
        sub <- dev[genes, keep]
        expect_s4_class(SingleCellExperiment::counts(sub), "CellshardMatrix")
        expect_identical(as(SingleCellExperiment::counts(sub), "dgCMatrix"), m[genes, keep])
        expect_identical(SingleCellExperiment::counts(toHost(sub)), m[genes, keep])
        expect_equal(colSums(SingleCellExperiment::counts(sub)), Matrix::colSums(m[genes, keep]))
    })
}

test_that("two assays subset the same way share one device index", {
    m <- random_counts(50, 40)
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = m, other = m * 2))
    dev <- toDevice(sce, devices = "cpu", shards = 2)
    lay0 <- function(a) cellshard:::cs_matrix_layout(SummarizedExperiment::assay(dev, a, withDimnames = FALSE)@seed@handle)
    expect_identical(lay0("counts")$index_id, lay0("other")$index_id)
    expect_identical(as(SummarizedExperiment::assay(dev, "other"), "dgCMatrix"), m * 2)
    sub <- dev[1:30, c(40:20)]
    lay <- function(a) cellshard:::cs_matrix_layout(SummarizedExperiment::assay(sub, a, withDimnames = FALSE)@seed@handle)
    expect_identical(lay("counts")$index_id, lay("other")$index_id)
    expect_identical(as(SummarizedExperiment::assay(sub, "other"), "dgCMatrix"), m[1:30, 40:20] * 2)
    reb <- rebalance(sub, shards = 3)
    lay2 <- function(a) cellshard:::cs_matrix_layout(SummarizedExperiment::assay(reb, a, withDimnames = FALSE)@seed@handle)
    expect_identical(lay2("counts")$index_id, lay2("other")$index_id)
    expect_identical(as(SummarizedExperiment::assay(reb, "other"), "dgCMatrix"), m[1:30, 40:20] * 2)
})
