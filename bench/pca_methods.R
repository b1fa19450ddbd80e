# PCA's Gram and eigensolver methods (issue 8) on the scaled HVG matrix of the
# seed pipeline, one GPU's share of the reference workload: the seconds of the
# Gram and of the eigensolver for each pair of methods (forced with
# CELLSHARD_GRAM_METHOD = dense | sparse and CELLSHARD_EIGEN_METHOD = syevdx |
# lanczos | chefsi; "auto" is what the package picks), and how far each answer is from
# the dense Gram + syevdx (the methods before): eigenvalues (relative), and
# the eigenvectors' |cosine| where an eigenvalue is separated from its
# neighbours by more than 1% (SPEC.md's fidelity bar).
# With a fourth argument (tolerances, comma-separated; "-" for none), then the
# sparse Gram and chefsi at each locking tolerance (CELLSHARD_CHEFSI_TOLERANCE;
# the package's is 1e-8): the eigensolver's seconds (median of 3 after a
# warm-up) and the same distances from dense + syevdx; with a fifth (block
# sizes), the same at each block size (CELLSHARD_CHEFSI_BLOCK; the package's
# is 128 for k = 100: chefsi_default_block). A sixth, VARIABLE=v1,v2,...,
# times the sparse projection with that environment variable at each value.
#   Rscript bench/pca_methods.R [n.cells] [device] [zero.center: 0 | 1] [tolerances | -]
#     [blocks | -] [VARIABLE=values]
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
device <- if (length(args) >= 2) as.integer(args[2]) else 0L
centre <- length(args) >= 3 && args[3] == "1"
options(cellshard.verbose = FALSE)
ns <- asNamespace("cellshard")
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "eigen_reference.R"))

atlas <- simulateAtlas(n_cells, seed = 1, devices = device)
out <- if (centre) runSeedPipeline(atlas, zero.center = TRUE, max.value = 10, verbose = FALSE) else
    runSeedPipeline(atlas, verbose = FALSE)
rm(atlas); invisible(gc())
m <- ns$.deviceAssay(out, "scaled", "computePCA")
k <- 100L
b <- m@seed@background
if (!length(b)) b <- numeric(nrow(m))
d <- if (any(b != 0)) ns$.layerLike(m, ns$.seedCall(m@seed, ns$cs_map_layer, NULL, "none", 1, NULL, -b,
                                                    -Inf, Inf)) else m
mom <- ns$.seedCall(d@seed, ns$cs_column_moments, FALSE, NULL)
nnz <- sum(deviceLayout(d)$nnz)
cat(sprintf("%s: %d cells x %d genes, stored entries %.4g (density %.4f)%s\n",
            if (centre) "zero-centred, clipped at 10" else "seed pipeline (zero.center = FALSE)",
            ncol(m), nrow(m), nnz, nnz / (as.numeric(ncol(m)) * nrow(m)),
            if (any(b != 0)) ", as offsets from the per-gene background" else ""))

run <- function(gram, eigen) {
    Sys.setenv(CELLSHARD_GRAM_METHOD = gram, CELLSHARD_EIGEN_METHOD = eigen)
    on.exit(Sys.unsetenv(c("CELLSHARD_GRAM_METHOD", "CELLSHARD_EIGEN_METHOD")))
    t0 <- proc.time()[["elapsed"]]
    e <- ns$.seedCall(d@seed, ns$cs_covariance_eigen, b, mom$sum, TRUE, k)
    e$wall <- proc.time()[["elapsed"]] - t0
    e
}
invisible(run("auto", "auto"))  # warm-up (handles, pools)
ref <- run("dense", "syevdx")
separated <- separated_pairs(ref$values)
cat(sprintf("eigenvalues 1, 10, 50, 100: %s; %d of %d separated by > 1%%\n",
            paste(signif(ref$values[c(1, 10, 50, 100)], 6), collapse = ", "), length(separated), k))
cat(sprintf("%-8s %-8s %8s %8s %8s %14s %14s\n", "gram", "eigen", "gram s", "eigen s", "wall s",
            "max rel value", "min |cos| sep"))
show <- function(label, e) {
    distance <- eigen_distance(e, ref, separated)
    cat(sprintf("%-8s %-8s %8.4f %8.4f %8.4f %14.3g %14.12f\n", label[1], label[2], e$seconds[["gram"]],
                e$seconds[["eigen"]], e$wall, distance[["value"]], distance[["cosine"]]))
}
show(c("dense", "syevdx"), ref)
for (combo in list(c("sparse", "syevdx"), c("dense", "lanczos"), c("sparse", "lanczos"),
                   c("dense", "chefsi"), c("sparse", "chefsi"), c("auto", "auto"), c("auto", "auto")))
    show(combo, run(combo[1], combo[2]))

# The projection (cs_multiply: X V plus the centring shift, scores left on the
# device) by each method, forced with CELLSHARD_MULTIPLY_METHOD = dense (rows
# densified, cublasDgemm) | sparse (the gathering kernel); median of 3 after a
# warm-up, and the largest difference between the two methods' scores.
project <- function(method) {
    Sys.setenv(CELLSHARD_MULTIPLY_METHOD = method)
    on.exit(Sys.unsetenv("CELLSHARD_MULTIPLY_METHOD"))
    v <- ref$vectors
    shift <- -as.numeric(crossprod(v, b))
    seconds <- numeric(4)
    for (r in 1:4) {
        t0 <- proc.time()[["elapsed"]]
        s <- ns$.seedCall(d@seed, ns$cs_multiply, v, shift, NULL)
        seconds[r] <- proc.time()[["elapsed"]] - t0
        if (r < 4) rm(s)
    }
    list(seconds = median(seconds[-1]), scores = ns$cs_scores_matrix(s))
}
dense <- project("dense")
sparse <- project("sparse")
chosen <- project("auto")
# With a sixth argument, VARIABLE=v1,v2,...: the sparse projection with that
# environment variable set to each value in turn (e.g.
# CELLSHARD_MULTIPLY_AHEAD=1,2,4), each checked against the package's default
# for the same bits.
if (length(args) >= 6 && args[6] != "-") {
    variable <- sub("=.*", "", args[6])
    cat(sprintf("\nthe sparse projection by %s (s, median of 3):\n", variable))
    for (value in strsplit(sub("^[^=]*=", "", args[6]), ",")[[1]]) {
        do.call(Sys.setenv, stats::setNames(list(value), variable))
        p <- project("sparse")
        cat(sprintf("  %s = %s: %.4f s, %s\n", variable, value, p$seconds,
                    if (identical(p$scores, sparse$scores)) "same bits as the default" else
                        sprintf("DIFFERENT (largest %.3g)", max(abs(p$scores - sparse$scores)))))
        rm(p)
    }
    Sys.unsetenv(variable)
}
cat(sprintf("projection (k = %d): dense %.4f s, sparse %.4f s, package's choice %.4f s; largest |dense - sparse| %.3g (largest |score| %.3g)\n",
            k, dense$seconds, sparse$seconds, chosen$seconds, max(abs(dense$scores - sparse$scores)),
            max(abs(dense$scores))))

# chefsi (sparse Gram) with an environment variable set to each value in turn:
# the eigensolver's seconds, median of 3 after a warm-up.
sweep <- function(variable, values, label, title) {
    cat(sprintf("\nchefsi's %s (sparse Gram), eigen s median of 3:\n", title))
    for (value in strsplit(values, ",")[[1]]) {
        do.call(Sys.setenv, stats::setNames(list(value), variable))
        runs <- lapply(1:4, function(r) run("sparse", "chefsi"))[-1]
        e <- runs[[1]]
        e$seconds[["eigen"]] <- median(vapply(runs, function(x) x$seconds[["eigen"]], 0))
        show(c(label, value), e)
    }
    Sys.unsetenv(variable)
}
if (length(args) >= 4 && args[4] != "-")
    sweep("CELLSHARD_CHEFSI_TOLERANCE", args[4], "tol", "locking tolerance")
if (length(args) >= 5 && args[5] != "-")
    sweep("CELLSHARD_CHEFSI_BLOCK", args[5], "block", "block size (the package's tolerance)")
