# Device configurations every device-backed test runs on: the CPU backend with
# one shard and with three uneven shards, and, where a GPU is visible, the CUDA
# backend the same ways (and over several GPUs when there are several).
gpu_count <- function() cellshard:::cs_gpu_count()

device_configs <- function() {
    configs <- list(cpu1 = list(devices = "cpu", shards = NULL),
                    cpu3 = list(devices = "cpu", shards = "uneven"))
    if (gpu_count() > 0) {
        configs$gpu1 <- list(devices = 0L, shards = NULL)
        configs$gpu3 <- list(devices = 0L, shards = "uneven")
        if (gpu_count() > 1)
            configs$gpus <- list(devices = seq_len(gpu_count()) - 1L, shards = "uneven")
    }
    configs
}

# Three shards of very different sizes (about 1/10, 2/10 and 7/10 of the cells).
uneven_shards <- function(n_cells) {
    a <- max(1, floor(n_cells / 10)); b <- max(1, floor(n_cells / 5))
    c(a, b, n_cells - a - b)
}

to_device_as <- function(x, config) {
    shards <- if (identical(config$shards, "uneven")) uneven_shards(ncol(x)) else config$shards
    toDevice(x, devices = config$devices, shards = shards)
}

skip_without_gpu <- function() {
    if (gpu_count() == 0) skip("no GPU visible: CUDA backend tests run on the GPU machine")
}

# A random count matrix (genes x cells) with names, some empty genes and cells.
random_counts <- function(genes = 120, cells = 90, density = 0.15, seed = 1) {
    set.seed(seed)
    m <- Matrix::rsparsematrix(genes, cells, density,
                               rand.x = function(n) as.numeric(rpois(n, 4) + 1))
    m[5, ] <- 0
    m[, 7] <- 0
    m <- Matrix::drop0(m)
    dimnames(m) <- list(sprintf("gene%03d", seq_len(genes)), sprintf("cell%03d", seq_len(cells)))
    m
}

shared_data <- function(...) {
    root <- Sys.getenv("CELLSHARD_SHARED_DATA", testthat::test_path("..", "..", "..", "shared", "data"))
    file.path(root, ...)
}

skip_without_shared_data <- function(...) {
    if (!file.exists(shared_data(...)))
        skip(paste("shared test data not found at", shared_data(...),
                   "(set CELLSHARD_SHARED_DATA to the shared/data folder)"))
}
