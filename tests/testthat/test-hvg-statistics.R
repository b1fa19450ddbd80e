# Highly variable genes, host half: per-gene statistics -> scanpy's columns.
# The per-gene moments are computed here on the host the way the pipeline
# computes them on the devices; the results are compared with the reference
# outputs in ../shared/data (scanpy's and Seurat's), and the edge cases with
# values worked out by hand.

# --- helpers ----------------------------------------------------------------

# Rounds doubles to the nearest float32 (scanpy keeps X as float32).
hvg_f32 <- function(x) {
    readBin(writeBin(as.numeric(x), raw(), size = 4), "double", size = 4, n = length(x))
}

# numpy.testing.assert_allclose: |actual - expected| <= atol + rtol * |expected|
# element by element, NaN equal to NaN.
expect_hvg_allclose <- function(actual, expected, rtol = 2e-5, atol = 2e-5) {
    expect_identical(length(actual), length(expected))
    both_nan <- is.na(actual) & is.na(expected)
    ok <- both_nan | (!is.na(actual) & !is.na(expected) &
                      abs(actual - expected) <= atol + rtol * abs(expected))
    expect(all(ok), sprintf("%d of %d values differ beyond rtol = atol = %g (first at %s)",
                            sum(!ok), length(ok), rtol, paste(head(which(!ok), 5), collapse = ", ")))
    invisible(actual)
}

# Per-gene mean and variance (ddof = 1) of a genes x cells sparse matrix, as
# the device pass computes them: float64 sums of x and x^2.
hvg_moments <- function(x) {
    n <- ncol(x)
    m <- Matrix::rowSums(x) / n
    list(means = m, variances = (Matrix::rowSums(x^2) - n * m^2) / (n - 1))
}

hvg_read_mtx <- function(...) {
    as(Matrix::readMM(gzfile(shared_data(...))), "CsparseMatrix")
}

# scanpy's test: raw.X of pbmc68k_reduced through normalize_total(1e4) and
# log1p, each stored step rounded to float32 (no cell has zero counts).
pbmc68k_lognorm <- function() {
    x <- hvg_read_mtx("pbmc68k_reduced", "raw_X_lognorm", "matrix.mtx.gz")
    x@x <- hvg_f32(x@x)
    size <- hvg_f32(hvg_f32(Matrix::colSums(x)) / 1e4)
    x@x <- hvg_f32(x@x / rep(size, diff(x@p)))
    x@x <- hvg_f32(log1p(x@x))
    x
}

read_hvg_reference <- function(...) {
    ref <- utils::read.csv(shared_data(...), row.names = 1)
    ref$highly_variable <- toupper(as.character(ref$highly_variable)) == "TRUE"
    ref
}

pbmc3k_counts <- local({
    counts <- NULL
    function() {
        if (is.null(counts)) counts <<- hvg_read_mtx("pbmc3k", "matrix.mtx.gz")
        counts
    }
})

# seurat_v3 for one batch (genes x cells counts): moments, loess and clip
# values, clipped sums on the host, standardised variance.
hvg_seurat_v3_batch <- function(x) {
    mom <- hvg_moments(x)
    n <- ncol(x)
    fit <- cellshard:::.seuratV3Clip(mom$means, mom$variances, n)
    clipped <- x
    clipped@x <- pmin(clipped@x, fit$clip[clipped@i + 1L])
    norm_var <- cellshard:::.seuratV3Finish(mom$means, mom$variances, fit$reg_std,
                                            Matrix::rowSums(clipped), Matrix::rowSums(clipped^2), n)
    list(variances = unname(mom$variances), variances_norm = norm_var)
}

# --- reference data ---------------------------------------------------------

test_that("cell_ranger on pbmc68k_reduced matches scanpy's reference", {
    skip_without_shared_data("pbmc68k_reduced", "reference", "cell_ranger_hvg.csv")
    mom <- hvg_moments(pbmc68k_lognorm())
    ref <- read_hvg_reference("pbmc68k_reduced", "reference", "cell_ranger_hvg.csv")
    res <- cellshard:::.hvgCellRanger(mom$means, mom$variances, n.top = 100)
    expect_identical(res$highly_variable, ref$highly_variable)
    expect_identical(sum(res$highly_variable), 100L)
    expect_hvg_allclose(res$means, ref$means)
    expect_hvg_allclose(res$dispersions, ref$dispersions)
    expect_hvg_allclose(res$dispersions_norm, ref$dispersions_norm)
})

test_that("seurat on pbmc68k_reduced matches scanpy's reference", {
    skip_without_shared_data("pbmc68k_reduced", "reference", "seurat_hvg.csv")
    x <- pbmc68k_lognorm()
    x@x <- hvg_f32(expm1(x@x))
    mom <- hvg_moments(x)
    ref <- read_hvg_reference("pbmc68k_reduced", "reference", "seurat_hvg.csv")
    res <- cellshard:::.hvgSeurat(mom$means, mom$variances, min.mean = 0.0125,
                                  max.mean = 3, min.disp = 0.5)
    expect_identical(res$highly_variable, ref$highly_variable)
    expect_identical(sum(res$highly_variable), 113L)
    expect_hvg_allclose(res$means, ref$means)
    expect_hvg_allclose(res$dispersions, ref$dispersions)
    expect_hvg_allclose(res$dispersions_norm, ref$dispersions_norm)
})

test_that("seurat_v3 on pbmc3k matches Seurat's vst statistics and ranking", {
    skip_without_shared_data("pbmc3k", "reference_scanpy", "seurat_hvg_v3.csv.gz")
    ref <- utils::read.csv(gzfile(shared_data("pbmc3k", "reference_scanpy",
                                              "seurat_hvg_v3.csv.gz")), row.names = 1)
    res <- hvg_seurat_v3_batch(pbmc3k_counts())
    expect_hvg_allclose(res$variances, ref$variance)
    expect_hvg_allclose(res$variances_norm, ref$variance.standardized)

    sel <- cellshard:::.seuratV3Select(cbind(res$variances_norm), n.top = 1000)
    expect_identical(sum(sel$highly_variable), 1000L)
    ref_top <- order(ref$variance.standardized, decreasing = TRUE)[1:1000]
    expect_setequal(which(sel$highly_variable), ref_top)
    # Our ranks put the reference values in decreasing order (two genes of
    # pbmc3k tie to 1e-14, so positions may swap only within such ties).
    by_our_rank <- ref$variance.standardized[order(sel$highly_variable_rank)][1:1000]
    expect_true(all(diff(by_our_rank) <= 1e-12 * abs(by_our_rank[-1])))
    expect_setequal(sel$highly_variable_rank[sel$highly_variable], 0:999)
    expect_true(all(is.na(sel$highly_variable_rank[!sel$highly_variable])))
})

test_that("seurat_v3_paper over 5 batches of pbmc3k shares > 95% of Seurat's genes", {
    skip_without_shared_data("pbmc3k", "reference_scanpy", "seurat_hvg_v3_batch.csv")
    counts <- pbmc3k_counts()
    batch <- rep(1:5, c(500, 500, 500, 500, 700))
    norm_var <- vapply(1:5, function(b) hvg_seurat_v3_batch(counts[, batch == b])$variances_norm,
                       numeric(nrow(counts)))
    sel <- cellshard:::.seuratV3Select(norm_var, n.top = 2000, flavor = "seurat_v3_paper")
    expect_identical(sum(sel$highly_variable), 2000L)
    genes <- utils::read.delim(gzfile(shared_data("pbmc3k", "genes.tsv.gz")), header = FALSE)
    ours <- make.unique(genes$V2)[sel$highly_variable]
    ref <- utils::read.csv(shared_data("pbmc3k", "reference_scanpy",
                                       "seurat_hvg_v3_batch.csv"))$x
    expect_gt(length(intersect(ours, ref)) / length(ref), 0.95)
})

# --- bins -------------------------------------------------------------------

test_that("cell_ranger edges are R's quantile(type = 7) and bins are right-closed", {
    set.seed(3)
    x <- rexp(101)
    q <- seq(10, 100, by = 5) / 100
    expect_equal(cellshard:::.hvgPercentile(x, q), unname(quantile(x, q, type = 7)),
                 tolerance = 1e-14)
    # A value equal to an edge belongs to the bin that edge closes.
    expect_identical(cellshard:::.hvgRightClosedBin(c(-5, 1, 1.5, 2, 3), c(-Inf, 1, 2, Inf)),
                     c(1L, 1L, 2L, 2L, 3L))
})

test_that("seurat bins are pandas.cut's equal-width bins", {
    # range 0..10, 5 bins: edges -0.01, 2, 4, 6, 8, 10 (pandas moves only the first).
    expect_identical(cellshard:::.hvgEqualWidthBins(0:10, 5),
                     c(1L, 1L, 1L, 2L, 2L, 3L, 3L, 4L, 4L, 5L, 5L))
    # A constant vector falls in the middle bin of [x - 0.1%, x + 0.1%].
    expect_identical(cellshard:::.hvgEqualWidthBins(c(2, 2, 2), 4), c(2L, 2L, 2L))
})

# --- edge cases -------------------------------------------------------------

test_that("cell_ranger with all means equal merges the bins with a warning", {
    expect_warning(res <- cellshard:::.hvgCellRanger(rep(1, 5), c(1, 2, 3, 4, 5)),
                   "18 of the 20 percentile bins")
    # One bin: median 3, MAD 1 -> (d - 3) * Phi^-1(3/4).
    expect_equal(res$dispersions_norm, (1:5 - 3) * 0.6744897501960817, tolerance = 1e-15)
    # Cut-offs: min.disp 0.5 < dn (only the genes with 4 and 5) and 0.0125 < mean < 3.
    expect_identical(res$highly_variable, c(FALSE, FALSE, FALSE, TRUE, TRUE))
})

test_that("n.top larger than the number of genes selects all with a warning", {
    # cell_ranger: equal means keep all genes in one bin (second warning).
    expect_warning(expect_warning(
        res <- cellshard:::.hvgCellRanger(rep(1, 4), c(1, 2, 3, 4), n.top = 10),
        "n.top \\(10\\) is larger"), "merged")
    expect_true(all(res$highly_variable))
    # seurat (one bin): the zero-variance gene has no dispersion and is not selected.
    means <- c(1, 2, 3, 4)
    expect_warning(res <- cellshard:::.hvgSeurat(means, means * c(0, 2, 3, 5), n.top = 10,
                                                 n.bins = 1),
                   "number of genes with a normalised dispersion \\(3\\)")
    expect_identical(res$highly_variable, c(FALSE, TRUE, TRUE, TRUE))
    expect_warning(sel <- cellshard:::.seuratV3Select(cbind(c(3, 1, 2)), n.top = 5),
                   "n.top \\(5\\) is larger")
    expect_true(all(sel$highly_variable))
    expect_identical(sel$highly_variable_rank, c(0, 2, 1))
})

test_that("n.top ties at the cut-off are all selected", {
    # All means in one bin (merged edges): dn = (d - median) / (MAD / c).
    expect_warning(res <- cellshard:::.hvgCellRanger(rep(1, 5), c(1, 5, 5, 2, 3), n.top = 1))
    expect_identical(res$highly_variable, c(FALSE, TRUE, TRUE, FALSE, FALSE))
    expect_error(cellshard:::.hvgCellRanger(1:3, 1:3, n.top = 0), "positive whole number")
})

test_that("zero-variance genes", {
    # cell_ranger: zero mean becomes 1e-12, dispersion 0.
    res <- cellshard:::.hvgCellRanger(c(0, 1, 2, 3), c(0, 1, 1, 4))
    expect_identical(res$means[1], 1e-12)
    expect_identical(res$dispersions[1], 0)
    # seurat: dispersion 0 -> NaN, log scale for the rest, never selected.
    res <- cellshard:::.hvgSeurat(c(0, 1, 1, 2), c(0, 0, 2, 8))
    expect_true(is.nan(res$dispersions[1]) && is.nan(res$dispersions[2]))
    expect_true(is.nan(res$dispersions_norm[1]) && is.nan(res$dispersions_norm[2]))
    expect_equal(res$dispersions[3:4], log(c(2, 4)), tolerance = 1e-15)
    expect_equal(res$means, log1p(c(1e-12, 1, 1, 2)), tolerance = 1e-15)
    expect_false(any(res$highly_variable[1:2]))
    # seurat_v3: constant genes leave the loess fit, get reg_std 1 and norm var 0.
    set.seed(1)
    m <- rexp(60, 0.2) + 0.1
    v <- m * (1 + m / 3) * exp(rnorm(60, 0, 0.2))
    m <- c(m, 0, 2)
    v <- c(v, 0, 0)
    fit <- cellshard:::.seuratV3Clip(m, v, n.cells = 100)
    expect_identical(fit$not_const, c(rep(TRUE, 60), FALSE, FALSE))
    expect_identical(fit$reg_std[61:62], c(1, 1))
    expect_identical(fit$clip[61:62], c(10, 12))
    trend <- stats::loess(log10(v[1:60]) ~ log10(m[1:60]), span = 0.3, degree = 2)
    expect_equal(fit$reg_std[1:60], sqrt(10^unname(fitted(trend))), tolerance = 1e-14)
    # A gene of 2s in all 100 cells: sums 200 and 400 -> standardised variance 0.
    nv <- cellshard:::.seuratV3Finish(m[61:62], v[61:62], fit$reg_std[61:62],
                                      c(0, 200), c(0, 400), 100)
    expect_identical(nv, c(0, 0))
})

test_that("seurat_v3 standardised variance of clipped values", {
    # Cells 0, 0, 1, 9 with clip 4: clipped 0, 0, 1, 4; mean 2.5, reg_std 2.
    # sum((x - 2.5)^2) = 6.25 + 6.25 + 2.25 + 2.25 = 17; / ((4 - 1) * 4).
    nv <- cellshard:::.seuratV3Finish(2.5, 1, 2, clip_sum = 5, clip_sumsq = 17, n.cells = 4)
    expect_equal(nv, 17 / 12, tolerance = 1e-15)
})

test_that("NaN normalised dispersions in the cut-off rule count as 0 (scanpy's nan_to_num)", {
    # seurat: gene 1 has zero variance (NaN); min.disp below 0 lets it pass.
    means <- c(1, 1, 1.1, 1.2) # expm1 scale; log1p means all inside (0.0125, 3)
    vars <- c(0, 1, 2, 4)
    strict <- cellshard:::.hvgSeurat(means, vars, n.bins = 1)
    loose <- cellshard:::.hvgSeurat(means, vars, n.bins = 1, min.disp = -5)
    expect_true(is.nan(strict$dispersions_norm[1]))
    expect_false(strict$highly_variable[1])
    expect_true(loose$highly_variable[1])
    # +Inf is clamped to the largest double and so passes max.disp = Inf.
    expect_identical(cellshard:::.hvgSelectCutoffs(c(1, 1), c(Inf, NaN), 0, 3, 0.5, Inf),
                     c(TRUE, FALSE))
})

test_that("a gene alone in its seurat bin gets normalised dispersion 1", {
    # log1p means: five genes near 0.1 and one at log1p(20); 20 bins leave it alone.
    means <- c(0.10, 0.11, 0.12, 0.13, 0.14, 20)
    vars <- means * c(1, 2, 3, 4, 5, 6)
    res <- cellshard:::.hvgSeurat(means, vars)
    expect_identical(res$dispersions_norm[6], 1)
    # The other five share one bin: z-scores of log(1:5).
    d <- log(1:5)
    expect_equal(res$dispersions_norm[1:5], (d - mean(d)) / sd(d), tolerance = 1e-14)
})

# --- batches ----------------------------------------------------------------

test_that("undetected genes are filled with zeros as scanpy does", {
    df <- data.frame(means = c(1, 2), dispersions = c(3, 4), dispersions_norm = c(0.5, NaN),
                     highly_variable = c(TRUE, FALSE))
    full <- cellshard:::.hvgFillUndetected(df, c(TRUE, FALSE, TRUE), genes = c("a", "b", "c"))
    expect_identical(rownames(full), c("a", "b", "c"))
    expect_identical(full$means, c(1, 0, 2))
    expect_identical(full$dispersions_norm, c(0.5, 0, NaN))
    expect_identical(full$highly_variable, c(TRUE, FALSE, FALSE))
})

test_that("batches combine by averaging and counting, then rank by count and dispersion", {
    b1 <- data.frame(means = c(1, 2, 3, 4), dispersions = c(1, 1, 1, 1),
                     dispersions_norm = c(2, NaN, 1, 0), highly_variable = c(TRUE, FALSE, TRUE, FALSE),
                     row.names = c("g4", "g3", "g2", "g1"))
    b2 <- data.frame(means = c(3, 2, 1, 0), dispersions = c(3, 3, 3, 0),
                     dispersions_norm = c(1, NaN, 3, 0), highly_variable = c(TRUE, FALSE, FALSE, FALSE),
                     row.names = c("g4", "g3", "g2", "g1"))
    res <- cellshard:::.hvgCombineBatches(list(b1, b2), n.top = 2)
    expect_identical(res$means, c(2, 2, 2, 2))
    expect_identical(res$dispersions, c(2, 2, 2, 0.5))
    expect_identical(res$dispersions_norm, c(1.5, NaN, 2, 0)) # NaN only if NaN everywhere
    expect_identical(res$highly_variable_nbatches, c(2L, 0L, 1L, 0L))
    expect_identical(res$highly_variable_intersection, c(TRUE, FALSE, FALSE, FALSE))
    # nbatches first (g4: 2), then dispersions_norm (g2: 2 beats g1: 0).
    expect_identical(res$highly_variable, c(TRUE, FALSE, TRUE, FALSE))
    # Exactly n: with n.top = 3 the tie g1 / g3 goes to the non-NaN one, g1.
    res3 <- cellshard:::.hvgCombineBatches(list(b1, b2), n.top = 3)
    expect_identical(res3$highly_variable, c(TRUE, FALSE, TRUE, TRUE))
    # Equal count and dispersion: scanpy's order is by gene name (g1 before g4).
    tie <- data.frame(means = 1, dispersions = 1, dispersions_norm = c(1, 1),
                      highly_variable = TRUE, row.names = c("g4", "g1"))
    expect_identical(cellshard:::.hvgCombineBatches(list(tie), n.top = 1)$highly_variable,
                     c(FALSE, TRUE))
    # Cut-offs: NaN dispersions_norm become 0 and stay 0 in the result.
    cut <- cellshard:::.hvgCombineBatches(list(b1, b2), min.mean = 1, max.mean = 3, min.disp = 1)
    expect_identical(cut$dispersions_norm, c(1.5, 0, 2, 0))
    expect_identical(cut$highly_variable, c(TRUE, FALSE, TRUE, FALSE))
})

test_that("seurat_v3 ranks across batches: median rank and batch count, two orders", {
    # Per batch ranks (0-based, n.top = 2; ranks >= 2 do not count):
    #   gene:   a  b  c  d
    #   b1:     0  1  2  3
    #   b2:     3  0  1  2
    #   b3:     3  1  0  2
    nv <- cbind(c(4, 3, 2, 1), c(1, 4, 3, 2), c(1, 3, 4, 2))
    v3 <- cellshard:::.seuratV3Select(nv, n.top = 2, flavor = "seurat_v3")
    expect_identical(v3$highly_variable_nbatches, c(1L, 3L, 2L, 0L))
    expect_identical(v3$highly_variable_rank, c(0, 1, 0.5, NA))
    expect_identical(v3$variances_norm, c(6, 10, 9, 5) / 3)
    # seurat_v3: by median rank -> a (0), c (0.5).
    expect_identical(v3$highly_variable, c(TRUE, FALSE, TRUE, FALSE))
    # seurat_v3_paper: by batch count -> b (3), c (2).
    paper <- cellshard:::.seuratV3Select(nv, n.top = 2, flavor = "seurat_v3_paper")
    expect_identical(paper$highly_variable, c(FALSE, TRUE, TRUE, FALSE))
})
