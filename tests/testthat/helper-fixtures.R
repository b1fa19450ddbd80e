# Test data for the reader tests: the real 10x data in ../shared/data (outside
# the package), and h5ad files written by anndata through
# tests/fixtures/make_h5ad.py. Tests that need either skip with a message when
# it is not available.

shared_data_dir <- function() {
    env <- Sys.getenv("CELLSHARD_SHARED_DATA")
    if (nzchar(env)) return(env)
    testthat::test_path("..", "..", "..", "shared", "data")
}

skip_without_shared_data <- function(...) {
    dir <- file.path(shared_data_dir(), ...)
    if (!file.exists(dir))
        testthat::skip(paste("shared test data not found:", dir,
                             "(set CELLSHARD_SHARED_DATA to the shared/data folder)"))
    normalizePath(dir)
}

# A python that imports anndata (Debian's /usr/bin/python3 first), or "".
python_with_anndata <- local({
    found <- NULL
    function() {
        if (!is.null(found)) return(found)
        found <<- ""
        for (py in unique(c("/usr/bin/python3", Sys.which("python3")))) {
            if (!nzchar(py) || !file.exists(py)) next
            ok <- suppressWarnings(system2(py, c("-c", shQuote("import anndata, h5py")),
                                           stdout = FALSE, stderr = FALSE))
            if (identical(ok, 0L)) { found <<- py; break }
        }
        found
    }
})

skip_without_python_anndata <- function() {
    if (!nzchar(python_with_anndata()))
        testthat::skip("no python3 with anndata and h5py (apt-get install python3-anndata)")
}

# Folder of h5ad fixtures: CELLSHARD_H5AD_FIXTURES if set, else made once per
# test run with tests/fixtures/make_h5ad.py.
h5ad_fixtures <- local({
    made <- NULL
    function() {
        env <- Sys.getenv("CELLSHARD_H5AD_FIXTURES")
        if (nzchar(env)) return(normalizePath(env))
        if (!is.null(made)) return(made)
        script <- testthat::test_path("..", "fixtures", "make_h5ad.py")
        if (!file.exists(script)) testthat::skip("tests/fixtures/make_h5ad.py not found")
        if (!nzchar(python_with_anndata()))
            testthat::skip(paste("no python3 with anndata to write the h5ad fixtures, and",
                                 "CELLSHARD_H5AD_FIXTURES is not set"))
        out <- file.path(tempdir(), "h5ad_fixtures")
        log <- suppressWarnings(system2(python_with_anndata(), c(shQuote(script), shQuote(out)),
                                        stdout = TRUE, stderr = TRUE))
        status <- attr(log, "status")
        if (!is.null(status) && status != 0)
            stop("make_h5ad.py failed:\n", paste(log, collapse = "\n"))
        made <<- normalizePath(out)
        made
    }
})

fixture <- function(name) file.path(h5ad_fixtures(), name)

# What the fixtures hold (the formulas of make_h5ad.py), genes x cells as in R.
fixture_counts <- function() {
    i <- rep(0:39, times = 23); j <- rep(0:22, each = 40)
    x <- ifelse((3 * i + 5 * j) %% 4 == 0, (7 * i + 11 * j) %% 13, 0)
    m <- matrix(x, nrow = 40, ncol = 23)  # cells x genes
    m[c(6, 18), ] <- 0
    m[, 10] <- 0
    m <- t(m)
    dimnames(m) <- list(paste0("gene_", 0:22), paste0("cell_", 0:39))
    m
}

fixture_obs <- function() {
    i <- 0:39
    cell_type <- factor(c("B", "T", "NK")[i %% 3 + 1], levels = c("B", "NK", "T"))
    cell_type[i %% 7 == 3] <- NA
    list(
        cell_type = cell_type,
        stage = factor(c("early", "mid", "late")[(i %/% 2) %% 3 + 1],
                       levels = c("early", "mid", "late"), ordered = TRUE),
        barcode = sprintf("BC%04d-\u00e9", i),
        n_genes = as.integer(i * 2 + 1),
        total = i * 0.5 - 3.25,
        is_doublet = i %% 4 == 0,
        nullable_int = ifelse(i %% 5 == 0, NA_integer_, as.integer(i * 3 - 50)),
        nullable_bool = ifelse(i %% 6 == 1, NA, i %% 2 == 1)
    )
}

fixture_var <- function() {
    j <- 0:22
    list(gene_ids = sprintf("ENSG%05d", j), highly_variable = j %% 3 == 0, means = j / 8,
         chromosome = factor(c("chr1", "chr2")[j %% 2 + 1]))
}

as_dgc <- function(x) as(x, "dgCMatrix")

# The counts assay of a SingleCellExperiment as a plain matrix with names.
counts_matrix <- function(sce, assay = "counts") {
    as.matrix(as_dgc(SummarizedExperiment::assay(sce, assay)))
}

# A sparse matrix without dimnames (unname() on a dgCMatrix prints a message).
no_names <- function(x) {
    if (is(x, "Matrix")) x@Dimnames <- list(NULL, NULL) else dimnames(x) <- NULL
    x
}

# Matrix::readMM of a gzipped MatrixMarket file.
read_mm <- function(path) Matrix::readMM(path)  # file() reads gzip transparently

# Runs python code (with anndata) given as lines; returns its output, failing
# the test with that output when python exits with an error.
run_python <- function(lines) {
    script <- tempfile(fileext = ".py")
    writeLines(lines, script)
    out <- suppressWarnings(system2(python_with_anndata(), shQuote(script), stdout = TRUE,
                                    stderr = TRUE))
    status <- attr(out, "status")
    if (!is.null(status) && status != 0) testthat::fail(paste(out, collapse = "\n"))
    else testthat::succeed()
    out
}
