#' Normalise each cell to a common total, and take logarithms
#'
#' \code{normalizeTotal} scales every cell so that its counts add up to
#' \code{target.sum} (scanpy's \code{normalize_total}); \code{log1pTransform}
#' takes \code{log(1 + x)} (scanpy's \code{log1p}). Both run on the devices and
#' add a new assay that shares the index arrays of its input, so it costs only
#' the values.
#'
#' @param sce A \code{SingleCellExperiment} with a device-backed assay.
#' @param target.sum The total each cell is scaled to; \code{NULL} for the median
#'   of the non-zero cell totals.
#' @param exclude.highly.expressed Leave genes that make up more than
#'   \code{max.fraction} of some cell's total out of every cell's size factor
#'   (they are still scaled).
#' @param max.fraction See \code{exclude.highly.expressed}.
#' @param assay.type The input assay.
#' @param name The name of the new assay (by default \code{"normcounts"}, or
#'   \code{"logcounts"} with \code{log = TRUE}).
#' @param log Also take \code{log(1 + x)} of the normalised values, in the same
#'   pass: one new assay instead of two (what \code{runSeedPipeline} does).
#' @return \code{sce} with the new assay; \code{normalizeTotal} also records
#'   \code{target.sum} and the excluded genes in \code{metadata(sce)$normalizeTotal}.
#' @details Cells with zero counts stay zero. Values are 32-bit floats; the
#'   per-cell totals are summed in 64-bit.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- log1pTransform(normalizeTotal(sce))
#' assayNames(sce)
#' @export
normalizeTotal <- function(sce, target.sum = 1e4, exclude.highly.expressed = FALSE,
                           max.fraction = 0.05, assay.type = "counts",
                           name = if (log) "logcounts" else "normcounts", log = FALSE) {
    m <- .deviceAssay(sce, assay.type, "normalizeTotal")
    if (!is.null(target.sum) && (!is.numeric(target.sum) || length(target.sum) != 1L ||
                                 !is.finite(target.sum) || target.sum <= 0))
        stop("normalizeTotal(): target.sum must be a positive number or NULL", call. = FALSE)
    cells <- .seedCall(m@seed, cs_cell_stats)
    .refuseNegative(m, "normalizeTotal", assay.type, cells$n_positive)
    totals <- cells$sum
    excluded <- logical(nrow(sce))
    if (isTRUE(exclude.highly.expressed)) {
        if (!is.numeric(max.fraction) || max.fraction <= 0 || max.fraction > 1)
            stop("normalizeTotal(): max.fraction must lie in (0, 1]", call. = FALSE)
        excluded <- .seedCall(m@seed, cs_dominant_genes, totals, max.fraction)
        totals <- .seedCall(m@seed, cs_subset_sums, as.numeric(!excluded), 1L)[, 1]
    }
    if (is.null(target.sum)) {
        # over every rank's cells in an MPI job
        if (.clusterSum(sum(totals > 0), "counting cells with counts") == 0)
            stop("normalizeTotal(): every cell has zero counts", call. = FALSE)
        target.sum <- .clusterMedian(totals[totals > 0], "the median of the cell totals")
    }
    factor <- cs_size_factors(as.numeric(totals), target.sum)  # in C++ memory, outside R's heap
    handle <- .seedCall(m@seed, cs_map_layer, factor, if (isTRUE(log)) "log1p" else "none", 1,
                        NULL, NULL, -Inf, Inf)
    assay(sce, name, withDimnames = FALSE) <- .layerLike(m, handle)
    metadata(sce)$normalizeTotal <- list(target.sum = target.sum,
                                         excluded.genes = rownames(sce)[excluded],
                                         assay.type = assay.type)
    if (isTRUE(log)) metadata(sce)$log1p <- list(base = NULL)
    sce
}

#' @rdname normalizeTotal
#' @param base The base of the logarithm; \code{NULL} for the natural logarithm.
#' @export
log1pTransform <- function(sce, base = NULL, assay.type = "normcounts", name = "logcounts") {
    m <- .deviceAssay(sce, assay.type, "log1pTransform")
    divisor <- if (is.null(base)) 1 else {
        if (!is.numeric(base) || length(base) != 1L || base <= 0 || base == 1)
            stop("log1pTransform(): base must be a positive number other than 1", call. = FALSE)
        log(base)
    }
    handle <- .seedCall(m@seed, cs_map_layer, NULL, "log1p", divisor, NULL, NULL, -Inf, Inf)
    assay(sce, name, withDimnames = FALSE) <- .layerLike(m, handle)
    metadata(sce)$log1p <- list(base = base)
    sce
}
