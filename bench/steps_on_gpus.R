# Per-step seconds of runSeedPipeline for chosen atlas sizes and GPU counts,
# in one process (a shorter run than bench/scaling.R, for a before/after):
#   Rscript bench/steps_on_gpus.R 1430156:1 5720624:4 11441407:4
# Each: simulateAtlas(cells, seed = 1, devices = 0:(gpus - 1)), a warm-up
# run, then the timed run; R's garbage-collection seconds are given too.
suppressPackageStartupMessages(library(cellshard))
options(cellshard.verbose = FALSE)
runs <- strsplit(commandArgs(trailingOnly = TRUE), ":")
cols <- list()
for (r in runs) {
    n <- as.numeric(r[1]); g <- as.integer(r[2])
    atlas <- simulateAtlas(n, seed = 1, devices = seq_len(g) - 1L)
    warm <- runSeedPipeline(atlas, verbose = FALSE)
    rm(warm); invisible(gc())
    gc0 <- gc.time()[3]
    out <- runSeedPipeline(atlas, verbose = FALSE)
    tm <- metadata(out)$timings
    key <- sprintf("%s cells, %d GPU%s", format(n, big.mark = ","), g, if (g > 1) "s" else "")
    cols[[key]] <- c(setNames(tm$seconds, tm$step), total = sum(tm$seconds),
                     `R gc` = gc.time()[3] - gc0)
    cat(key, ":", sprintf("%.3f s", sum(tm$seconds)), "\n")
    rm(atlas, out); invisible(gc())
}
print(round(do.call(cbind, cols), 3))
if (nzchar(Sys.getenv("OUT")))
    write.csv(do.call(cbind, cols), file.path(Sys.getenv("OUT"), "steps_on_gpus.csv"))
