#' A picture of where an assay's shards live
#'
#' One bar per shard, one panel per device: the bar's height is the bytes of
#' the shard's index and values (what a step reads of it), its colour where the
#' shard is between steps (\code{\link{deviceLayout}}'s \code{home}): on the
#' device, in pinned host memory (copied to the device at each step), in its
#' file (read again at each step) or computed (made on the device from the
#' data it came from each time a step reads it; see \link{out-of-core}). Under
#' a memory budget it shows at a glance how much of the data streams.
#'
#' @param x A \code{SingleCellExperiment} (its assay \code{assay.type} is
#'   shown) or a device-backed matrix.
#' @param assay.type The assay to show when \code{x} is a
#'   \code{SingleCellExperiment}.
#' @return A ggplot object (ggplot2 is suggested, not imported). Its
#'   \code{data} have one row per shard: \code{deviceLayout()}'s columns, with
#'   \code{device} as a label (\code{"GPU 0"}, ..., or \code{"CPU"}) and
#'   \code{bytes}, the shard's bytes of row pointers, gene indices and values.
#'   The subtitle adds up the bytes of each home.
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'     path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#'     # a tiny budget: most shards stay in the file and stream through each step
#'     sce <- read10xH5(path, devices = "cpu", device.memory = "40KB")
#'     print(plotDeviceLayout(sce))
#' }
#' @export
plotDeviceLayout <- function(x, assay.type = "counts") {
    .needGgplot2("plotDeviceLayout")
    m <- if (is(x, "SummarizedExperiment")) .deviceAssay(x, assay.type, "plotDeviceLayout") else x
    if (!.isDeviceMatrix(m))
        stop("plotDeviceLayout(): x must be a SingleCellExperiment or a device-backed matrix ",
             "(see toDevice())", call. = FALSE)
    shards <- deviceLayout(m)
    homes <- c(device = "steelblue", pinned = "darkorange", file = "grey45", computed = "seagreen")
    label <- function(d) ifelse(d < 0, "CPU", paste("GPU", d))
    shards$device <- factor(label(shards$device), levels = label(sort(unique(shards$device))))
    shards$home <- factor(shards$home, levels = names(homes))
    # row pointers (one int64 per cell and one more), gene indices and values (4 bytes each)
    shards$bytes <- (shards$cells + 1) * 8 + shards$nnz * 8
    unit <- .byteUnit(max(shards$bytes))
    per_home <- tapply(shards$bytes, shards$home, sum)
    per_home <- per_home[!is.na(per_home) & per_home > 0]
    ggplot2::ggplot(shards, ggplot2::aes(x = .data$shard, y = .data$bytes / unit$size,
                                         fill = .data$home)) +
        ggplot2::geom_col(width = 0.85) +
        ggplot2::scale_fill_manual(values = homes, drop = FALSE, name = "home") +
        ggplot2::facet_wrap(ggplot2::vars(.data$device), scales = "free_x") +
        ggplot2::labs(title = "Where the shards live between steps",
                      subtitle = sprintf("%d shards; %s", nrow(shards),
                                         paste(.formatBytes(per_home), names(per_home),
                                               collapse = ", ")),
                      x = "shard", y = paste(unit$name, "of index and values")) +
        ggplot2::theme_bw() + ggplot2::theme(legend.position = "top")
}

# The largest unit (powers of 1000, as the budget's sizes) in which `bytes` is
# at least 1, and sizes written in their own such unit, to three digits.
.byteUnit <- function(bytes) {
    units <- c(bytes = 1, kB = 1e3, MB = 1e6, GB = 1e9, TB = 1e12)
    k <- max(1L, findInterval(bytes, units))
    list(name = names(units)[k], size = units[[k]])
}
.formatBytes <- function(bytes)
    vapply(bytes, function(b) {
        u <- .byteUnit(b)
        paste(trimws(formatC(signif(b / u$size, 3), format = "fg", digits = 3)), u$name)
    }, "")
