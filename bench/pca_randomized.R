# Would a Gram-free PCA be faster (issue 8)? Randomized subspace iteration
# (Halko, Martinsson & Tropp) works on the sparse matrix itself: each power
# step is one pass of X V and one of X^T U, with the centring applied inside
# the products. It needs no Gram, but each pass costs about what the
# projection of the cells costs. This script measures, on the seed pipeline's
# scaled HVG matrix, how many passes it takes to reach the SPEC's fidelity:
# every one of the 100 variances within 1e-4 relative, and |cos| >= 0.9999
# with the exact loadings where the eigenvalue is separated from its
# neighbours by > 1%. Exact: LAPACK's eigen() of the covariance, in R.
# CPU backend; the spectrum's shape does not depend on the number of cells.
#   Rscript bench/pca_randomized.R [n.cells] [block] [max.power]    (100000 120 8)
suppressPackageStartupMessages({
    library(cellshard)
    library(Matrix)
})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1e5
block <- if (length(args) >= 2) as.integer(args[2]) else 120L
max_power <- if (length(args) >= 3) as.integer(args[3]) else 8L
k <- 100L
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]

out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = "cpu"), ncomponents = 2)
a <- t(as(assay(out, "scaled", withDimnames = FALSE), "dgCMatrix"))  # cells x genes
rm(out); invisible(gc())
n <- nrow(a); g <- ncol(a)
mu <- colMeans(a)
cat(sprintf("scaled HVG matrix: %d cells x %d genes, %.2f%% stored\n", n, g,
            100 * length(a@x) / (as.numeric(n) * g)))

t0 <- clock()
cov <- as.matrix(crossprod(a)) / n - tcrossprod(mu)
exact <- eigen(cov, symmetric = TRUE)
cat(sprintf("exact: covariance and eigen() in %.1f s\n", clock() - t0))
lambda <- exact$values[seq_len(k)]
vectors <- exact$vectors[, seq_len(k)]
gaps <- pmin(c(Inf, -diff(lambda)), c(-diff(exact$values[seq_len(k + 1)]))) / lambda
separated <- gaps > 0.01
cat(sprintf("%d of %d eigenvalues separated by > 1%%; lambda 1, 20, 50, 100: %s\n",
            sum(separated), k, paste(signif(lambda[c(1, 20, 50, 100)], 5), collapse = ", ")))

# The centred products: (A - 1 mu^T) V and (A - 1 mu^T)^T U.
times_v <- function(v) as.matrix(a %*% v) - outer(rep(1, n), drop(crossprod(mu, v)))
times_u <- function(u) as.matrix(crossprod(a, u)) - outer(mu, colSums(u))

set.seed(1)
y <- times_v(matrix(rnorm(g * block), g, block))
passes <- 1
rows <- list()
for (q in 0:max_power) {
    if (q > 0) {
        y <- times_v(qr.Q(qr(times_u(qr.Q(qr(y))))))
        passes <- passes + 2
    }
    basis <- qr.Q(qr(y))
    b <- t(times_u(basis))  # block x genes: one more pass
    s <- svd(b, nu = 0, nv = k)
    values <- s$d[seq_len(k)]^2 / n
    cosines <- abs(colSums(s$v * vectors))
    rows[[length(rows) + 1]] <- data.frame(
        power = q, passes = passes + 1,
        max_rel_variance_error = max(abs(values - lambda) / lambda),
        rel_error_20 = abs(values[20] - lambda[20]) / lambda[20],
        rel_error_100 = abs(values[100] - lambda[100]) / lambda[100],
        min_cos_separated = min(cosines[separated]))
    with(rows[[length(rows)]], cat(sprintf(
        "power %d, %2d passes: largest variance error %.3g (20th %.3g, 100th %.3g), min |cos| separated %.4f\n",
        power, passes, max_rel_variance_error, rel_error_20, rel_error_100, min_cos_separated)))
}
res <- do.call(rbind, rows)
ok <- res$max_rel_variance_error <= 1e-4 & res$min_cos_separated >= 0.9999
cat(sprintf("\nblock %d: %s\n", block,
            if (any(ok)) sprintf("fidelity reached after %d passes over the matrix (power %d)",
                                 res$passes[which(ok)[1]], res$power[which(ok)[1]])
            else sprintf("fidelity not reached within %d passes", max(res$passes))))
