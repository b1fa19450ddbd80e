#' Gather per-cell results of an MPI job on one rank
#'
#' In an MPI job (\code{\link{cellshardInit}}) each rank holds its own cells,
#' so its \code{colData} and \code{reducedDim}s cover only them. These
#' functions bring every rank's cells, in rank order (which is the order of
#' the cells in the file), to one rank. Every rank must call them (they are
#' collective); the others get \code{NULL}. Without MPI they return the
#' process's own results in the same form, so a script runs unchanged.
#'
#' \code{gatherReducedDim} gathers one embedding (cells x components), keeping
#' its attributes (\code{percentVar}, \code{varExplained}, \code{rotation}:
#' the same on every rank). \code{gatherCells} gathers a
#' \code{SingleCellExperiment} of all cells with \code{colData}, every
#' \code{reducedDim}, \code{rowData} and \code{metadata} (of the root rank,
#' per-gene results being the same everywhere), and the named assays brought
#' to host memory (\code{dgCMatrix}): meant for results that fit one machine.
#'
#' @param sce A \code{SingleCellExperiment}, this rank's share of the cells.
#' @param name The \code{reducedDim} to gather.
#' @param assays Names of assays to gather into host memory (none by default).
#' @param root The rank that receives the result (0-based).
#' @return On \code{root}: \code{gatherReducedDim}, a numeric matrix with one
#'   row per cell of the whole job; \code{gatherCells}, a
#'   \code{SingleCellExperiment} of every cell. \code{NULL} on the other ranks.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- runSeedPipeline(sce, min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 10)
#' pcs <- gatherReducedDim(sce, "PCA")
#' all <- gatherCells(sce, assays = "counts")
#' if (!is.null(all)) dim(all)
#' @export
gatherReducedDim <- function(sce, name = "PCA", root = 0L) {
    if (!name %in% reducedDimNames(sce))
        stop(sprintf("gatherReducedDim(): no reducedDim named \"%s\" (there are: %s)", name,
                     paste(reducedDimNames(sce), collapse = ", ")), call. = FALSE)
    x <- reducedDim(sce, name)
    root <- .checkRoot(root, "gatherReducedDim")
    parts <- .clusterGather(list(x = unname(x), cells = colnames(sce)),
                            sprintf("gathering reducedDim \"%s\"", name), root)
    if (is.null(parts)) return(invisible(NULL))
    .bindRows(lapply(parts, `[[`, "x"), x, rownames = unlist(lapply(parts, `[[`, "cells")))
}

#' @rdname gatherReducedDim
#' @export
gatherCells <- function(sce, assays = character(), root = 0L) {
    if (!is(sce, "SingleCellExperiment")) stop("gatherCells() needs a SingleCellExperiment",
                                               call. = FALSE)
    missing_assays <- setdiff(assays, assayNames(sce))
    if (length(missing_assays))
        stop(sprintf("gatherCells(): no assay named \"%s\"", missing_assays[1]), call. = FALSE)
    root <- .checkRoot(root, "gatherCells")
    host <- lapply(stats::setNames(assays, assays), function(a) {
        m <- assay(sce, a, withDimnames = FALSE)
        if (.isDeviceMatrix(m) || is(m, "DelayedArray")) m <- as(m, "dgCMatrix")
        dimnames(m) <- list(NULL, NULL)
        m
    })
    mine <- list(colData = colData(sce), reducedDims = lapply(reducedDims(sce), unname),
                 assays = host)
    parts <- .clusterGather(mine, "gathering the cells", root)
    if (is.null(parts)) return(invisible(NULL))
    cd <- do.call(rbind, lapply(parts, `[[`, "colData"))
    rd <- lapply(stats::setNames(reducedDimNames(sce), reducedDimNames(sce)), function(n)
        .bindRows(lapply(parts, function(p) p$reducedDims[[n]]), reducedDim(sce, n),
                  rownames = rownames(cd)))
    gathered <- lapply(stats::setNames(assays, assays), function(a) {
        m <- do.call(cbind, lapply(parts, function(p) p$assays[[a]]))
        dimnames(m) <- list(rownames(sce), rownames(cd))
        m
    })
    out <- SingleCellExperiment::SingleCellExperiment(assays = gathered, colData = cd,
                                                      rowData = rowData(sce),
                                                      metadata = metadata(sce))
    if (is.null(rownames(out))) rownames(out) <- rownames(sce)
    reducedDims(out) <- rd
    out
}

.checkRoot <- function(root, verb) {
    size <- cs_cluster_state()$size
    if (!is.numeric(root) || length(root) != 1L || is.na(root) || root != round(root) ||
        root < 0 || root >= size)
        stop(sprintf("%s(): root must be a rank in 0..%d", verb, size - 1L), call. = FALSE)
    as.integer(root)
}

# Stacks per-rank matrices, keeping the attributes of `like` (rotation,
# percentVar, ...: the same on every rank) and naming the rows.
.bindRows <- function(parts, like, rownames) {
    out <- do.call(rbind, parts)
    keep <- setdiff(names(attributes(like)), c("dim", "dimnames"))
    for (a in keep) attr(out, a) <- attr(like, a)
    dimnames(out) <- list(rownames, colnames(like))
    out
}
