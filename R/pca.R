#' Principal components of the cells
#'
#' Computes the leading principal components on the devices: the Gram matrix of
#' the (sparse, possibly centred-with-background) matrix is accumulated shard by
#' shard in float64 and summed across GPUs, its leading eigenvectors are found
#' on the first device (cuSOLVER; on the CPU backend block Lanczos, checked
#' against the matrix, or LAPACK for small matrices), and the cells are
#' projected on the devices (by the loadings rounded to float32, the precision of
#' the stored values, with float64 sums). With \code{zero.center = TRUE} these are the
#' eigenvectors of the covariance matrix (1/n, as scanpy's
#' \code{covariance_eigh}); with \code{FALSE}, of \eqn{X^T X}. Signs are fixed so
#' that each component's largest-magnitude loading is positive, so runs,
#' backends and device counts agree.
#'
#' The iterative eigensolvers (Chebyshev-filtered subspace iteration on a GPU
#' from 2,000 genes, block Lanczos on the CPU from 1,000) converge a component
#' whose variance lies more than 1\% from a neighbour's to a residual of 1e-8
#' (GPU) or 1e-11 (CPU) of the largest variance: its loadings match an exact
#' solver's. One inside a flat bulk of variances, within 1\% of both
#' neighbours (the noise components of single-cell data), is converged until
#' its variance is within about 1e-6 (relative) of the exact one: its
#' direction among its neighbours' is not determined by the data to begin
#' with. Taking it no further saves about a third of the GPU solver's work,
#' and lets block Lanczos finish on the flat spectra of large data sets,
#' where it used to fall back to LAPACK's full decomposition (at 5,000
#' genes on two cores, 9 s against 67 s).
#'
#' @param sce A \code{SingleCellExperiment} with a device-backed assay.
#' @param ncomponents Number of components.
#' @param zero.center Centre each gene (covariance) or not.
#' @param subset.row Genes to use (logical, positions or names); \code{NULL} for all.
#' @param assay.type The input assay (default \code{"scaled"} when present,
#'   else \code{"logcounts"}).
#' @param name Name of the \code{reducedDim}.
#' @return \code{sce} with \code{reducedDim(sce, name)}: cells x components,
#'   a numeric matrix whose values stay on the devices until R first reads them
#'   (then they are copied once into R memory; \code{\link{toHost}} and
#'   \code{\link{releaseDevice}} do it too), with
#'   attributes \code{percentVar} (percent of the total variance of the genes
#'   used), \code{varExplained} (variance of each component, n - 1 denominator as
#'   \code{prcomp} and scater) and \code{rotation} (genes x components). scanpy's
#'   \code{variance} (1/n) and \code{variance_ratio} are kept in
#'   \code{metadata(sce)$PCA}, with \code{seconds}: the time of each phase
#'   (column moments, Gram matrix, eigensolver, projection of the cells).
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- scaleGenes(log1pTransform(normalizeTotal(sce)), max.value = 10)
#' sce <- computePCA(sce, ncomponents = 10)
#' attr(reducedDim(sce, "PCA"), "percentVar")
#' @export
computePCA <- function(sce, ncomponents = 100, zero.center = TRUE, subset.row = NULL,
                       assay.type = NULL, name = "PCA") {
    if (!is(sce, "SingleCellExperiment"))
        stop("computePCA(): sce must be a SingleCellExperiment, whose reducedDim takes the PCA ",
             "(as(sce, \"SingleCellExperiment\") converts a SummarizedExperiment)", call. = FALSE)
    if (is.null(assay.type))
        assay.type <- if ("scaled" %in% assayNames(sce)) "scaled" else "logcounts"
    m <- .deviceAssay(sce, assay.type, "computePCA")
    if (!is.null(subset.row)) m <- m[.geneSelection(subset.row, sce, "computePCA(): subset.row"), ,
                                     drop = FALSE]
    n_genes <- nrow(m); n <- .nCells(m)
    k <- as.integer(ncomponents)
    if (is.na(k) || k < 1 || k > min(n_genes, n))
        stop(sprintf("computePCA(): ncomponents must lie in 1..%d", min(n_genes, n)), call. = FALSE)
    b <- m@seed@background
    if (!length(b)) b <- numeric(n_genes)
    # Stored entries as offsets from the background: X = D + 1 b^T.
    d <- if (any(b != 0)) .layerLike(m, .seedCall(m@seed, cs_map_layer, NULL, "none", 1, NULL, -b,
                                                  -Inf, Inf)) else m
    if (.verbose() && n_genes > 2000 && all(deviceLayout(d)$device == .CPU))
        message(sprintf("computePCA(): leading eigenvectors of %d genes on the CPU (%d threads)",
                        n_genes, cs_build_info()$cpu_threads))
    clock <- function() proc.time()[["elapsed"]]
    t0 <- clock()
    mom <- .seedCall(d@seed, cs_column_moments, FALSE, NULL)
    mu <- mom$sum / n + b
    # Total variance: the diagonal of X^T X (/ n, centred), X = D + 1 b^T.
    diag_xtx <- mom$sum_sq + 2 * b * mom$sum + n * b^2
    total <- sum(if (zero.center) diag_xtx / n - mu^2 else diag_xtx)
    t1 <- clock()
    progress <- .progressReporter("computePCA")
    eig <- .seedCall(d@seed, cs_covariance_eigen, b, mom$sum, zero.center, k, progress)
    values <- eig$values
    rotation <- eig$vectors  # each column's largest-magnitude loading positive
    shift <- eig$shift  # (b - mu)^T rotation, or b^T rotation uncentred
    # rotation's only reference from here: dimnames<- below names it in place
    # rather than copying its 4 MB (1 ms at 5,000 genes)
    eig$vectors <- NULL
    t2 <- clock()
    scores <- .seedCall(d@seed, cs_multiply, rotation, shift, progress)
    seconds <- c(moments = t1 - t0, eig$seconds, projection = clock() - t2)
    if (!identical(d, m)) .freeDevice(d)
    dimnames(rotation) <- list(rownames(m), paste0("PC", seq_len(k)))
    # The scores stay on the devices until R reads them (an ALTREP matrix). One
    # assignment: each separate attr<- could copy. No row names:
    # reducedDim<- would copy the matrix to drop them; the getter adds
    # colnames(sce) when asked.
    pcs <- cs_scores_matrix(scores)
    attributes(pcs) <- list(dim = dim(pcs), dimnames = list(NULL, colnames(rotation)),
                            varExplained = values * n / (n - 1),
                            percentVar = 100 * values / total, rotation = rotation)
    sce <- .putReducedDim(sce, name, pcs)
    metadata(sce)[[name]] <- list(variance = values, variance_ratio = values / total,
                                  zero.center = zero.center, assay.type = assay.type,
                                  seconds = seconds)
    sce
}

# reducedDim(x, name, withDimnames = FALSE) <- value, without the
# updateObject(x) that SingleCellExperiment's setter runs on every call (0.03 s
# at 1.4M cells, bench/pca_parts.R): the same int_colData entry, through the
# package's exported accessors for developers. Objects from versions before
# the current layout (1.11.3) still go through updateObject first.
.putReducedDim <- function(x, name, value) {
    version <- int_metadata(x)$version
    if (is.null(version) || version < "1.11.3") x <- updateObject(x)
    if (!identical(nrow(value), ncol(x)))
        stop(sprintf("internal: %d rows for the reducedDim of %d cells", nrow(value), ncol(x)),
             call. = FALSE)
    internals <- int_colData(x)
    dims <- .withColumn(internals[["reducedDims"]], name, value)
    int_colData(x) <- .withColumn(internals, "reducedDims", dims)
    x
}

# df[[name]] <- value for a DataFrame whose rows the caller has checked
# against NROW(value). S4Vectors' `[[<-` re-merges and re-validates every
# column (0.010-0.015 s at 1.4M rows, whatever the value); a plain DFrame
# keeps its columns in the listData slot, which is replaced here the way
# `[[<-` would (a new name appended, an existing one replaced in place; the
# test compares the two). Anything else goes through `[[<-`.
.withColumn <- function(df, name, value) {
    plain <- identical(class(df), structure("DFrame", package = "S4Vectors")) &&
        is.null(S4Vectors::mcols(df))
    if (!plain) {
        df[[name]] <- value
        return(df)
    }
    columns <- df@listData
    columns[[name]] <- value
    slot(df, "listData", check = FALSE) <- columns
    df
}
