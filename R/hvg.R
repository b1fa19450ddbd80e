#' Highly variable genes
#'
#' Finds highly variable genes as scanpy's \code{highly_variable_genes} does.
#' The per-gene sums over cells run on the devices (float64); the binning,
#' normalisation, loess and ranking run on the host in float64.
#'
#' @param sce A \code{SingleCellExperiment} with a device-backed assay.
#' @param n.top Number of genes to select; \code{NULL} to select by the cut-offs
#'   (\code{cell_ranger} and \code{seurat} only).
#' @param flavor \code{"cell_ranger"} and \code{"seurat"} work on log-normalised
#'   values (\code{seurat} takes \code{expm1} first, respecting the base of
#'   \code{log1pTransform}); \code{"seurat_v3"} and \code{"seurat_v3_paper"} on
#'   raw counts.
#' @param batch A vector with one batch label per cell, or the name of a
#'   \code{colData} column; \code{NULL} for none.
#' @param subset Return only the selected genes.
#' @param assay.type Input assay (default \code{"logcounts"}, or \code{"counts"}
#'   for the \code{seurat_v3} flavours).
#' @param min.mean,max.mean,min.disp,max.disp Cut-offs used when \code{n.top}
#'   is \code{NULL}.
#' @param n.bins Number of bins of mean expression (\code{seurat}).
#' @param span Loess span (\code{seurat_v3} flavours).
#' @return \code{sce} (or its selected genes, with \code{subset = TRUE}) with
#'   \code{rowData} columns \code{highly_variable} and \code{means}, and
#'   \code{dispersions}, \code{dispersions_norm} (\code{cell_ranger},
#'   \code{seurat}) or \code{variances}, \code{variances_norm},
#'   \code{highly_variable_rank} (\code{seurat_v3} flavours); with batches also
#'   \code{highly_variable_nbatches} and, for \code{cell_ranger} and
#'   \code{seurat}, \code{highly_variable_intersection}. The parameters go to
#'   \code{metadata(sce)$highlyVariableGenes}.
#' @details With \code{n.top}, \code{cell_ranger} and \code{seurat} select every
#'   gene whose normalised dispersion reaches the n-th largest, so ties can give
#'   more than \code{n.top} genes; the \code{seurat_v3} flavours select exactly
#'   \code{n.top}. Where percentile bins of \code{cell_ranger} coincide, scanpy
#'   stops with an error; cellshard merges them and warns.
#' @section With scran:
#' \code{scran::getTopHVGs} reads these statistics from \code{rowData}: give
#' it the column to rank by and no variance threshold (its default keeps only
#' positive values, which drops genes of below-median normalised dispersion):
#' \preformatted{
#' scran::getTopHVGs(rowData(sce), var.field = "dispersions_norm", n = 2000,
#'                   var.threshold = NULL)   # cell_ranger, seurat
#' scran::getTopHVGs(rowData(sce), var.field = "variances_norm", n = 2000,
#'                   var.threshold = NULL)   # seurat_v3 flavours
#' }
#' With the same \code{n} these are the genes of \code{highly_variable}
#' (for \code{cell_ranger} and \code{seurat}, unless genes tie at the
#' cut-off, where cellshard keeps them all). \code{scran::getTopHVGs(sce)}
#' itself runs \code{scran::modelGeneVar} on the \code{logcounts}, which
#' reads the device-backed assay block by block on the host.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- log1pTransform(normalizeTotal(sce))
#' sce <- highlyVariableGenes(sce, n.top = 50)
#' sum(rowData(sce)$highly_variable)
#' @export
highlyVariableGenes <- function(sce, n.top = 5000,
                                flavor = c("cell_ranger", "seurat", "seurat_v3", "seurat_v3_paper"),
                                batch = NULL, subset = FALSE, assay.type = NULL,
                                min.mean = 0.0125, max.mean = 3, min.disp = 0.5, max.disp = Inf,
                                n.bins = 20, span = 0.3) {
    flavor <- match.arg(flavor)
    v3 <- flavor %in% c("seurat_v3", "seurat_v3_paper")
    if (is.null(assay.type)) assay.type <- if (v3) "counts" else "logcounts"
    m <- .deviceAssay(sce, assay.type, "highlyVariableGenes")
    if (v3 && is.null(n.top)) stop("highlyVariableGenes(): the seurat_v3 flavours need n.top", call. = FALSE)
    labels <- .batchLabels(batch, sce)
    if (flavor == "seurat") m <- .linearScale(m, metadata(sce)$log1p$base)
    cutoffs <- list(min.mean = min.mean, max.mean = max.mean, min.disp = min.disp, max.disp = max.disp)

    res <- if (v3) .hvgV3(m, labels, n.top, flavor, span) else
        .hvgDispersion(m, labels, n.top, flavor, cutoffs, n.bins)
    rowData(sce) <- .withColumns(rowData(sce), as.list(res))
    metadata(sce)$highlyVariableGenes <- c(list(flavor = flavor, n.top = n.top,
                                                batch = if (is.null(labels)) NULL else levels(labels),
                                                assay.type = assay.type),
                                           if (is.null(n.top) && !v3) cutoffs)
    if (subset) sce <- sce[res$highly_variable, ]
    sce
}

# Batch labels as a factor over cells, or NULL.
.batchLabels <- function(batch, sce) {
    if (is.null(batch)) return(NULL)
    if (is.character(batch) && length(batch) == 1L && ncol(sce) != 1L) {
        if (!batch %in% names(colData(sce)))
            stop("highlyVariableGenes(): no colData column named \"", batch, "\"", call. = FALSE)
        batch <- colData(sce)[[batch]]
    }
    if (length(batch) != ncol(sce) || anyNA(batch))
        stop("highlyVariableGenes(): batch needs one non-missing label per cell", call. = FALSE)
    if (!.clusterActive()) return(factor(batch))
    # In an MPI job each rank sees only some batches: the levels are those of
    # all ranks, in the order factor() gives them in one process.
    mine <- if (is.factor(batch)) as.character(unique(batch)) else unique(batch)
    used <- unique(unlist(.clusterAllgather(mine, "sharing the batch labels")))
    levels <- if (is.factor(batch)) levels(batch)[levels(batch) %in% used] else
        levels(factor(used))
    factor(batch, levels = levels)
}

# For flavor "seurat": values on the natural-log scale before expm1 (scanpy
# multiplies by log(base) when log1p was taken in another base).
.linearScale <- function(m, base) {
    if (is.null(base)) return(m)
    .layerLike(m, .seedCall(m@seed, cs_map_layer, NULL, "none", 1, rep(log(base), nrow(m)), NULL,
                            -Inf, Inf))
}

# cell_ranger and seurat: per-gene moments, per batch when there are batches.
.hvgDispersion <- function(m, labels, n.top, flavor, cutoffs, n.bins) {
    stats_of <- function(x) {
        mv <- .geneMeanVar(x, expm1 = flavor == "seurat")
        if (flavor == "seurat")
            do.call(.hvgSeurat, c(list(mv$mean, mv$var, n.top = n.top, n.bins = n.bins), cutoffs)) else
            do.call(.hvgCellRanger, c(list(mv$mean, mv$var, n.top = n.top), cutoffs))
    }
    if (is.null(labels)) return(stats_of(m))
    per_batch <- lapply(levels(labels), function(b) {
        xb <- m[, labels == b, drop = FALSE]
        detected <- .seedCall(xb@seed, cs_gene_stats)$n_positive > 0
        .hvgFillUndetected(stats_of(xb[detected, , drop = FALSE]), detected, genes = rownames(m))
    })
    do.call(.hvgCombineBatches, c(list(per_batch, n.top = n.top), cutoffs))
}

# seurat_v3 and seurat_v3_paper: loess trend, a second pass for the clipped
# moments, ranks per batch.
.hvgV3 <- function(m, labels, n.top, flavor, span) {
    norm_of <- function(x, mv = .geneMeanVar(x)) {
        n <- .nCells(x)
        clip <- .seuratV3Clip(mv$mean, mv$var, n, span = span)
        mom <- .seedCall(x@seed, cs_column_moments, FALSE, clip$clip)
        .seuratV3Finish(mv$mean, mv$var, clip$reg_std, mom$sum, mom$sum_sq, n)
    }
    mv <- .geneMeanVar(m)  # reported for all cells; also the one batch's moments without batches
    norms <- if (is.null(labels)) matrix(norm_of(m, mv), ncol = 1) else
        vapply(levels(labels), function(b) norm_of(m[, labels == b, drop = FALSE]), numeric(nrow(m)))
    sel <- .seuratV3Select(norms, n.top, flavor)
    out <- data.frame(means = mv$mean, variances = mv$var, variances_norm = sel$variances_norm,
                      highly_variable_rank = sel$highly_variable_rank,
                      highly_variable = sel$highly_variable)
    if (!is.null(labels)) out$highly_variable_nbatches <- sel$highly_variable_nbatches
    out
}
