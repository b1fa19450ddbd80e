# Device memory belongs to C++; R holds handles. A released or deserialised
# handle must fail clearly, never crash, and say how to bring the data back.

test_that("a serialised handle raises a clear, classed error", {
    x <- toDevice(random_counts(), devices = "cpu")
    f <- tempfile(fileext = ".rds")
    saveRDS(x, f)
    y <- readRDS(f)
    expect_error(colSums(y), class = "cellshard_stale_handle")
    expect_error(as.matrix(y), "saveRDS/readRDS")
    expect_error(y[1:2, ], "toDevice")
    expect_output(show(y), "device data is gone")
    expect_equal(colSums(x), Matrix::colSums(random_counts()))  # the original still works
})

test_that("releaseDevice frees the data for every copy", {
    x <- toDevice(random_counts(), devices = "cpu")
    copy <- x
    releaseDevice(x)
    expect_error(colSums(copy), "released with releaseDevice")
    expect_silent(releaseDevice(x))  # releasing twice is harmless
})

test_that("releasing one assay keeps the index shared with another", {
    m <- random_counts(40, 30)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)), devices = "cpu")
    sub <- sce[1:20, 1:25]
    SummarizedExperiment::assay(sub, "twice") <- SummarizedExperiment::assay(sub, "counts")
    releaseDevice(SummarizedExperiment::assay(sub, "counts"))
    expect_error(colSums(SummarizedExperiment::assay(sub, "counts")))
    expect_error(colSums(SummarizedExperiment::assay(sub, "twice")))  # same handle: R copies share
    expect_equal(colSums(SummarizedExperiment::assay(sce, "counts")), Matrix::colSums(m))
})

test_that("an allocation larger than memory is an R error that says what was needed", {
    dev <- if (gpu_count() > 0) 0L else -1L
    total <- deviceMemory(if (dev < 0) "cpu" else dev)$total
    err <- tryCatch(cellshard:::.deviceCall(cellshard:::cs_probe_allocation(dev, total * 4)),
                    error = function(e) e)
    expect_s3_class(err, "cellshard_out_of_memory")
    expect_match(conditionMessage(err), "out of memory on .*needed .*free of")
    # the session goes on
    expect_equal(colSums(toDevice(random_counts(), devices = "cpu")), Matrix::colSums(random_counts()))
})
