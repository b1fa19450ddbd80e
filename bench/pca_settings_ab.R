# computePCA under two (or more) settings of the package's environment
# variables, the calls interleaved (A, B, A, B, ...) in one process on the
# seed pipeline's scaled HVG matrix: the whole call's seconds (R's garbage
# collected before each, outside the clock) and its phases
# (metadata(sce)$PCA$seconds), median and range of `reps` calls each after a
# warm-up of each. Interleaving keeps the GPU's clocks and the machine's state
# the same for all, which runs one after the other
# (bench/pca-before-after.sh) do not.
#   Rscript bench/pca_settings_ab.R [n.cells] [reps] [A] [B] [more settings...]
# A, B, ...: NAME=value[,NAME=value...] or "default" (nothing set), e.g.
#   Rscript bench/pca_settings_ab.R 1430156 11 CELLSHARD_CHEFSI_VALUE_TOLERANCE=0 default
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
reps <- if (length(args) >= 2) as.integer(args[2]) else 11L
settings <- if (length(args) >= 4) args[3:length(args)] else c("CELLSHARD_CHEFSI_VALUE_TOLERANCE=0", "default")
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "pca_result.R"))

parse_setting <- function(s) {
    if (s == "default") return(character())
    kv <- strsplit(strsplit(s, ",")[[1]], "=")
    stats::setNames(vapply(kv, `[`, "", 2), vapply(kv, `[`, "", 1))
}
vars <- lapply(settings, parse_setting)
with_setting <- function(v, expr) {
    if (length(v)) do.call(Sys.setenv, as.list(v))
    on.exit(if (length(v)) Sys.unsetenv(names(v)))
    expr
}

out <- runSeedPipeline(simulateAtlas(n_cells, seed = 1), verbose = FALSE)
cat(sprintf("scaled HVG matrix: %d cells x %d genes\n", ncol(out), nrow(out)))
one_call <- function(v) {
    invisible(gc())
    with_setting(v, {
        t0 <- clock()
        sce <- computePCA(out, ncomponents = 100)
        c(whole = clock() - t0, metadata(sce)$PCA$seconds)
    })
}
for (v in vars) invisible(one_call(v))  # warm-up
runs <- rep(list(list()), length(vars))
for (r in seq_len(reps)) for (i in seq_along(vars)) runs[[i]][[r]] <- one_call(vars[[i]])
for (i in seq_along(vars)) {
    m <- do.call(rbind, runs[[i]])
    cat(sprintf("%-45s %s\n", settings[i], paste(sprintf("%s %.4f (%.4f-%.4f)", colnames(m),
        apply(m, 2, stats::median), apply(m, 2, min), apply(m, 2, max)), collapse = ", ")))
}
# What each setting computed, to 17 digits.
for (i in seq_along(vars)) {
    pcs <- with_setting(vars[[i]], reducedDim(computePCA(out, ncomponents = 100), "PCA",
                                              withDimnames = FALSE))
    cat(sprintf("%-45s %s\n", settings[i], pca_result_line(pcs)))
}
