# Progress of long C++ work (src/r_progress.h): with options(cellshard.verbose
# = TRUE) the work runs on a worker thread while R's main thread reports; the
# results must be those of the references all the same.

test_that("computePCA reporting progress equals prcomp, on every backend", {
    old <- options(cellshard.verbose = TRUE, cli.progress_show_after = 0)
    on.exit(options(old))
    m <- random_counts(40, 300, density = 0.3, seed = 31)
    pr <- stats::prcomp(t(as.matrix(log1p(m))), center = TRUE, scale. = FALSE)
    for (config in device_configs()) {
        sce <- to_device_as(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))),
                            config)
        sce <- suppressMessages(computePCA(sce, ncomponents = 6, assay.type = "logcounts"))
        pcs <- reducedDim(sce, "PCA")
        expect_equal(sqrt(attr(pcs, "varExplained")), pr$sdev[1:6], tolerance = 1e-6)
        expect_equal(abs(as.vector(pcs)), abs(as.vector(pr$x[, 1:6])), tolerance = 1e-5)
    }
})

test_that("simulateAtlas reporting progress draws each cell's library, on every backend", {
    old <- options(cellshard.verbose = TRUE)
    on.exit(options(old))
    for (config in device_configs()) {
        sce <- suppressMessages(simulateAtlas(3000, n.genes = 300, seed = 5,
                                              devices = config$devices, shards = 3))
        # every cell's counts add up to the library size the model drew for it
        expect_equal(colSums(as.matrix(counts(sce))), sce$library_size, ignore_attr = TRUE)
    }
})

test_that("quiet by default outside interactive sessions and under cellshard.verbose = FALSE", {
    old <- options(cellshard.verbose = FALSE)
    on.exit(options(old))
    expect_null(cellshard:::.progressReporter("computePCA"))
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(
        list(logcounts = log1p(random_counts(20, 50, seed = 32)))), devices = "cpu")
    expect_silent(computePCA(sce, ncomponents = 3, assay.type = "logcounts"))
    expect_silent(simulateAtlas(200, n.genes = 100, devices = "cpu"))
    options(cellshard.verbose = NULL)
    expect_identical(is.null(cellshard:::.progressReporter("computePCA")), !interactive())
})

test_that("the reporter names the verb and the phase, and closes a phase when the next begins", {
    old <- options(cli.progress_show_after = 0, cli.dynamic = FALSE)
    on.exit(options(old))
    shown <- character()
    withCallingHandlers({
        report <- cellshard:::.progressReporter("computePCA", show = TRUE)
        report("Gram matrix", 2, 4)
        report("eigendecomposition", 0, 0)
    }, message = function(m) {
        shown <<- c(shown, conditionMessage(m))
        invokeRestart("muffleMessage")
    })
    expect_match(shown, "computePCA: Gram matrix .*50%", all = FALSE)
    expect_match(shown, "computePCA: Gram matrix done in", all = FALSE)
})

test_that("a phase reported at its total again, then a new phase, raises no error", {
    # cli closes a bar at its total: simulateAtlas reported 100% twice and
    # stopped with "Cannot find progress bar" (2026-11-26)
    old <- options(cli.progress_show_after = 0, cli.dynamic = FALSE)
    on.exit(options(old))
    report_all <- function() {
        report <- cellshard:::.progressReporter("simulateAtlas", show = TRUE)
        report("drawing the counts", 2, 4)
        report("drawing the counts", 4, 4)
        report("drawing the counts", 4, 4)
        report("naming the cells", 0, 0)
        "reported"
    }
    expect_identical(suppressMessages(report_all()), "reported")
})
