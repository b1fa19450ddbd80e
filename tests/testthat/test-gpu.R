# CUDA-only behaviour. (Every other test file also runs its cases on the GPU
# when one is visible, comparing with host results.)

skip_memory_accounting <- function() {
    # compute-sanitizer holds freed device memory back, so levels do not return
    if (nzchar(Sys.getenv("CELLSHARD_UNDER_SANITIZER"))) skip("memory levels under compute-sanitizer")
}

test_that("releasing device data gives the memory back", {
    skip_without_gpu()
    skip_memory_accounting()
    m <- random_counts(2000, 3000, density = 0.3, seed = 9)   # ~1.8M non-zeros, ~14 MB
    warm <- toDevice(m[, 1:10], devices = 0L); releaseDevice(warm)  # context, streams
    gc()
    before <- deviceMemory(0L)$used
    x <- toDevice(m, devices = 0L)
    during <- deviceMemory(0L)$used
    expect_gt(during - before, 0.9 * length(m@x) * 8)  # values + indices at least
    y <- x[, 1:1500]
    releaseDevice(x); releaseDevice(y)
    gc()
    after <- deviceMemory(0L)$used
    expect_lt(abs(after - before), 4 * 2^20)  # back within allocator granularity
})

test_that("dropping the last R reference frees device memory through the finalizer", {
    skip_without_gpu()
    skip_memory_accounting()
    m <- random_counts(2000, 3000, density = 0.3, seed = 10)
    gc()
    before <- deviceMemory(0L)$used
    local({ x <- toDevice(m, devices = 0L); invisible(colSums(x)) })
    gc(full = TRUE)
    expect_lt(abs(deviceMemory(0L)$used - before), 4 * 2^20)
})

test_that("the CUDA backend and the CPU backend agree on every operation", {
    skip_without_gpu()
    m <- random_counts(300, 500, density = 0.2, seed = 11)
    cpu <- toDevice(m, devices = "cpu", shards = 3)
    gpu <- toDevice(m, devices = 0L, shards = uneven_shards(ncol(m)))
    expect_identical(deviceLayout(gpu)$device, rep(0L, 3))
    expect_equal(colSums(gpu), colSums(cpu), tolerance = 1e-14)
    expect_equal(rowSums(gpu), rowSums(cpu), tolerance = 1e-14)
    i <- sample(nrow(m), 200, replace = TRUE); j <- sample(ncol(m), 300, replace = TRUE)
    expect_identical(as(gpu[i, j], "dgCMatrix"), as(cpu[i, j], "dgCMatrix"))
    expect_identical(as(rebalance(gpu[, j], shards = 4), "dgCMatrix"), m[, j])
})
