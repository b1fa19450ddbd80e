# What ordering the genes by frequency would change in the sparse Gram's tile
# kernel (issue 8), counted on the CPU on the seed pipeline's scaled HVG
# matrix: for the h most frequent genes, their share of the stored entries and
# of the Gram's products, and their block's density (what a dense block of
# them on tensor cores would save the sparse kernel); then, for the genes in
# their own order and by frequency, in panels of 128: the entries the tiles
# stage (every row, or only the rows with products in the pair), the windows
# (a warp's at most 32 rows and 256 staged entries, rows with products only),
# and the heaviest tiles' shares of the products against one block's fair
# share of a chunk (6 row blocks a tile, 132 SMs); then the same shares
# expected of the GPU benches' skewed shard (bench/random_shard.cuh).
#   Rscript bench/gram_gene_order.R [n.cells]     (60000: about 4 minutes)
suppressPackageStartupMessages({library(cellshard); library(Matrix)})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 60000
options(cellshard.verbose = FALSE)
out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = "cpu"), verbose = FALSE)
x <- as(assay(out, "scaled"), "dgCMatrix")  # genes x cells
len <- diff(x@p)
freq <- tabulate(x@i + 1, nrow(x))
by_frequency <- order(-freq)
cat(sprintf("%d genes x %d cells, %d stored\n", nrow(x), ncol(x), length(x@x)))

pattern <- x
pattern@x[] <- 1
products <- sum(len * (len + 1) / 2)
for (h in c(128, 256, 512, 1024, 1536, 2048)) {
    top <- by_frequency[seq_len(h)]
    k <- colSums(pattern[top, , drop = FALSE])
    cat(sprintf("top %4d genes: %.3f of the entries, %.3f of the products, block density %.3f\n",
                h, sum(freq[top]) / length(x@x), sum(k * (k + 1) / 2) / products,
                sum(freq[top]) / (h * ncol(x))))
}

# Windows over the rows kept: at most 32 rows, at most 256 staged entries.
windows <- function(staged) {
    if (!length(staged)) return(0)
    ends <- cumsum(staged)
    count <- 0; i <- 1; base <- 0
    while (i <= length(staged)) {
        fit <- which(ends[i:min(length(staged), i + 31)] - base <= 256)
        k <- if (length(fit)) max(fit) else 1
        base <- ends[i + k - 1]; i <- i + k; count <- count + 1
    }
    count
}
for (order_name in c("genes' own order", "by frequency")) {
    place <- match(seq_len(nrow(x)), if (order_name == "by frequency") by_frequency else seq_len(nrow(x)))
    panel <- (place - 1) %/% 128
    n_panels <- max(panel) + 1
    counts <- as.matrix(sparseMatrix(i = panel[x@i + 1] + 1, j = rep(seq_len(ncol(x)), len), x = 1,
                                     dims = c(n_panels, ncol(x))))
    staged_all <- staged_kept <- windows_all <- windows_kept <- visits <- 0
    weight <- numeric(0)
    for (p in seq_len(n_panels)) for (q in seq_len(p)) {
        a <- counts[p, ]; b <- counts[q, ]
        staged <- if (p == q) a else a + b
        pair_products <- if (p == q) a * (a + 1) / 2 else a * b
        kept <- pair_products > 0
        staged_all <- staged_all + sum(staged)
        staged_kept <- staged_kept + sum(staged[kept])
        windows_all <- windows_all + windows(staged)
        windows_kept <- windows_kept + windows(staged[kept])
        visits <- visits + sum(kept)
        weight <- c(weight, sum(pair_products))
    }
    share <- sort(weight / sum(weight), decreasing = TRUE)
    cat(sprintf(paste0("%s: staged entries %.4g (every row) / %.4g (rows with products), windows %.4g / %.4g, ",
                       "(pair, row) visits with products %.3f; heaviest tiles %s of the products, ",
                       "the heaviest one's row block %.2f x a block's fair share\n"),
                order_name, staged_all, staged_kept, windows_all, windows_kept,
                visits / (n_panels * (n_panels + 1) / 2 * ncol(x)),
                paste(sprintf("%.4f", share[1:4]), collapse = " "), share[1] / 6 * 132))
}

# For comparison, bench/random_shard.cuh's skewed shard (the GPU benches'
# stand-in for this matrix): gene g present with probability
# min(0.9, exp(mu + 1.5 z_g)) at a mean density of 3.5%, genes independent.
# Its expected shares, from 5,000 fresh normal draws (not the shard's own).
set.seed(7)
z <- rnorm(5000)
mu <- uniroot(function(m) mean(pmin(0.9, exp(m + 1.5 * z))) - 0.035, c(-20, 0))$root
present <- sort(pmin(0.9, exp(mu + 1.5 * z)), decreasing = TRUE)
pairs_of <- function(p) (sum(p)^2 + sum(p^2)) / 2  # expected products a row, b <= a
for (h in c(128, 512, 1024, 2048))
    cat(sprintf("skewed shard, top %4d genes: %.3f of the entries, %.3f of the products, density %.3f\n",
                h, sum(present[1:h]) / sum(present), pairs_of(present[1:h]) / pairs_of(present),
                mean(present[1:h])))
shard_panel <- (seq_along(present) - 1) %/% 128
sums <- tapply(present, shard_panel, sum)
squares <- tapply(present^2, shard_panel, sum)
tile <- unlist(lapply(seq_along(sums), function(p) c(
    sums[p] * sums[seq_len(p - 1)], (sums[p]^2 + squares[p]) / 2)))
cat(sprintf("skewed shard by frequency: heaviest tiles %s of the products\n",
            paste(sprintf("%.4f", sort(tile / sum(tile), decreasing = TRUE)[1:4]), collapse = " ")))
