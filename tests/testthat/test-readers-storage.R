# The same matrix stored contiguous, chunked without a filter, chunked with
# gzip, with float64 values and with int64 indices (converted on the way),
# read whole and in small steps that cut through chunks, with one thread and
# two, against the dgCMatrix that was written.

storage_reference <- function() {
    set.seed(8)
    n_genes <- 700
    n_cells <- 3000
    nnz <- 1.2e6
    at <- sample.int(n_genes * n_cells, nnz)
    # Whole counts and halves: exact in float32.
    x <- sample(c(1:40, 0.5, 2.5, 1e6), nnz, replace = TRUE)
    m <- Matrix::sparseMatrix(i = (at - 1) %% n_genes + 1, j = (at - 1) %/% n_genes + 1, x = x,
                              dims = c(n_genes, n_cells))
    dimnames(m) <- list(paste0("g", seq_len(n_genes)), paste0("c", seq_len(n_cells)))
    m
}

# Replaces X/data and X/indices of an h5ad file with the given storage.
restore_arrays <- function(file, chunk, gzip, data_type,
                           index_type = hdf5r::h5types$H5T_STD_I32LE) {
    h5 <- hdf5r::H5File$new(file, mode = "r+")
    on.exit(h5$close_all())
    x <- h5[["X"]]
    data <- x[["data"]]$read()
    indices <- x[["indices"]]$read()
    x$link_delete("data")
    x$link_delete("indices")
    x$create_dataset("data", robj = data, dtype = data_type, chunk_dims = chunk,
                     gzip_level = if (gzip > 0) gzip)
    x$create_dataset("indices", robj = indices, dtype = index_type,
                     chunk_dims = chunk, gzip_level = if (gzip > 0) gzip)
}

storage_of <- function(file) {
    h5 <- hdf5r::H5File$new(file, mode = "r")
    on.exit(h5$close_all())
    plist <- h5[["X/data"]]$get_create_plist()
    c(layout = as.character(plist$get_layout()), filters = plist$get_nfilters())
}

test_that("contiguous, chunked and gzip h5ad files read the same as the matrix written", {
    skip_if_not_installed("hdf5r")
    want <- storage_reference()
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = want)),
                    devices = "cpu")
    dir <- tempfile("storage")
    dir.create(dir)
    f32 <- hdf5r::h5types$H5T_IEEE_F32LE
    variants <- list(
        contiguous = list(),
        chunked = list(chunk = 9973L, gzip = 0L, type = f32),
        gzip = list(chunk = 9973L, gzip = 4L, type = f32),
        gzip_writer = list(compression = 4L),
        float64 = list(chunk = 5000L, gzip = 2L, type = hdf5r::h5types$H5T_IEEE_F64LE),
        int64_indices = list(chunk = NULL, gzip = 0L, type = f32,
                             index = hdf5r::h5types$H5T_STD_I64LE))
    files <- character()
    for (v in names(variants)) {
        spec <- variants[[v]]
        file <- file.path(dir, paste0(v, ".h5ad"))
        writeH5AD(sce, file, compression = if (is.null(spec$compression)) 0L else spec$compression)
        if (!is.null(spec$type))
            restore_arrays(file, spec$chunk, spec$gzip, spec$type,
                           if (is.null(spec$index)) hdf5r::h5types$H5T_STD_I32LE else spec$index)
        files[v] <- file
    }
    expect_identical(storage_of(files[["contiguous"]])[["layout"]], "H5D_CONTIGUOUS")
    expect_identical(storage_of(files[["chunked"]]), c(layout = "H5D_CHUNKED", filters = "0"))
    expect_identical(storage_of(files[["gzip"]]), c(layout = "H5D_CHUNKED", filters = "1"))
    expect_identical(storage_of(files[["int64_indices"]])[["layout"]], "H5D_CONTIGUOUS")
    old <- Sys.getenv("CELLSHARD_THREADS", unset = NA)
    on.exit(if (is.na(old)) Sys.unsetenv("CELLSHARD_THREADS") else Sys.setenv(CELLSHARD_THREADS = old))
    for (threads in c("1", "2")) {
        Sys.setenv(CELLSHARD_THREADS = threads)
        for (v in names(files)) {
            got <- readH5AD(files[[v]], devices = "cpu", shards = 3)
            expect_identical(as(counts(got), "dgCMatrix"), want, info = paste(v, threads))
            # Small steps: ranges that start and end inside chunks.
            r <- cellshard:::cs_h5ad_open(files[[v]], c(-1L, -1L), 4L, "X", 40000, 1000)
            done <- 0
            while (done < r$chunks) done <- cellshard:::cs_reader_step(r$reader, 3L)
            csc <- cellshard:::cs_to_csc(cellshard:::cs_reader_finish(r$reader))
            m <- Matrix::sparseMatrix(i = csc$i + 1L, p = csc$p, x = csc$x, dims = dim(want))
            expect_identical(m, no_names(want), info = paste(v, threads, "steps"))
        }
    }
})

test_that("a damaged gzip chunk gives an error naming the dataset", {
    skip_if_not_installed("hdf5r")
    want <- storage_reference()[1:50, 1:400]
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = want)),
                    devices = "cpu")
    file <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, file)
    restore_arrays(file, 1000L, 6L, hdf5r::h5types$H5T_IEEE_F32LE)
    # Overwrite the inside of the first zlib stream (level 6 header: 78 9c).
    bytes <- readBin(file, "raw", file.size(file))
    gz <- which(bytes[-length(bytes)] == as.raw(0x78) & bytes[-1] == as.raw(0x9c))
    expect_gt(length(gz), 0)
    bytes[gz[1] + 10:40] <- as.raw(0x55)
    writeBin(bytes, file)
    expect_error(readH5AD(file, devices = "cpu"), "corrupt|inflate|HDF5")
})
