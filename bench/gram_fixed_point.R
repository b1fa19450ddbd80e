# How many shared-memory atomics a product the sparse Gram's tiles need, by
# the per-gene scale rule and the fixed-point fraction bits F (issue 8). A
# product x_a x_b / (s_a s_b) 2^F is added as a low 32-bit word and a high
# one; the high word's add can be skipped when it is zero, that is when the
# product is below 2^32 and the low word does not carry (about v / 2^32 of
# the adds). Counted on every tenth cell of the seed pipeline's scaled HVG
# matrix (CPU backend), for
#   "max": s_g the smallest power of two >= max |x_g| (main, F = 46);
#   "geometric mean": s_g = 2^(round(mean binary exponent of |x_g|) + 1),
#     within [2^-8, 1] of the max rule's (the branch gram-one-atomic, F = 28).
#   Rscript bench/gram_fixed_point.R [n.cells] [F values, comma-separated]
suppressPackageStartupMessages({library(cellshard); library(Matrix)})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 30000
fs <- if (length(args) >= 2) as.integer(strsplit(args[2], ",")[[1]]) else c(28L, 34L, 40L, 46L)
options(cellshard.verbose = FALSE)
out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = "cpu"), verbose = FALSE)
x <- as(assay(out, "scaled"), "dgCMatrix")  # genes x cells
xt <- t(x)
nnz <- diff(xt@p)
mx <- sapply(seq_len(ncol(xt)), function(g) if (nnz[g]) max(abs(xt@x[(xt@p[g] + 1):xt@p[g + 1]])) else 0)
e_max <- ifelse(mx > 0, floor(log2(mx)) + 1, 0)
ex <- xt; ex@x <- floor(log2(abs(ex@x)))
mean_e <- ifelse(nnz > 0, colSums(ex) / pmax(nnz, 1), 0)
rules <- list(max = 2^e_max, `geometric mean` = 2^pmin(e_max, pmax(e_max - 8, round(mean_e) + 1)))
cat(sprintf("%d cells x %d genes, %d stored\n", ncol(x), nrow(x), length(x@x)))
for (rule in names(rules)) {
    y <- x / rules[[rule]]
    big <- carry <- numeric(length(fs)); count <- 0; ratios <- numeric(0)
    for (j in seq(1, ncol(y), by = 10)) {
        v <- y[, j]; v <- v[v != 0]
        o <- outer(v, v); r <- abs(o[lower.tri(o, diag = TRUE)])
        count <- count + length(r)
        if (length(ratios) < 1e6) ratios <- c(ratios, r)
        for (i in seq_along(fs)) {
            w <- r * 2^fs[i]
            big[i] <- big[i] + sum(w >= 2^32)
            carry[i] <- carry[i] + sum(w[w < 2^32]) / 2^32
        }
    }
    cat(sprintf("\n%s rule: products sampled %.3g, median x_a x_b / (s_a s_b) %.3g, largest |x| / s %.3g\n",
                rule, count, median(ratios), max(mx / rules[[rule]])))
    for (i in seq_along(fs))
        cat(sprintf("  F = %d: high word non-zero %.4f, carries %.4f -> %.3f atomics a product; rounding 2^-%d of s_a s_b\n",
                    fs[i], big[i] / count, carry[i] / count, 1 + min(1, (big[i] + carry[i]) / count),
                    fs[i] + 1))
}
