# A CellshardMatrix must answer exactly as the dgCMatrix it came from, on every
# backend and shard layout: dims, names, subsetting, transposition, sums, means.

for (cfg_name in names(device_configs())) {
    cfg <- device_configs()[[cfg_name]]
    m <- random_counts()
    x <- to_device_as(m, cfg)

    test_that(paste("round trip to the devices and back is exact:", cfg_name), {
        expect_s4_class(x, "CellshardMatrix")
        expect_identical(dim(x), dim(m))
        expect_identical(dimnames(x), dimnames(m))
        expect_identical(as(x, "dgCMatrix"), m)
        expect_identical(toHost(x), m)
        expect_identical(as.matrix(x), as.matrix(m))
    })

    test_that(paste("sums and means equal the host's:", cfg_name), {
        expect_equal(colSums(x), Matrix::colSums(m), tolerance = 1e-12)
        expect_equal(rowSums(x), Matrix::rowSums(m), tolerance = 1e-12)
        expect_equal(colMeans(x), Matrix::colMeans(m), tolerance = 1e-12)
        expect_equal(rowMeans(x), Matrix::rowMeans(m), tolerance = 1e-12)
        expect_equal(colSums(t(x)), Matrix::rowSums(m), tolerance = 1e-12)
    })

    test_that(paste("subsetting stays on the devices and equals the host's:", cfg_name), {
        keep_cells <- Matrix::colSums(m) > 40
        keep_genes <- Matrix::rowSums(m) > 0
        cases <- list(
            list(keep_genes, keep_cells),
            list(c(3L, 1L, 1L, 50L), c(90L, 2L, 2L, 45L, 1L)),
            list(-(1:10), -c(1, 90)),
            list(c("gene010", "gene002"), c("cell005", "cell001", "cell089")),
            list(TRUE, c(TRUE, FALSE)),
            list(integer(0), 1:3),
            list(1:4, integer(0)))
        for (cs in cases) {
            y <- x[cs[[1]], cs[[2]], drop = FALSE]
            expect_s4_class(y, "CellshardMatrix")
            expect_identical(as(y, "dgCMatrix"), m[cs[[1]], cs[[2]], drop = FALSE])
            expect_equal(colSums(y), Matrix::colSums(m[cs[[1]], cs[[2]], drop = FALSE]))
        }
        # subsetting a subset, and reversing all cells (many small pieces)
        y <- x[, ncol(x):1][10:1, ]
        expect_identical(as(y, "dgCMatrix"), m[, ncol(m):1][10:1, ])
        expect_equal(unname(x[7, ]), unname(as.matrix(m)[7, ]))
    })

    test_that(paste("transposition is a view:", cfg_name), {
        tx <- t(x)
        expect_s4_class(tx, "CellshardMatrix")
        expect_identical(dim(tx), rev(dim(m)))
        expect_identical(as(tx, "dgCMatrix"), Matrix::t(m))
        expect_identical(as.matrix(tx[1:5, c("gene001", "gene100")]),
                         as.matrix(Matrix::t(m)[1:5, c("gene001", "gene100")]))
        expect_identical(as(t(tx), "dgCMatrix"), m)
    })

    test_that(paste("block processing by DelayedArray reads the right values:", cfg_name), {
        DelayedArray::setAutoBlockSize(2000)  # many small blocks
        on.exit(DelayedArray::setAutoBlockSize())
        plain <- DelayedArray::DelayedArray(m)
        expect_equal(DelayedArray::colMaxs(x), DelayedArray::colMaxs(plain))
        expect_equal(as.vector(DelayedArray::blockApply(x, sum)), as.vector(DelayedArray::blockApply(plain, sum)))
        expect_equal(as.matrix(log1p(x)), log1p(as.matrix(m)))
    })

    test_that(paste("rebalance evens the shards and keeps the data:", cfg_name), {
        y <- x[, c(1:5, 80:90)]
        z <- rebalance(y, shards = 3)
        lay <- deviceLayout(z)
        expect_equal(nrow(lay), 3)
        expect_true(max(lay$cells) - min(lay$cells) <= 1)
        expect_identical(as(z, "dgCMatrix"), m[, c(1:5, 80:90)])
        # already balanced: the same layout and data, and releasing one leaves the other whole
        again <- rebalance(z, shards = 3)
        expect_identical(deviceLayout(again), lay)
        releaseDevice(z)
        expect_identical(as(again, "dgCMatrix"), m[, c(1:5, 80:90)])
    })
}

test_that("dimnames can be replaced without leaving the devices", {
    x <- toDevice(random_counts(), devices = "cpu")
    dimnames(x) <- list(NULL, paste0("c", seq_len(ncol(x))))
    expect_s4_class(x, "CellshardMatrix")
    expect_null(rownames(x))
    expect_identical(colnames(x)[1:2], c("c1", "c2"))
    expect_error(dimnames(x) <- list(NULL, "a"), "has length 1")
})

test_that("dense and other Matrix inputs are accepted; bad input is refused", {
    m <- random_counts(30, 20)
    d <- as.matrix(m)
    expect_identical(as(toDevice(d, devices = "cpu"), "dgCMatrix"), m)
    expect_identical(as(toDevice(as(m, "TsparseMatrix"), devices = "cpu"), "dgCMatrix"), m)
    bad <- d; bad[3, 4] <- NaN
    expect_error(toDevice(bad, devices = "cpu"), "NaN")
    expect_error(toDevice(d, devices = "cpu", shards = c(5, 5)), "add up to 10 cells")
    expect_error(toDevice(d, devices = 99), "not visible")
    expect_error(toDevice(d, devices = "tpu"), "devices must be")
    x <- toDevice(m, devices = "cpu")
    expect_error(x[31, ], "out of range")
    expect_error(x[, "nope"], "not found")
})

test_that("empty matrices and empty selections work", {
    m <- random_counts(10, 8)
    x <- toDevice(m, devices = "cpu", shards = 2)
    e <- x[integer(0), ]
    expect_identical(dim(e), c(0L, 8L))
    expect_equal(unname(colSums(e)), rep(0, 8))
    z <- toDevice(Matrix::Matrix(0, 5, 4, sparse = TRUE), devices = "cpu")
    expect_equal(unname(colSums(z)), rep(0, 4))
    expect_identical(as.matrix(z), matrix(0, 5, 4))
})
