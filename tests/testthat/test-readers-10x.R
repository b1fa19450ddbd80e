# read10xH5 and read10xMtx on real Cell Ranger output, the v2 layouts, and
# damaged MatrixMarket files.

test_that("the 10x v3 .h5 and its gzipped MatrixMarket folder give the same matrix and names", {
    dir <- skip_without_shared_data("tenx_v3_chr21")
    h5 <- read10xH5(file.path(dir, "filtered_feature_bc_matrix.h5"), devices = "cpu")
    mtx <- read10xMtx(file.path(dir, "filtered_feature_bc_matrix"), devices = "cpu", shards = 3)
    expect_identical(dim(h5), c(507L, 1107L))
    expect_identical(as_dgc(counts(h5)), as_dgc(counts(mtx)))
    expect_identical(rownames(h5), rownames(mtx))
    expect_identical(colnames(h5), colnames(mtx))
    expect_identical(rowData(h5)$name, rowData(mtx)$name)
    expect_identical(rowData(h5)$feature_type, rowData(mtx)$feature_type)
    expect_identical(sum(as_dgc(counts(h5)) != 0), 23866L)
    # The matrix file alone, with its names found beside it.
    one <- read10xMtx(file.path(dir, "filtered_feature_bc_matrix", "matrix.mtx.gz"), devices = "cpu")
    expect_identical(as_dgc(counts(one)), as_dgc(counts(mtx)))
    # Against Matrix::readMM of the same file.
    mm <- read_mm(file.path(dir, "filtered_feature_bc_matrix", "matrix.mtx.gz"))
    expect_identical(no_names(as_dgc(counts(mtx))), as(as(mm, "CsparseMatrix"), "dgCMatrix"))
})

test_that("pbmc3k read by read10xMtx equals Matrix::readMM of the file", {
    dir <- skip_without_shared_data("pbmc3k")
    sce <- read10xMtx(dir, devices = "cpu", shards = 4)
    mm <- read_mm(file.path(dir, "matrix.mtx.gz"))
    mm <- as(as(mm, "CsparseMatrix"), "dgCMatrix")
    got <- as_dgc(counts(sce))
    expect_identical(dim(got), c(13714L, 2700L))
    expect_identical(no_names(got), mm)
    genes <- utils::read.delim(file.path(dir, "genes.tsv.gz"), header = FALSE)
    expect_identical(rownames(sce), genes[[1]])
    expect_identical(rowData(sce)$name, genes[[2]])
    con <- gzfile(file.path(dir, "barcodes.tsv.gz"))
    barcodes <- readLines(con)
    close(con)
    expect_identical(colnames(sce), barcodes)
})

test_that("the Cell Ranger 2 HDF5 layout reads", {
    sce <- read10xH5(fixture("tenx_v2.h5"), devices = "cpu", shards = 2)
    want <- fixture_counts()
    expect_identical(no_names(counts_matrix(sce)), no_names(want))
    expect_identical(rownames(sce), sprintf("ENSG%05d", 0:22))
    expect_identical(rowData(sce)$name, paste0("gene_", 0:22))
    expect_identical(colnames(sce), sprintf("BC%04d-1", 0:39))
})

# A MatrixMarket folder with the given matrix text (genes x cells).
write_mtx_dir <- function(lines, n_genes = 3, n_cells = 4, gz = TRUE, features = TRUE) {
    dir <- tempfile("mtx")
    dir.create(dir)
    con <- if (gz) gzfile(file.path(dir, "matrix.mtx.gz"), "w") else file(file.path(dir, "matrix.mtx"), "w")
    writeLines(lines, con)
    close(con)
    if (features)
        writeLines(sprintf("G%d\tgene%d\tGene Expression", seq_len(n_genes), seq_len(n_genes)),
                   file.path(dir, "features.tsv"))
    writeLines(sprintf("cell%d", seq_len(n_cells)), file.path(dir, "barcodes.tsv"))
    dir
}

test_that("plain-text MatrixMarket folders read, with duplicates summed and any order", {
    dir <- write_mtx_dir(c("%%MatrixMarket matrix coordinate real general", "% a comment",
                           "3 4 5", "3 4 1.5", "1 1 2", "2 1 1", "1 1 0.25", "3 2 7"), gz = FALSE)
    sce <- read10xMtx(dir, devices = "cpu", shards = 2)
    want <- matrix(0, 3, 4)
    want[1, 1] <- 2.25; want[2, 1] <- 1; want[3, 2] <- 7; want[3, 4] <- 1.5
    expect_identical(no_names(counts_matrix(sce)), want)
    expect_identical(rownames(sce), c("G1", "G2", "G3"))
    expect_identical(rowData(sce)$feature_type, rep("Gene Expression", 3))
    expect_identical(colnames(sce), paste0("cell", 1:4))
})

test_that("damaged MatrixMarket files give an error naming the file and the line", {
    header <- "%%MatrixMarket matrix coordinate integer general"
    cases <- list(
        list(c(header, "3 4 3", "1 1 1", "2 2 2"), "line 4: the file ends after 2 of the 3 entries"),
        list(c(header, "3 4 2", "1 1 1", "4 2 2"), "line 4: gene 4 is outside 1..3"),
        list(c(header, "3 4 2", "1 1 1", "2 5 2"), "line 4: cell 5 is outside 1..4"),
        list(c(header, "3 4 1", "1 1 1", "2 2 2"), "more entries than the 1 its header declares"),
        list(c(header, "3 4 1", "1 1 x"), "expected a value"),
        list(c(header, "3 4 1", "1 1 1 9"), "unexpected text after the entry"),
        list(c(header, "3 4"), "size line should hold three numbers"),
        list(c("%%MatrixMarket matrix array real general", "3 4"), "sparse 'matrix coordinate'"),
        list(c("%%MatrixMarket matrix coordinate real symmetric", "3 3 1", "1 1 1"),
             "only 'general'"),
        list(c("hello", "3 4 1"), "not a MatrixMarket file"),
        list(c(header, "3 4 13", "1 1 1"), "more than genes x cells"))
    for (case in cases) {
        dir <- write_mtx_dir(case[[1]])
        err <- tryCatch(read10xMtx(dir, devices = "cpu"), error = function(e) conditionMessage(e))
        expect_match(err, "matrix.mtx.gz", fixed = TRUE, info = case[[2]])
        expect_match(err, case[[2]], fixed = TRUE)
    }
    # Names that do not match the matrix, or are missing.
    dir <- write_mtx_dir(c(header, "3 5 1", "1 1 1"), n_cells = 4)
    expect_error(read10xMtx(dir, devices = "cpu"), "4 barcodes but the matrix has 5 cells")
    dir <- write_mtx_dir(c(header, "3 4 1", "1 1 1"), features = FALSE)
    expect_error(read10xMtx(dir, devices = "cpu"), "features.tsv")
})

test_that("a truncated gzip MatrixMarket file is an error, not a short matrix", {
    dir <- skip_without_shared_data("tenx_v3_chr21", "filtered_feature_bc_matrix")
    copy <- tempfile("mtx")
    dir.create(copy)
    file.copy(list.files(dir, full.names = TRUE), copy)
    gz <- file.path(copy, "matrix.mtx.gz")
    bytes <- readBin(gz, "raw", file.size(gz))
    for (keep in c(20, length(bytes) %/% 2, length(bytes) - 8)) {
        writeBin(bytes[seq_len(keep)], gz)
        expect_error(read10xMtx(copy, devices = "cpu"), "matrix.mtx.gz", fixed = TRUE, info = keep)
    }
})

test_that("a malformed 10x .h5 gives an error naming the file", {
    dir <- skip_without_shared_data("tenx_v3_chr21")
    src <- file.path(dir, "filtered_feature_bc_matrix.h5")
    bytes <- readBin(src, "raw", file.size(src))
    f <- tempfile(fileext = ".h5")
    writeBin(bytes[seq_len(length(bytes) %/% 2)], f)
    expect_error(read10xH5(f, devices = "cpu"), basename(f), fixed = TRUE)
    expect_error(read10xH5(fixture("csr_f32.h5ad"), devices = "cpu"), "no 10x matrix found")
})
