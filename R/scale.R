#' Scale each gene to unit variance
#'
#' Divides each gene by its standard deviation (ddof 1; a constant gene's sd is
#' taken as 1) and, with \code{zero.center = TRUE}, subtracts its mean first, as
#' scanpy's \code{scale}. Runs on the devices. The zero-centred result reads as a
#' dense matrix but is kept sparse: each gene's value at the cells where it was
#' not detected is one number per gene (its "background"), so nothing of size
#' cells x genes is materialised.
#'
#' @param sce A \code{SingleCellExperiment} with a device-backed assay.
#' @param zero.center Subtract each gene's mean.
#' @param max.value Clip values above this.
#' @param min.value When zero-centred, clip values below this (default
#'   \code{-max.value}, as scanpy; Seurat's \code{ScaleData} clips only above,
#'   which is \code{min.value = -Inf}).
#' @param assay.type The input assay.
#' @param name The name of the new assay.
#' @return \code{sce} with the new assay, and \code{rowData} columns \code{mean}
#'   and \code{std} (after replacing 0 by 1).
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- scaleGenes(log1pTransform(normalizeTotal(sce)), max.value = 10)
#' @export
scaleGenes <- function(sce, zero.center = TRUE, max.value = Inf, min.value = -max.value,
                       assay.type = "logcounts", name = "scaled") {
    m <- .deviceAssay(sce, assay.type, "scaleGenes")
    if (length(m@seed@background))
        stop("scaleGenes(): assay \"", assay.type, "\" is already centred", call. = FALSE)
    if (!is.numeric(max.value) || length(max.value) != 1L || is.na(max.value) || max.value <= 0)
        stop("scaleGenes(): max.value must be a positive number (Inf for no clipping)", call. = FALSE)
    if (!is.numeric(min.value) || length(min.value) != 1L || is.na(min.value) || min.value >= 0)
        stop("scaleGenes(): min.value must be a negative number (-Inf for no clipping)", call. = FALSE)
    mv <- .geneMeanVar(m)
    std <- sqrt(mv$var)
    std[std == 0] <- 1
    if (zero.center) {
        handle <- .seedCall(m@seed, cs_map_layer, NULL, "none", 1, 1 / std, -mv$mean / std,
                            min.value, max.value)
        layer <- .layerLike(m, handle)
        layer@seed@background <- pmin(pmax(-mv$mean / std, min.value), max.value)
    } else {
        handle <- .seedCall(m@seed, cs_map_layer, NULL, "none", 1, 1 / std, NULL, -Inf, max.value)
        layer <- .layerLike(m, handle)
    }
    assay(sce, name, withDimnames = FALSE) <- layer
    rowData(sce) <- .withColumns(rowData(sce), list(mean = mv$mean, std = std))
    metadata(sce)$scaleGenes <- list(zero.center = zero.center, max.value = max.value,
                                     min.value = if (zero.center) min.value else NULL,
                                     assay.type = assay.type)
    sce
}

# Per-gene mean and variance (ddof 1) over all cells, in float64.
.geneMeanVar <- function(m, expm1 = FALSE) {
    mom <- .seedCall(m@seed, cs_column_moments, expm1, NULL)
    n <- .nCells(m)
    mean <- mom$sum / n
    var <- if (n > 1) pmax(0, (mom$sum_sq - n * mean^2) / (n - 1)) else rep(0, length(mean))
    list(mean = mean, var = var)
}
