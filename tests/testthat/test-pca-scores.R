# computePCA leaves the scores on the devices (an ALTREP matrix read into R
# memory when first touched). Whatever R does with them (copies with row names,
# subsetting, releaseDevice, saveRDS) must give prcomp's scores.
prcomp_scores <- function(m, k) {
    stats::prcomp(t(as.matrix(log1p(m))), center = TRUE, scale. = FALSE)$x[, seq_len(k)]
}
# Columns of x with the signs of ref.
aligned <- function(x, ref) {
    x <- matrix(as.numeric(x), nrow(x)); ref <- unname(ref)  # values only
    sweep(x, 2, sign(colSums(x * ref)), `*`)
}

for (cfg_name in names(device_configs())) {
    cfg <- device_configs()[[cfg_name]]
    test_that(sprintf("PCA scores are read from the devices only when needed, and equal prcomp's: %s", cfg_name), {
        m <- random_counts(40, 300, density = 0.3, seed = 31)
        ref <- prcomp_scores(m, 6)
        sce <- to_device_as(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))), cfg)
        sce <- computePCA(sce, ncomponents = 6, assay.type = "logcounts")
        stored <- reducedDim(sce, "PCA", withDimnames = FALSE)
        expect_true(cellshard:::cs_scores_on_device(stored))
        expect_true(is.matrix(stored))
        expect_identical(dim(stored), c(300L, 6L))
        # The getter's copy (with row names) reads its own values; the stored one stays unread.
        pcs <- reducedDim(sce, "PCA")
        expect_identical(rownames(pcs), colnames(m))
        expect_equal(aligned(pcs, ref), unname(ref), tolerance = 1e-6)
        expect_true(cellshard:::cs_scores_on_device(stored))
        expect_equal(aligned(pcs[c(300, 1, 17), 2:3], ref[c(300, 1, 17), 2:3]),
                     unname(ref[c(300, 1, 17), 2:3]), tolerance = 1e-6)
        expect_equal(length(attr(stored, "percentVar")), 6L)

        # releaseDevice reads the stored scores into R memory first; an unread
        # copy taken before keeps its own reference to the device data.
        early <- reducedDim(sce, "PCA")
        releaseDevice(sce)
        expect_false(cellshard:::cs_scores_on_device(reducedDim(sce, "PCA", withDimnames = FALSE)))
        expect_equal(aligned(reducedDim(sce, "PCA"), ref), unname(ref), tolerance = 1e-6)
        expect_equal(aligned(early, ref), unname(ref), tolerance = 1e-6)
        expect_error(counts <- as.matrix(assay(sce, "logcounts")), "gone")
    })
}

test_that("saveRDS writes the scores' values: readRDS gives an ordinary matrix", {
    m <- random_counts(30, 120, density = 0.3, seed = 32)
    ref <- prcomp_scores(m, 4)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))),
                    devices = "cpu", shards = 2)
    sce <- computePCA(sce, ncomponents = 4, assay.type = "logcounts")
    f <- tempfile(fileext = ".rds")
    saveRDS(reducedDim(sce, "PCA"), f)
    back <- readRDS(f)
    expect_false(cellshard:::cs_scores_on_device(back))
    expect_equal(aligned(back, ref), unname(ref), tolerance = 1e-6)
    expect_equal(length(attr(back, "rotation")), 30 * 4)
    # toHost also reads them into R memory.
    host <- toHost(sce)
    expect_false(cellshard:::cs_scores_on_device(reducedDim(host, "PCA", withDimnames = FALSE)))
    unlink(f)
})

test_that("computePCA stores its reducedDim as SingleCellExperiment's own setter does", {
    # computePCA writes int_colData directly (skipping the setter's
    # updateObject); the object must be the one reducedDim<- makes.
    m <- random_counts(25, 90, density = 0.3, seed = 33)
    sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m)))
    reducedDim(sce, "UMAP") <- matrix(seq_len(180), 90, 2)
    sce <- toDevice(sce, devices = "cpu")
    got <- computePCA(sce, ncomponents = 3, assay.type = "logcounts", name = "PCA3")
    ref <- sce
    reducedDim(ref, "PCA3", withDimnames = FALSE) <- reducedDim(got, "PCA3", withDimnames = FALSE)
    metadata(ref) <- metadata(got)
    expect_identical(reducedDimNames(got), c("UMAP", "PCA3"))
    expect_identical(reducedDim(got, "UMAP"), reducedDim(sce, "UMAP"))
    expect_identical(int_colData(got), int_colData(ref))
    expect_true(validObject(got))
    # A second run replaces the entry in place.
    again <- computePCA(got, ncomponents = 2, assay.type = "logcounts", name = "PCA3")
    expect_identical(reducedDimNames(again), c("UMAP", "PCA3"))
    expect_identical(ncol(reducedDim(again, "PCA3")), 2L)
    ref2 <- got
    reducedDim(ref2, "PCA3", withDimnames = FALSE) <- reducedDim(again, "PCA3", withDimnames = FALSE)
    metadata(ref2) <- metadata(again)
    expect_identical(int_colData(again), int_colData(ref2))
})

test_that("the reducedDims column writer matches S4Vectors' [[<-, with or without mcols", {
    df <- S4Vectors::make_zero_col_DFrame(4)
    df[["A"]] <- matrix(1:8, 4)
    ref <- df
    ref[["B"]] <- matrix(0, 4, 3)
    ref[["A"]] <- matrix(2, 4, 1)
    got <- cellshard:::.withColumn(df, "B", matrix(0, 4, 3))
    got <- cellshard:::.withColumn(got, "A", matrix(2, 4, 1))
    expect_identical(got, ref)
    expect_identical(names(got), c("A", "B"))
    S4Vectors::mcols(df) <- S4Vectors::DataFrame(note = "a")
    ref <- df
    ref[["B"]] <- matrix(0, 4, 3)
    expect_identical(cellshard:::.withColumn(df, "B", matrix(0, 4, 3)), ref)
})

test_that("computePCA asks for a SingleCellExperiment, and the conversion works", {
    m <- random_counts(25, 60, density = 0.3, seed = 34)
    se <- toDevice(SummarizedExperiment::SummarizedExperiment(list(logcounts = log1p(m))),
                   devices = "cpu")
    expect_error(computePCA(se, ncomponents = 3, assay.type = "logcounts"),
                 "must be a SingleCellExperiment")
    sce <- computePCA(as(se, "SingleCellExperiment"), ncomponents = 3, assay.type = "logcounts")
    ref <- prcomp_scores(m, 3)
    expect_equal(aligned(reducedDim(sce, "PCA"), ref), unname(ref), tolerance = 1e-6)
})
