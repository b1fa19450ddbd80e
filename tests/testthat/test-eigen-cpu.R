# The CPU backend's eigensolver (block Lanczos for large matrices, LAPACK for
# small ones) against base R's eigen(), prcomp() and irlba on matrices whose
# answer is known.

host_eigen <- function(a, k, method) cellshard:::cs_host_top_eigen(a, k, method)

# A symmetric matrix with the given eigenvalues and random eigenvectors.
with_spectrum <- function(values, seed) {
    set.seed(seed)
    n <- length(values)
    u <- qr.Q(qr(matrix(stats::rnorm(n * n), n)))
    a <- u %*% (values * t(u))
    list(a = (a + t(a)) / 2, vectors = u)
}

# |cosine| between matching columns.
cosines <- function(x, y) abs(colSums(x * y)) / sqrt(colSums(x^2) * colSums(y^2))

test_that("Lanczos finds the leading eigenpairs of a flat spectrum, as eigen() does", {
    # Few large eigenvalues, then a slowly decaying bulk, as in single-cell data.
    n <- 1200; k <- 30
    lambda <- c(200 / seq_len(30), seq(3, 1, length.out = n - 30))
    m <- with_spectrum(lambda, seed = 41)
    got <- host_eigen(m$a, k, "lanczos")
    expect_identical(got$method, "lanczos")
    ref <- eigen(m$a, symmetric = TRUE)
    expect_equal(got$values, ref$values[1:k], tolerance = 1e-11)
    expect_equal(got$values, lambda[1:k], tolerance = 1e-11)
    # Vectors whose eigenvalue is separated from its neighbours, up to sign.
    separated <- c(diff(-lambda[1:(k + 1)]) > 1e-3 * lambda[1])[1:k] &
        c(TRUE, diff(-lambda[1:k]) > 1e-3 * lambda[1])
    expect_gt(sum(separated), 20)
    expect_true(all(cosines(got$vectors, ref$vectors[, 1:k])[separated] > 1 - 1e-10))
    # The eigenvectors are orthonormal.
    expect_equal(crossprod(got$vectors), diag(k), tolerance = 1e-10)
    # "auto" takes Lanczos at this size and agrees with LAPACK.
    lap <- host_eigen(m$a, k, "lapack")
    expect_identical(lap$method, "lapack")
    expect_identical(host_eigen(m$a, k, "auto")$method, "lanczos")
    expect_equal(got$values, lap$values, tolerance = 1e-11)
    expect_true(all(cosines(got$vectors, lap$vectors)[separated] > 1 - 1e-10))
})

test_that("Lanczos handles repeated eigenvalues, indefinite matrices and low rank", {
    n <- 1100
    # A triple eigenvalue at the top and negative eigenvalues: the invariant
    # subspace and the algebraically largest values must come out.
    lambda <- c(10, 10, 10, 7, 5, seq(1, -3, length.out = n - 5))
    m <- with_spectrum(lambda, seed = 42)
    got <- host_eigen(m$a, 5, "lanczos")
    expect_identical(got$method, "lanczos")
    expect_equal(got$values, lambda[1:5], tolerance = 1e-11)
    top <- m$vectors[, 1:3]
    # The three vectors span the eigenspace of 10.
    expect_equal(sum(crossprod(top, got$vectors[, 1:3])^2), 3, tolerance = 1e-10)
    expect_gt(min(cosines(got$vectors[, 4:5], m$vectors[, 4:5])), 1 - 1e-10)

    # Rank 10 < the block size: the Krylov space is exhausted at once.
    set.seed(43)
    b <- matrix(stats::rnorm(n * 10), n)
    low <- tcrossprod(b)
    got <- host_eigen(low, 8, "lanczos")
    expect_identical(got$method, "lanczos")
    ref <- eigen(low, symmetric = TRUE)
    expect_equal(got$values, ref$values[1:8], tolerance = 1e-10)
    expect_gt(min(cosines(got$vectors, ref$vectors[, 1:8])), 1 - 1e-9)
})

test_that("PCA of a Gram matrix: Lanczos against prcomp and irlba", {
    skip_if_not_installed("irlba")
    set.seed(44)
    # 1,000 genes x 3,000 cells of sparse log counts: covariance as computePCA builds it.
    x <- Matrix::rsparsematrix(3000, 1000, 0.05, rand.x = function(n) log1p(stats::rpois(n, 3) + 1))
    x <- as.matrix(x)
    x[, 1:5] <- x[, 1:5] + outer(rep(c(3, 0), c(300, 2700)), 1:5)  # a cell group with structure
    mu <- colMeans(x)
    cov_1n <- crossprod(x) / nrow(x) - tcrossprod(mu)
    k <- 20
    got <- host_eigen(cov_1n, k, "lanczos")
    pr <- stats::prcomp(x, center = TRUE, scale. = FALSE, rank. = k)
    expect_equal(got$values * nrow(x) / (nrow(x) - 1), pr$sdev[1:k]^2, tolerance = 1e-10)
    gaps <- -diff(pr$sdev[1:(k + 1)]^2) / pr$sdev[1:k]^2
    expect_true(all(cosines(got$vectors, pr$rotation)[gaps > 1e-3] > 1 - 1e-9))
    # irlba (a different Krylov method) on the centred matrix: the same
    # singular values to its own tolerance.
    ir <- irlba::irlba(x, nv = 10, center = mu, tol = 1e-10, maxit = 1000)
    expect_equal(sqrt(got$values[1:10] * nrow(x)), ir$d, tolerance = 1e-7)
    expect_true(all(cosines(got$vectors[, 1:10], ir$v)[gaps[1:10] > 1e-3] > 1 - 1e-7))
})

test_that("Lanczos finishes on a flat noise bulk by the bulk's eigenvalues (SPEC.md)", {
    # 20 separated eigenvalues, then a bulk 0.05 wide whose neighbours are
    # ~1e-4 apart, as in a large single-cell PCA: residuals of 1e-11 x lambda_1
    # for every pair take more than the largest basis (LAPACK would answer);
    # pairs within 1% of both neighbours need only their eigenvalues.
    n <- 2000; k <- 50
    lambda <- c(30 * (2 / 30)^((0:19) / 19),
                1.1 - 0.05 * ((seq_len(n - 20) - 0.5) / (n - 20))^(2 / 3))
    # A = H3 H2 H1 diag(lambda) H1 H2 H3 with Householder reflections H = I - 2 u u^T.
    set.seed(46)
    us <- lapply(1:3, function(i) { u <- stats::rnorm(n); u / sqrt(sum(u^2)) })
    a <- diag(lambda)
    for (u in us) {
        au <- drop(a %*% u)
        a <- a - 2 * outer(u, au) - 2 * outer(au, u) + 4 * sum(u * au) * outer(u, u)
    }
    a <- (a + t(a)) / 2
    got <- host_eigen(a, k, "lanczos")
    expect_identical(got$method, "lanczos")
    # Every eigenvalue within 10 times the solver's value tolerance (1e-6); the
    # SPEC asks for 1e-4.
    expect_lt(max(abs(got$values - lambda[1:k]) / lambda[1:k]), 1e-5)
    # Separated vectors (more than 1% from both neighbours) as the exact ones,
    # Q e_j with Q = H3 H2 H1.
    gaps <- -diff(lambda[1:(k + 1)]) / lambda[2:(k + 1)]
    separated <- which(gaps > 0.01 & c(TRUE, gaps[-k] > 0.01))
    expect_identical(length(separated), 20L)
    exact <- diag(n)[, separated]
    for (u in us) exact <- exact - 2 * outer(u, drop(crossprod(u, exact)))
    expect_true(all(cosines(got$vectors[, separated], exact) > 1 - 1e-10))
    expect_equal(crossprod(got$vectors), diag(k), tolerance = 1e-10)
})

test_that("computePCA on more than 1,000 genes (the Lanczos path) equals prcomp", {
    m <- random_counts(1500, 400, density = 0.1, seed = 45)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(logcounts = log1p(m))),
                    devices = "cpu", shards = 2)
    sce <- computePCA(sce, ncomponents = 30, assay.type = "logcounts")
    pcs <- reducedDim(sce, "PCA")
    # The input as stored (float32), so that only the PCA is compared.
    stored <- as.matrix(logcounts(sce))
    expect_equal(stored, as.matrix(log1p(m)), tolerance = 1e-7)
    pr <- stats::prcomp(t(stored), center = TRUE, scale. = FALSE, rank. = 31)
    expect_equal(sqrt(attr(pcs, "varExplained")), pr$sdev[1:30], tolerance = 1e-10)
    separated <- (pr$sdev[1:30]^2 - pr$sdev[2:31]^2) / pr$sdev[1:30]^2 > 0.01
    cors <- vapply(1:30, function(j) abs(stats::cor(pcs[, j], pr$x[, j])), numeric(1))
    expect_true(all(cors[separated] > 1 - 1e-9))
    expect_equal(sum(attr(pcs, "percentVar")), 100 * sum(pr$sdev[1:30]^2) / sum(pr$sdev^2),
                 tolerance = 1e-10)
})
