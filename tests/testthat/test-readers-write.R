# writeH5AD: files that readH5AD reads back exactly and that anndata reads as
# the same AnnData as the file the data came from.

expect_same_sce <- function(a, b, assays = "counts") {
    for (x in assays) expect_identical(counts_matrix(a, x), counts_matrix(b, x), info = x)
    expect_identical(colnames(a), colnames(b))
    expect_identical(rownames(a), rownames(b))
    for (what in c("colData", "rowData")) {
        da <- methods::getMethod(what, class(a))(a)
        db <- methods::getMethod(what, class(b))(b)
        expect_identical(names(da), names(db), info = what)
        for (col in names(da)) expect_identical(da[[col]], db[[col]], info = paste(what, col))
    }
}

test_that("readH5AD -> writeH5AD -> readH5AD gives back the same data", {
    for (name in c("csr_f32.h5ad", "csc_i32.h5ad", "dense_f32.h5ad")) {
        layers <- if (name == "csr_f32.h5ad") c("counts", "dense") else character()
        sce <- readH5AD(fixture(name), devices = "cpu", shards = 3, assay = "X", layers = layers)
        for (compression in c(0L, 4L)) {
            out <- tempfile(fileext = ".h5ad")
            writeH5AD(sce, out, assay = "X", layers = layers, compression = compression)
            back <- readH5AD(out, devices = "cpu", assay = "X", layers = layers)
            expect_same_sce(sce, back, c("X", layers))
            unlink(out)
        }
    }
})

test_that("gzip files of many chunks (deflated on host threads) read back exactly, in cellshard and anndata", {
    # 6,000 cells x 3,000 genes at 15%: 2.7M entries, 10 chunks of 262,144
    # and part of an eleventh per array; 3 uneven shards, so that the written
    # ranges start and end inside chunks.
    set.seed(3)
    m <- Matrix::rsparsematrix(3000, 6000, 0.15, rand.x = function(n) as.numeric(rpois(n, 3) + 1))
    dimnames(m) <- list(sprintf("g%d", seq_len(nrow(m))), sprintf("c%d", seq_len(ncol(m))))
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = m))
    for (devices in unique(lapply(device_configs(), `[[`, "devices"))) {
        on_devices <- toDevice(sce, devices = devices, shards = uneven_shards(ncol(sce)))
        out <- tempfile(fileext = ".h5ad")
        writeH5AD(on_devices, out, compression = 6L)
        back <- readH5AD(out, devices = "cpu")
        expect_identical(counts_matrix(back), as.matrix(m))
        if (nzchar(python_with_anndata()))
            run_python(c(
                "import warnings", "warnings.simplefilter('ignore')",
                "import anndata as ad, h5py, numpy as np",
                sprintf("f = h5py.File(%s, 'r')", shQuote(out)),
                "assert f['X/data'].compression == 'gzip' and f['X/data'].compression_opts == 6",
                sprintf("b = ad.read_h5ad(%s)", shQuote(out)),
                sprintf("assert b.shape == (%d, %d) and b.X.nnz == %d", ncol(m), nrow(m), length(m@x)),
                sprintf("assert abs(float(b.X.sum()) - %s) < 1e-6", format(sum(m@x), digits = 17)),
                "print('ok')"))
        releaseDevice(on_devices)
        unlink(out)
    }
})

test_that("anndata reads a written file as the AnnData it came from", {
    skip_without_python_anndata()
    src <- fixture("csr_f32.h5ad")
    sce <- readH5AD(src, devices = "cpu", shards = 2, assay = "X", layers = "counts")
    out <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, out, assay = "X", layers = "counts")
    run_python(c(
        "import sys, warnings", "warnings.simplefilter('ignore')",
        "import anndata as ad, numpy as np, pandas as pd",
        sprintf("a = ad.read_h5ad(%s)", shQuote(src)),
        sprintf("b = ad.read_h5ad(%s)", shQuote(out)),
        "assert a.shape == b.shape, (a.shape, b.shape)",
        "assert b.X.dtype == np.float32 and b.X.format == 'csr'",
        "assert (a.X != b.X).nnz == 0",
        "assert (a.layers['counts'] != b.layers['counts']).nnz == 0",
        "assert list(a.obs_names) == list(b.obs_names) and list(a.var_names) == list(b.var_names)",
        "for df_a, df_b in ((a.obs, b.obs), (a.var, b.var)):",
        "    assert list(df_a.columns) == list(df_b.columns), (df_a.columns, df_b.columns)",
        "    for col in df_a.columns:",
        "        x, y = df_a[col], df_b[col]",
        "        if isinstance(x.dtype, pd.CategoricalDtype):",
        "            assert isinstance(y.dtype, pd.CategoricalDtype), col",
        "            assert list(x.cat.categories) == list(y.cat.categories), col",
        "            assert x.cat.ordered == y.cat.ordered, col",
        "        pd.testing.assert_series_equal(x, y, check_dtype=False, check_categorical=True)",
        "print('ok')"))
})

test_that("columns of every R type are written as anndata expects", {
    skip_without_python_anndata()
    m <- Matrix::sparseMatrix(i = c(1, 3, 2), j = c(1, 2, 4), x = c(1, 5, 2), dims = c(3, 4),
                              dimnames = list(paste0("g", 1:3), paste0("c", 1:4)))
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = toDevice(m, devices = "cpu")))
    sce$num <- c(1.5, NA, -2, 0)
    sce$int <- c(1L, NA, 3L, 4L)
    sce$lgl <- c(TRUE, NA, FALSE, TRUE)
    sce$txt <- c("a", NA, "b", "a")
    sce$fct <- factor(c("x", "y", NA, "x"), levels = c("y", "x"))
    sce$ord <- factor(c("lo", "hi", "hi", "lo"), levels = c("lo", "hi"), ordered = TRUE)
    rowData(sce)$symbol <- c("A", "B", "\u00e9")
    out <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, out)
    run_python(c(
        "import warnings", "warnings.simplefilter('ignore')",
        "import anndata as ad, numpy as np, pandas as pd",
        sprintf("b = ad.read_h5ad(%s)", shQuote(out)),
        "o = b.obs",
        "assert list(b.obs_names) == ['c1', 'c2', 'c3', 'c4']",
        "assert b.X.toarray().tolist() == [[1, 0, 0], [0, 0, 5], [0, 0, 0], [0, 2, 0]]",
        "assert o['num'].dtype == np.float64 and np.isnan(o['num'][1]) and o['num'][2] == -2",
        "assert str(o['int'].dtype) == 'Int32' and o['int'].isna().tolist() == [False, True, False, False]",
        "assert str(o['lgl'].dtype) == 'boolean' and o['lgl'].isna()[1] and not o['lgl'][2]",
        "assert isinstance(o['txt'].dtype, pd.CategoricalDtype) and o['txt'].isna()[1]",
        "assert list(o['fct'].cat.categories) == ['y', 'x'] and o['fct'].isna()[2]",
        "assert o['ord'].cat.ordered and list(o['ord'].cat.categories) == ['lo', 'hi']",
        "assert list(b.var['symbol']) == ['A', 'B', '\\u00e9']",
        "print('ok')"))
    back <- readH5AD(out, devices = "cpu")
    expect_identical(back$num, sce$num)
    expect_identical(back$int, sce$int)
    expect_identical(back$lgl, sce$lgl)
    expect_identical(back$txt, factor(sce$txt))  # text with NA comes back as a factor
    expect_identical(back$fct, sce$fct)
    expect_identical(back$ord, sce$ord)
    expect_identical(rowData(back)$symbol, c("A", "B", "\u00e9"))
})

test_that("a failed write leaves no file behind and names the path", {
    sce <- readH5AD(fixture("csr_i32.h5ad"), devices = "cpu")
    bad <- file.path(tempfile("missing_dir"), "x.h5ad")
    expect_error(writeH5AD(sce, bad), "x.h5ad", fixed = TRUE)
    expect_false(file.exists(bad))
    h <- cellshard:::cs_h5ad_open(fixture("csr_i32.h5ad"), -1L, 1L)
    handle <- cellshard:::cs_reader_finish(h$reader)
    out <- tempfile(fileext = ".h5ad")
    expect_error(cellshard:::cs_write_h5ad(out, handle, list(index = c("a", "b")), list(), list()),
                 "obs has 2 names but the matrix has 40 cells")
    expect_error(cellshard:::cs_write_h5ad(out, handle, list(), list(), list(x = handle, x = handle)),
                 "layer names must be distinct")
    expect_false(file.exists(out))
    expect_length(list.files(dirname(out), pattern = paste0(basename(out), ".tmp")), 0)
})
