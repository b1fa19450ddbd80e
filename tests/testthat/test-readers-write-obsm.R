# writeH5AD's reducedDims (obsm/X_pca, varm/PCs, uns/pca) as anndata reads
# them, checked against the R objects they came from; readH5AD's obsm back
# into reducedDims, on files written by us and by anndata.

bundled_h5 <- function() system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")

pipeline_output <- function() {
    sce <- read10xH5(bundled_h5(), devices = "cpu", shards = 2)
    runSeedPipeline(sce, min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 10,
                    verbose = FALSE)
}

# The values of a matrix, without names or other attributes.
plain <- function(x) matrix(as.double(x), nrow(x))

# Runs `lines` of Python on `file` as anndata reads it (`a`, warnings off),
# with `d` a new folder for what the script saves; returns that folder.
python_on_h5ad <- function(file, lines, imports = "import anndata as ad, numpy as np") {
    dir <- tempfile("py")
    dir.create(dir)
    run_python(c("import warnings", "warnings.simplefilter('ignore')", imports,
                 sprintf("a = ad.read_h5ad(%s)", shQuote(file)), sprintf("d = %s", shQuote(dir)),
                 lines))
    dir
}

# A numeric CSV written by numpy (savetxt, 17 significant digits: exact doubles).
read_numpy_csv <- function(path) {
    x <- as.matrix(utils::read.csv(path, header = FALSE, colClasses = "numeric"))
    dimnames(x) <- NULL
    x
}

test_that("anndata reads the PCA of runSeedPipeline as obsm, varm and uns", {
    skip_without_python_anndata()
    out <- pipeline_output()
    pcs <- reducedDim(out, "PCA")
    rotation <- attr(pcs, "rotation")
    expect_identical(rownames(rotation), rownames(out))  # the pipeline subsets to the HVGs
    file <- tempfile(fileext = ".h5ad")
    writeH5AD(out, file, assay = "logcounts", layers = "counts")
    dir <- python_on_h5ad(file, imports = "import anndata as ad, numpy as np, h5py", c(
        "x = a.obsm['X_pca']",
        "assert isinstance(x, np.ndarray) and x.dtype == np.float64, type(x)",
        "assert x.shape == (a.n_obs, 10), x.shape",
        "assert a.varm['PCs'].dtype == np.float64 and a.varm['PCs'].shape == (a.n_vars, 10)",
        "assert sorted(a.uns['pca'].keys()) == ['variance', 'variance_ratio'], a.uns['pca'].keys()",
        "np.savetxt(d + '/X_pca.csv', x, delimiter=',', fmt='%.17g')",
        "np.savetxt(d + '/PCs.csv', a.varm['PCs'], delimiter=',', fmt='%.17g')",
        "np.savetxt(d + '/variance.csv', a.uns['pca']['variance'], fmt='%.17g')",
        "np.savetxt(d + '/variance_ratio.csv', a.uns['pca']['variance_ratio'], fmt='%.17g')",
        "open(d + '/var_names.txt', 'w').write('\\n'.join(a.var_names) + '\\n')",
        # the encoding anndata itself gives a numpy array (h5py reads the attributes)
        sprintf("f = h5py.File(%s, 'r')", shQuote(file)),
        "for k in ('obsm/X_pca', 'varm/PCs', 'uns/pca/variance', 'uns/pca/variance_ratio'):",
        "    assert f[k].attrs['encoding-type'] == 'array', k",
        "    assert f[k].attrs['encoding-version'] == '0.2.0', k",
        "assert f['uns/pca'].attrs['encoding-type'] == 'dict'",
        "print('ok')"))
    expect_identical(read_numpy_csv(file.path(dir, "X_pca.csv")), plain(pcs))
    expect_identical(readLines(file.path(dir, "var_names.txt")), rownames(out))
    expect_identical(read_numpy_csv(file.path(dir, "PCs.csv")), plain(rotation))
    md <- metadata(out)$PCA
    expect_identical(scan(file.path(dir, "variance.csv"), what = double(), quiet = TRUE), md$variance)
    expect_identical(scan(file.path(dir, "variance_ratio.csv"), what = double(), quiet = TRUE), md$variance_ratio)
    # readH5AD brings the PCA back as reducedDim "PCA"
    back <- readH5AD(file, devices = "cpu", assay = "logcounts")
    expect_identical(reducedDimNames(back), "PCA")
    expect_identical(no_names(reducedDim(back, "PCA")), plain(pcs))
})

test_that("a rotation over a subset of the genes gives zero rows for the others", {
    skip_without_python_anndata()
    m <- Matrix::rsparsematrix(8, 6, 0.5, rand.x = function(n) round(runif(n, 1, 9)))
    dimnames(m) <- list(paste0("g", 1:8), paste0("c", 1:6))
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = toDevice(m, devices = "cpu")))
    used <- c("g7", "g2", "g5")  # not in the genes' order
    rotation <- matrix(c(0.1, -0.2, 0.3, 0.4, 0.5, -0.6), 3, 2, dimnames = list(used, NULL))
    scores <- matrix(seq(-1.5, 4, by = 0.5), 6, 2)
    reducedDim(sce, "PCA") <- structure(scores, rotation = rotation)
    reducedDim(sce, "UMAP") <- matrix(as.integer(1:18), 6, 3)  # integers are written as float64
    file <- tempfile(fileext = ".h5ad")
    writeH5AD(sce, file, compression = 4L)
    if (nzchar(Sys.which("h5ls"))) {  # the layout as the HDF5 tools see it, without python
        listing <- system2("h5ls", c("-r", shQuote(file)), stdout = TRUE)
        expect_true(any(grepl("^/obsm/X_pca +Dataset \\{6, 2\\}$", listing)))
        expect_true(any(grepl("^/varm/PCs +Dataset \\{8, 2\\}$", listing)))
        attrs <- system2("h5dump", c("-A", "-d", "/obsm/X_umap", shQuote(file)), stdout = TRUE)
        expect_true(any(grepl("H5T_IEEE_F64LE", attrs)))
        expect_true(any(grepl("\"array\"", attrs)) && any(grepl("\"0.2.0\"", attrs)))
    }
    dir <- python_on_h5ad(file, c(
        "assert sorted(a.obsm.keys()) == ['X_pca', 'X_umap'], a.obsm.keys()",
        "assert a.obsm['X_umap'].dtype == np.float64",
        "assert 'pca' not in a.uns",  # no metadata(sce)$PCA: no variances
        "np.savetxt(d + '/PCs.csv', a.varm['PCs'], delimiter=',', fmt='%.17g')",
        "np.savetxt(d + '/X_umap.csv', a.obsm['X_umap'], delimiter=',', fmt='%.17g')",
        "print('ok')"))
    expected <- matrix(0, 8, 2)
    expected[c(7, 2, 5), ] <- rotation
    expect_identical(read_numpy_csv(file.path(dir, "PCs.csv")), expected)
    expect_identical(read_numpy_csv(file.path(dir, "X_umap.csv")), matrix(as.double(1:18), 6, 3))
    back <- readH5AD(file, devices = "cpu")
    expect_identical(sort(reducedDimNames(back)), c("PCA", "UMAP"))
    expect_identical(no_names(reducedDim(back, "PCA")), scores)
    expect_identical(no_names(reducedDim(back, "UMAP")), matrix(as.double(1:18), 6, 3))
    expect_identical(reducedDimNames(readH5AD(file, devices = "cpu", reducedDims = FALSE)),
                     character())
    expect_identical(reducedDimNames(readH5AD(file, devices = "cpu", reducedDims = "X_umap")),
                     "UMAP")
    expect_error(readH5AD(file, devices = "cpu", reducedDims = "X_tsne"),
                 "has no dense obsm array X_tsne (it has: X_pca, X_umap)", fixed = TRUE)
    # the choice of reducedDims, and a rotation that names genes sce does not have
    writeH5AD(sce, file, reducedDims = "UMAP", overwrite = TRUE)
    expect_identical(reducedDimNames(readH5AD(file, devices = "cpu")), "UMAP")
    writeH5AD(sce, file, reducedDims = character(), overwrite = TRUE)
    expect_identical(reducedDimNames(readH5AD(file, devices = "cpu")), character())
    bad <- sce
    reducedDim(bad, "PCA") <- structure(scores, rotation = `rownames<-`(rotation, c("g1", "x", "g3")))
    expect_warning(writeH5AD(bad, file, overwrite = TRUE),
                   "varm/PCs not written: the rotation of reducedDim \"PCA\" has genes that are not (once) in sce (\"x\")",
                   fixed = TRUE)
    python_on_h5ad(file, c("assert 'PCs' not in a.varm and 'X_pca' in a.obsm", "print('ok')"))
})

test_that("readH5AD reads the dense obsm arrays of a file anndata wrote", {
    skip_without_python_anndata()
    file <- tempfile(fileext = ".h5ad")
    dir <- tempfile("py")
    dir.create(dir)
    run_python(c(
        "import warnings", "warnings.simplefilter('ignore')",
        "import anndata as ad, numpy as np, pandas as pd, scipy.sparse as sp",
        sprintf("d = %s", shQuote(dir)),
        "rng = np.random.default_rng(3)",
        "a = ad.AnnData(X=sp.random(7, 5, density=0.5, format='csr', dtype=np.float32, random_state=1))",
        "a.obsm['X_pca'] = rng.normal(size=(7, 4)).astype(np.float32)",
        "a.obsm['X_umap'] = rng.normal(size=(7, 2))",
        "a.obsm['counts_sparse'] = sp.random(7, 3, density=0.5, format='csr')",
        "a.obsm['meta'] = pd.DataFrame({'u': np.arange(7.0)}, index=a.obs_names)",
        "np.savetxt(d + '/X_pca.csv', a.obsm['X_pca'].astype(np.float64), delimiter=',', fmt='%.17g')",
        "np.savetxt(d + '/X_umap.csv', a.obsm['X_umap'], delimiter=',', fmt='%.17g')",
        sprintf("a.write_h5ad(%s)", shQuote(file)),
        "print('ok')"))
    msg <- testthat::capture_messages(back <- readH5AD(file, devices = "cpu"))
    msg <- grep("obsm entries not read as reducedDims (not dense arrays)", msg, fixed = TRUE,
                value = TRUE)
    expect_length(msg, 1)
    expect_match(msg, "counts_sparse", fixed = TRUE)
    expect_match(msg, "meta", fixed = TRUE)
    expect_identical(sort(reducedDimNames(back)), c("PCA", "UMAP"))
    expect_identical(no_names(reducedDim(back, "PCA")), read_numpy_csv(file.path(dir, "X_pca.csv")))
    expect_identical(no_names(reducedDim(back, "UMAP")), read_numpy_csv(file.path(dir, "X_umap.csv")))
    expect_error(readH5AD(file, devices = "cpu", reducedDims = "meta"),
                 "has no dense obsm array meta", fixed = TRUE)
})

test_that("bad reducedDims give clear errors and leave no file", {
    m <- Matrix::sparseMatrix(i = c(1, 3, 2), j = c(1, 2, 4), x = c(1, 5, 2), dims = c(3, 4),
                              dimnames = list(paste0("g", 1:3), paste0("c", 1:4)))
    sce <- SingleCellExperiment::SingleCellExperiment(list(counts = toDevice(m, devices = "cpu")))
    file <- tempfile(fileext = ".h5ad")
    write_with <- function(x, ...) {
        bad <- sce
        reducedDim(bad, "PCA") <- x
        writeH5AD(bad, file, ...)
    }
    expect_error(write_with(matrix(c(1, NA, 3, 4), 4, 1)),
                 "writeH5AD: reducedDim \"PCA\" contains NA or NaN", fixed = TRUE)
    expect_error(write_with(matrix(c(1, NaN, 3, 4), 4, 1)), "contains NA or NaN", fixed = TRUE)
    expect_error(write_with(matrix(letters[1:4], 4, 1)),
                 "writeH5AD: reducedDim \"PCA\" must be a numeric matrix (it is matrix/array)",
                 fixed = TRUE)
    expect_error(write_with(matrix(TRUE, 4, 1)), "must be a numeric matrix", fixed = TRUE)
    expect_error(write_with(structure(matrix(1, 4, 2), rotation = matrix(NA_real_, 3, 2))),
                 "the rotation of reducedDim \"PCA\" contains NA or NaN", fixed = TRUE)
    expect_error(writeH5AD(sce, file, reducedDims = "TSNE"),
                 "writeH5AD: sce has no reducedDim \"TSNE\" (it has: none)", fixed = TRUE)
    two <- sce
    reducedDim(two, "PCA") <- matrix(1, 4, 2)
    reducedDim(two, "pca") <- matrix(2, 4, 2)
    expect_error(writeH5AD(two, file),
                 "writeH5AD: reducedDims \"PCA\" and \"pca\" would all be written as obsm/X_pca",
                 fixed = TRUE)
    expect_error(writeH5AD(two, file, reducedDims = c("PCA", "PCA")), "must be distinct")
    se <- SummarizedExperiment::SummarizedExperiment(list(counts = toDevice(m, devices = "cpu")))
    expect_error(writeH5AD(se, file, reducedDims = "PCA"), "reducedDims need a SingleCellExperiment")
    expect_false(file.exists(file))
    writeH5AD(se, file)  # a SummarizedExperiment has none to write
    expect_true(file.exists(file))
    unlink(file)
    # what the R checks stop, the writer stops too: rows that are not the cells or genes
    handle <- counts(sce)@seed@handle
    frame <- list(index = colnames(sce))
    genes <- list(index = rownames(sce))
    expect_error(cellshard:::cs_write_h5ad(file, handle, frame, genes, list(), 0L,
                                           list(X_pca = matrix(0, 3, 2))),
                 "obsm 'X_pca' has 3 rows but the matrix has 4 cells", fixed = TRUE)
    expect_error(cellshard:::cs_write_h5ad(file, handle, frame, genes, list(), 0L, list(),
                                           list(PCs = matrix(0, 4, 2))),
                 "varm 'PCs' has 4 rows but the matrix has 3 genes", fixed = TRUE)
    expect_error(cellshard:::cs_write_h5ad(file, handle, frame, genes, list(), 0L,
                                           list(X_pca = matrix(0L, 4, 2))),
                 "obsm 'X_pca' must be a double vector or matrix", fixed = TRUE)
    expect_error(cellshard:::cs_write_h5ad(file, handle, frame, genes, list(), 0L, list(), list(),
                                           list(pca = 1, "pca/variance" = 2)),
                 "uns 'pca' is both an array and a group", fixed = TRUE)
    expect_false(file.exists(file))
    expect_length(list.files(dirname(file), pattern = paste0(basename(file), ".tmp")), 0)
})
