# plotDeviceLayout draws every shard of the assay, where it lives and how
# large it is, on the device configurations of the test suite.
skip_if_not_installed("ggplot2")

test_that("plotDeviceLayout shows every shard, its home and its bytes, on every configuration", {
    skip_without_shared_data("pbmc3k")
    ref <- as(Matrix::readMM(gzfile(shared_data("pbmc3k", "matrix.mtx.gz"))), "CsparseMatrix")
    host <- SingleCellExperiment::SingleCellExperiment(list(counts = ref))
    for (config in device_configs()) {
        sce <- to_device_as(host, config)
        p <- plotDeviceLayout(sce)
        expect_s3_class(p, "ggplot")
        # every cell and non-zero of the file, in shards
        expect_equal(sum(p$data$cells), ncol(ref))
        expect_equal(sum(p$data$nnz), Matrix::nnzero(ref))
        # row pointers (cells + 1 per shard), gene indices and values
        expect_equal(sum(p$data$bytes), (ncol(ref) + nrow(p$data) + Matrix::nnzero(ref)) * 8)
        expect_true(all(p$data$home == "device"))   # no budget: everything on the devices
        built <- ggplot2::ggplot_build(p)
        expect_equal(nrow(built$data[[1]]), nrow(p$data))   # one bar per shard
        expect_equal(length(unique(built$data[[1]]$PANEL)), length(unique(config$devices)))
        expect_no_warning(expect_no_error(ggplot2::ggplot_build(p)))
    }
})

test_that("under a tiny budget the picture tells the homes apart and adds them up", {
    path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
    sce <- suppressMessages(read10xH5(path, devices = "cpu", device.memory = "40KB"))
    p <- plotDeviceLayout(sce)
    # the CPU backend streams from an HDF5 file: some shards stay there
    expect_true("file" %in% p$data$home)
    expect_identical(levels(p$data$home), c("device", "pinned", "file", "computed"))
    expect_identical(as.character(unique(p$data$device)), "CPU")
    in_file <- sum(p$data$bytes[p$data$home == "file"])
    expect_gt(in_file, 1e5)   # some hundreds of kB: the subtitle says so in kB
    expect_lt(in_file, 1e6)
    expect_match(p$labels$subtitle, sprintf("%d shards", nrow(p$data)), fixed = TRUE)
    expect_match(p$labels$subtitle, paste(signif(in_file / 1e3, 3), "kB file"), fixed = TRUE)
    expect_identical(p$labels$y, "kB of index and values")
    # a filter of streamed shards is computed, and the colour says so
    kept <- sce[seq(2, nrow(sce), by = 3), 5:ncol(sce)]
    q <- plotDeviceLayout(kept)
    expect_true("computed" %in% q$data$home)
    fills <- ggplot2::ggplot_build(q)$data[[1]]$fill
    expect_identical(unique(fills[q$data$home == "computed"]), "seagreen")
    # a device-backed matrix works as the object does; anything else is refused
    expect_identical(plotDeviceLayout(counts(sce))$data, p$data)
    expect_error(plotDeviceLayout(sce, assay.type = "logcounts"), "no assay named")
    expect_error(plotDeviceLayout(matrix(1:4, 2)), "device-backed matrix")
})
