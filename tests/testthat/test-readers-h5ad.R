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
