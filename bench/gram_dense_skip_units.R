# Would the sparse tiles, in the genes' own order, leave fewer units of work if
# the products among the D most frequent genes went to a dense block (int8
# tensor cores, bench/gram_dense_split.cu) and the tile kernel skipped only
# those products (issue 8; session 23's idea, not built)? Counted on the CPU on
# the seed pipeline's scaled HVG matrix, panels of 128 in the genes' order:
# per panel pair and row, na entries in panel p (the "a" side, four a's a
# unit), nb in q, of which na_d and nb_d dense. Today a row costs
# ceil(na / 4) nb units off the diagonal; with each row's run of a panel
# ordered sparse first, a dense b needs only the sparse a's:
# ceil(na / 4) nb_s + ceil(na_s / 4) nb_d. The diagonal tiles (pairs of a's
# with b <= a) are scaled by their share of products left. The windows (a
# warp's 32 rows, 256 staged entries) stay as they are: every entry is still
# staged.
#   Rscript bench/gram_dense_skip_units.R [n.cells] [D list]   (60000 256,384,512,640,768)
suppressPackageStartupMessages({library(cellshard); library(Matrix)})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 60000
dense_sizes <- if (length(args) >= 2) as.integer(strsplit(args[2], ",")[[1]]) else
    c(256L, 384L, 512L, 640L, 768L)
options(cellshard.verbose = FALSE)
out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1, devices = "cpu"), verbose = FALSE)
x <- as(assay(out, "scaled"), "dgCMatrix")  # genes x cells
len <- diff(x@p)
freq <- tabulate(x@i + 1, nrow(x))
cat(sprintf("%d genes x %d cells, %d stored\n", nrow(x), ncol(x), length(x@x)))
panel <- (seq_len(nrow(x)) - 1) %/% 128
n_panels <- max(panel) + 1
cell <- rep(seq_len(ncol(x)), len)
per_panel <- function(keep) {  # entries of each panel in each cell, for the genes in `keep`
    rows <- keep[x@i + 1]
    as.matrix(sparseMatrix(i = panel[x@i + 1][rows] + 1, j = cell[rows], x = 1,
                           dims = c(n_panels, ncol(x))))
}
all_counts <- per_panel(rep(TRUE, nrow(x)))
diagonal_units <- function(na) {
    half <- na %/% 2
    half * (half + 1) + (na %% 2) * na
}
for (d in dense_sizes) {
    dense <- seq_len(nrow(x)) %in% order(-freq)[seq_len(d)]
    dense_counts <- per_panel(dense)
    units_now <- units_skip <- products_now <- products_skip <- 0
    for (p in seq_len(n_panels)) for (q in seq_len(p)) {
        na <- all_counts[p, ]; na_d <- dense_counts[p, ]; na_s <- na - na_d
        if (p == q) {
            u <- sum(diagonal_units(na))
            prod_all <- sum(na * (na + 1) / 2)
            prod_dd <- sum(na_d * (na_d + 1) / 2)
            units_now <- units_now + u
            units_skip <- units_skip + if (prod_all > 0) u * (1 - prod_dd / prod_all) else 0
            products_now <- products_now + prod_all
            products_skip <- products_skip + prod_all - prod_dd
        } else {
            nb <- all_counts[q, ]; nb_d <- dense_counts[q, ]; nb_s <- nb - nb_d
            units_now <- units_now + sum(ceiling(na / 4) * nb)
            units_skip <- units_skip + sum(ceiling(na / 4) * nb_s + ceiling(na_s / 4) * nb_d)
            products_now <- products_now + sum(na * nb)
            products_skip <- products_skip + sum(na * nb - na_d * nb_d)
        }
    }
    cat(sprintf(paste0("dense block of the %4d most frequent genes: products left %.3f, ",
                       "units left %.3f (products a unit %.2f -> %.2f)\n"),
                d, products_skip / products_now, units_skip / units_now,
                products_now / units_now, products_skip / units_skip))
}
