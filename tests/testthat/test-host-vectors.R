# Per-cell columns live in C++ memory outside R's heap (src/r_host_vector.cpp).
# To R they must behave exactly as the ordinary vectors with the same values.

test_that("vectors in C++ memory behave as R's own under arithmetic, subsetting, copies and saveRDS", {
    totals <- c(0, 2, 4, 8, NA)
    x <- cellshard:::cs_size_factors(totals, 10)
    ref <- c(10, 5, 2.5, 1.25, NA)
    expect_identical(x[], ref)
    expect_identical(x * 2 + 1, ref * 2 + 1)
    for (i in list(2:3, c(5, 1), -1, c(TRUE, FALSE), 0, 7, c(2, NA), integer(0)))
        expect_identical(x[i], ref[i])
    y <- x
    y[1] <- 99  # copy on modify: x keeps its values
    expect_identical(x[1], 10)
    expect_identical(y[], replace(ref, 1, 99))
    f <- tempfile(fileext = ".rds")
    saveRDS(x, f)
    expect_identical(readRDS(f), ref)
    expect_identical(sum(x, na.rm = TRUE), sum(ref, na.rm = TRUE))
    expect_identical(order(x), order(ref))
})

test_that("the filter's mask in C++ memory equals R's comparison, NA included", {
    n <- c(150L, 200L, NA, 10000L, 10001L, 5000L)
    keep <- cellshard:::cs_in_range(n, 200, 10000)
    expect_identical(keep[], n >= 200 & n <= 10000)
    expect_identical(which(keep), which(n >= 200 & n <= 10000))
    d <- as.numeric(n)
    expect_identical(cellshard:::cs_in_range(d, 200, 10000)[], d >= 200 & d <= 10000)
    expect_error(cellshard:::cs_in_range(letters, 1, 2), "must be")
})

test_that("QC columns in C++ memory subset with the object and equal a dgCMatrix's sums", {
    sce <- simulateAtlas(3000, n.genes = 500, seed = 11, devices = "cpu", verbose = FALSE)
    mt <- grepl("^(MT|mt)-", rownames(sce))
    q <- qcMetrics(sce, subsets = list(mt = mt))
    m <- as(counts(sce), "dgCMatrix")
    total <- Matrix::colSums(m)
    expect_identical(q$total_counts[], total, ignore_attr = TRUE)
    expect_identical(q$n_genes_by_counts[], as.integer(Matrix::colSums(m > 0)), ignore_attr = TRUE)
    expect_equal(q$pct_counts_mt[], 100 * Matrix::colSums(m[mt, ]) / total, ignore_attr = TRUE,
                 tolerance = 1e-14)
    expect_identical(q$log1p_total_counts[], log1p(total), ignore_attr = TRUE)
    kept <- q[, seq(1, ncol(q), by = 7)]
    expect_identical(kept$total_counts[], unname(total[seq(1, ncol(q), by = 7)]))
})
