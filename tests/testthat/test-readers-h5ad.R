# readH5AD on files written by anndata: every X encoding and value type, the
# obs / var column encodings, layers, duplicates, chunking, malformed files.

expect_fixture_frames <- function(sce) {
    cd <- SummarizedExperiment::colData(sce)
    rd <- SummarizedExperiment::rowData(sce)
    expect_identical(colnames(sce), paste0("cell_", 0:39))
    expect_identical(rownames(sce), paste0("gene_", 0:22))
    want_obs <- fixture_obs()
    expect_identical(names(cd), names(want_obs))
    for (col in names(want_obs)) expect_identical(cd[[col]], want_obs[[col]], info = col)
    want_var <- fixture_var()
    expect_identical(names(rd), names(want_var))
    for (col in names(want_var)) expect_identical(rd[[col]], want_var[[col]], info = col)
}

test_that("readH5AD reads CSR, CSC and dense X of float32 and int32 alike", {
    want <- fixture_counts()
    for (enc in c("csr", "csc", "dense")) {
        for (type in c("f32", "i32")) {
            file <- fixture(sprintf("%s_%s.h5ad", enc, type))
            for (shards in list(NULL, 3)) {
                sce <- readH5AD(file, devices = "cpu", shards = shards)
                scale <- if (type == "f32") 4 else 1
                expect_identical(counts_matrix(sce) * scale, want,
                                 info = paste(enc, type, "shards", format(shards)))
                expect_fixture_frames(sce)
            }
        }
    }
})

test_that("readH5AD reads layers stored as CSR, CSC and dense", {
    sce <- readH5AD(fixture("csr_f32.h5ad"), devices = "cpu", assay = "X",
                    layers = c("counts", "dense", "csc"))
    want <- fixture_counts()
    expect_identical(SummarizedExperiment::assayNames(sce), c("X", "counts", "dense", "csc"))
    expect_identical(counts_matrix(sce, "X") * 4, want)
    expect_identical(counts_matrix(sce, "counts"), want)
    expect_identical(counts_matrix(sce, "dense") * 4, want)
    expect_identical(counts_matrix(sce, "csc") * 4, want)
    expect_error(readH5AD(fixture("csr_f32.h5ad"), devices = "cpu", layers = "nope"), "no layer")
})

test_that("the glue streams in small chunks across shards and reports its steps", {
    file <- fixture("csr_f32.h5ad")
    want <- fixture_counts() / 4
    for (el in c("X", "counts", "dense", "csc")) {
        r <- cellshard:::cs_h5ad_open(file, c(-1L, -1L), 4L, el, 7, 3)
        expect_equal(r$n_obs, 40)
        expect_equal(r$n_vars, 23)
        expect_gt(r$chunks, 4)
        done <- 0
        while (done < r$chunks) done <- cellshard:::cs_reader_step(r$reader, 2L)
        h <- cellshard:::cs_reader_finish(r$reader)
        csc <- cellshard:::cs_to_csc(h)
        m <- Matrix::sparseMatrix(i = csc$i + 1L, p = csc$p, x = csc$x, dims = c(23, 40))
        expect_identical(unname(as.matrix(m)) * if (el == "counts") 1 else 4,
                         unname(fixture_counts()), info = el)
        layout <- cellshard:::cs_matrix_layout(h)
        expect_length(layout$shard_cells, 4)
        expect_equal(sum(layout$shard_cells), 40)
    }
})

test_that("an interrupted read can be dropped and a finished reader refuses more steps", {
    r <- cellshard:::cs_h5ad_open(fixture("csr_f32.h5ad"), -1L, 2L, "X", 5, 2)
    cellshard:::cs_reader_step(r$reader, 1L)
    cellshard:::cs_reader_close(r$reader)
    expect_error(cellshard:::cs_reader_step(r$reader, 1L), "closed")
    r <- cellshard:::cs_h5ad_open(fixture("csr_f32.h5ad"), -1L, 2L)
    h <- cellshard:::cs_reader_finish(r$reader)
    expect_error(cellshard:::cs_reader_finish(r$reader), "closed")
})

test_that("unsorted indices are sorted and duplicates summed, as scipy does", {
    for (chunk in c(1e6, 1)) {  # one chunk, and a chunk per cell (restart path)
        r <- cellshard:::cs_h5ad_open(fixture("csr_duplicates.h5ad"), c(-1L, -1L), 2L, "X", chunk, 1)
        h <- cellshard:::cs_reader_finish(r$reader)
        csc <- cellshard:::cs_to_csc(h)
        m <- as.matrix(Matrix::sparseMatrix(i = csc$i + 1L, p = csc$p, x = csc$x, dims = c(23, 40)))
        want <- matrix(0, 23, 40)
        want[1, 1] <- 2; want[3, 1] <- 4; want[2, 3] <- 6; want[4, 3] <- 5
        expect_identical(m, want)
        expect_identical(csc$p[1:4], c(0L, 2L, 2L, 4L))
    }
})

# Byte offset (0-based) of the only occurrence of `pattern` in `bytes`.
only_offset <- function(bytes, pattern) {
    n <- length(bytes) - length(pattern) + 1L
    hit <- rep(TRUE, n)
    for (k in seq_along(pattern)) hit <- hit & bytes[k - 1L + seq_len(n)] == pattern[k]
    hits <- which(hit)
    expect_length(hits, 1)
    hits[1] - 1L
}

test_that("large reads check each piece as it lands: order across pieces, and the first bad entry (CPU and GPU)", {
    # 22,000 cells of 100 genes each (2.2M entries: read in pieces of 2^19 on
    # several threads). Cell 5243 (1-based) straddles the first boundary
    # between pieces (entry 524,288 = 2^19 is its 89th) and holds genes that no
    # other cell has, so that their bytes can be found in the file.
    n_genes <- 100000L; n_cells <- 22000L
    i <- rep(0:99, n_cells)
    i[5242 * 100 + 1:100] <- 99900:99999
    i[15000 * 100 + 1:100] <- 99800:99899
    x <- rep(1, length(i))
    x[5242 * 100 + 1:100] <- 1:100
    x[15000 * 100 + 50] <- 12345.5
    m <- Matrix::sparseMatrix(i = i + 1L, p = seq(0L, by = 100L, length.out = n_cells + 1L), x = x,
                              dims = c(n_genes, n_cells))
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = m))
    dimnames(sce) <- list(sprintf("g%d", seq_len(n_genes)), sprintf("c%d", seq_len(n_cells)))
    clean <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, clean)
    bytes <- readBin(clean, "raw", file.size(clean))
    int_bytes <- function(v) writeBin(as.integer(v), raw(), endian = "little")
    float_bytes <- function(v) writeBin(v, raw(), size = 4, endian = "little")
    # Entry 524,288 given the gene of entry 524,287 (99987, 0-based): a
    # duplicate exactly across the boundary, which the reader must sum (and
    # then hold one entry fewer than the file).
    at <- only_offset(bytes, int_bytes(c(99987L, 99988L)))
    twice <- bytes
    twice[at + 5:8] <- int_bytes(99987L)
    f_twice <- tempfile(fileext = ".h5ad")
    writeBin(twice, f_twice)
    want <- m
    want[99988, 5243] <- 88 + 89
    want[99989, 5243] <- 0
    want <- unname(as.matrix(want[, c(1, 5243, n_cells)]))
    # A gene index past the end and a NaN, both in a later piece (cell 15001).
    bad_index <- bytes
    at <- only_offset(bytes, int_bytes(99810:99811))
    bad_index[at + 1:4] <- int_bytes(n_genes + 7L)
    f_index <- tempfile(fileext = ".h5ad")
    writeBin(bad_index, f_index)
    bad_value <- bytes
    at <- only_offset(bytes, float_bytes(12345.5))
    bad_value[at + 1:4] <- float_bytes(NaN)
    f_value <- tempfile(fileext = ".h5ad")
    writeBin(bad_value, f_value)
    for (devices in unique(lapply(device_configs(), `[[`, "devices"))) {
        got <- readH5AD(f_twice, devices = devices)
        expect_equal(sum(as.numeric(deviceLayout(counts(got))$nnz)), length(i) - 1)
        expect_identical(unname(as.matrix(counts(got)[, c(1, 5243, n_cells)])), want)
        releaseDevice(got)
        expect_error(readH5AD(f_index, devices = devices),
                     "holds gene index 100007 in cell 15001 \\(1-based\\)")
        expect_error(readH5AD(f_value, devices = devices),
                     "NaN or infinite value .* in cell 15001 \\(1-based\\)")
    }
    unlink(c(clean, f_twice, f_index, f_value))
})

test_that("cs_h5ad_info and cs_h5ad_read_frame describe the file", {
    info <- cellshard:::cs_h5ad_info(fixture("csr_f32.h5ad"))
    expect_equal(info$n_obs, 40)
    expect_equal(info$n_vars, 23)
    expect_identical(info$x_encoding, "csr_matrix")
    expect_setequal(info$layers, c("counts", "dense", "csc"))
    expect_identical(cellshard:::cs_h5ad_info(fixture("dense_i32.h5ad"))$x_encoding, "array")
    fr <- cellshard:::cs_h5ad_read_frame(fixture("csr_f32.h5ad"), "var")
    expect_identical(fr$index, paste0("gene_", 0:22))
    expect_identical(fr$skipped, character())
})

test_that("malformed h5ad files give an error naming the file and the problem", {
    cases <- c(
        indptr_decreasing = "X/indptr' is not non-decreasing at cell 10",
        indptr_start = "X/indptr' starts at 1, expected 0",
        indptr_end = "X/indptr' ends at",
        indices_out_of_range = "gene index 28 in cell 1",
        indices_negative = "gene index -1 in cell 1",
        shape_mismatch = "41 cells \\(rows\\) but obs has 40",
        data_is_text = "X/data' holds string, expected numbers",
        data_length = "X/indices' has 195 entries but 'X/data' has 193",
        missing_indices = "dataset 'X/indices' is missing",
        obs_index_short = "the index of 'obs' has 39",
        codes_out_of_range = "cell_type/codes' holds 7 at row 3",
        legacy_sparse = "anndata before 0.8",
        nan_data = "NaN or infinite")
    for (name in names(cases)) {
        file <- fixture(sprintf("malformed_%s.h5ad", name))
        err <- tryCatch(readH5AD(file, devices = "cpu"), error = function(e) e)
        expect_s3_class(err, "error")
        msg <- conditionMessage(err)
        expect_match(msg, basename(file), fixed = TRUE, info = name)
        expect_match(msg, cases[[name]], info = name)
    }
    # Without obs and var, the absurd shape is caught by the extents of the arrays.
    expect_error(cellshard:::cs_h5ad_open(fixture("malformed_shape_huge.h5ad"), -1L, 1L),
                 "1000000000000000 genes")
})

test_that("truncated h5ad files and non-HDF5 files give errors", {
    src <- fixture("csr_f32.h5ad")
    bytes <- readBin(src, "raw", file.size(src))
    for (keep in c(0, 100, 2000, length(bytes) %/% 2, length(bytes) - 10)) {
        f <- tempfile(fileext = ".h5ad")
        writeBin(bytes[seq_len(keep)], f)
        expect_error(readH5AD(f, devices = "cpu"), basename(f), fixed = TRUE, info = keep)
        unlink(f)
    }
    f <- tempfile(fileext = ".h5ad")
    writeLines("not hdf5", f)
    expect_error(readH5AD(f, devices = "cpu"), "not an HDF5 file")
})

test_that("the readers and the writer work on GPU shards as on CPU ones", {
    skip_without_gpu()
    devices <- if (gpu_count() > 1) seq_len(gpu_count()) - 1L else 0L
    want <- fixture_counts()
    for (enc in c("csr", "csc", "dense")) {
        sce <- readH5AD(fixture(sprintf("%s_i32.h5ad", enc)), devices = devices, shards = 3)
        expect_identical(counts_matrix(sce), want, info = enc)
    }
    tenx <- read10xH5(fixture("tenx_v2.h5"), devices = devices, shards = 2)
    expect_identical(unname(counts_matrix(tenx)), unname(want))
    out <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, out)
    expect_identical(counts_matrix(readH5AD(out, devices = "cpu")), want)
})
