# The main job: the seed pipeline (QC, filter, normalise + log1p, highly
# variable genes, rebalance, scale, PCA) on the devices: every visible GPU, or
# the CPU backend. Without arguments it runs on the bundled 10x file, with
# thresholds suited to its 1107 cells x 507 genes; with a path, on that file
# with the reference workload's thresholds.
#   Rscript inst/scripts/main.R [file.h5 | file.h5ad | 10x-folder] [picture.png]
# The picture (default cellshard-main.png in the working directory) shows the
# counts per cell, the cells on PC1 and PC2 and the variance explained.
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
example <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
path <- if (length(args)) args[1] else example
bundled <- identical(normalizePath(path, mustWork = FALSE), normalizePath(example))
# In the working directory by default: a file under tempdir() would be gone when
# the script ends.
picture <- if (length(args) >= 2L) args[2] else "cellshard-main.png"

info <- cellshardInfo()
reader <- if (dir.exists(path)) read10xMtx else if (grepl("\\.h5ad$", path)) readH5AD else read10xH5
t0 <- proc.time()[["elapsed"]]
sce <- reader(path)
cat(sprintf("\nread %s: %d cells x %d genes in %.3f s\n", basename(path), ncol(sce), nrow(sce),
            proc.time()[["elapsed"]] - t0))
print(deviceLayout(SingleCellExperiment::counts(sce)))

params <- if (bundled) list(min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 20) else list()
cat("\nseed pipeline:\n")
out <- do.call(runSeedPipeline, c(list(sce), params, verbose = TRUE))
cat("\n")
print(out)
pcs <- SingleCellExperiment::reducedDim(out, "PCA")
cat(sprintf("\nvariance explained by the first 5 PCs: %s%%\n",
            paste(round(attr(pcs, "percentVar")[1:5], 2), collapse = ", ")))

draw_picture <- function() {
    grDevices::png(picture, width = 1100, height = 420, res = 110)
    op <- graphics::par(mfrow = c(1, 3), mar = c(4.2, 4.2, 2.5, 1))
    graphics::hist(log10(colSums(SingleCellExperiment::counts(sce))), breaks = 40,
                   col = "grey80", border = "white", main = "Counts per cell (all cells)",
                   xlab = "log10 total counts")
    graphics::plot(pcs[, 1], pcs[, 2], pch = 16, cex = 0.8, col = grDevices::adjustcolor("steelblue", 0.6),
                   main = "PCA of the kept cells", xlab = "PC1", ylab = "PC2")
    graphics::barplot(attr(pcs, "percentVar")[1:min(20, ncol(pcs))], names.arg = seq_len(min(20, ncol(pcs))),
                      col = "steelblue", border = NA, main = "Variance explained", xlab = "PC", ylab = "%")
    graphics::par(op)
    invisible(grDevices::dev.off())
}
# An R without a working PNG device (cairo or X11 libraries missing) would
# otherwise send the plots to Rplots.pdf and name a picture that is not there.
if (!isTRUE(capabilities("png"))) {
    message("no picture: this R has no working PNG device (capabilities(\"png\") is FALSE; ",
            "install the cairo libraries R was built with)")
} else {
    draw_picture()
    if (file.exists(picture)) cat("picture:", normalizePath(picture), "\n")
    else warning("the picture ", picture, " was not written", call. = FALSE)
}
releaseDevice(out); releaseDevice(sce)
