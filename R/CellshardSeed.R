#' The device-backed seed under a CellshardMatrix
#'
#' A \code{CellshardSeed} is a DelayedArray seed whose data lives in cell-sharded
#' CSR matrices on the GPUs (or in host memory on the CPU backend). The C++ side
#' owns the memory; the seed holds a handle to it. Users meet it only through
#' \code{\linkS4class{CellshardMatrix}}.
#'
#' @slot handle External pointer to the C++ matrix (cells x genes).
#' @slot dim Dimensions as R sees them: genes x cells unless \code{transposed}.
#' @slot dimnames List of two character vectors or \code{NULL}s.
#' @slot transposed \code{TRUE} when the R view is cells x genes.
#' @slot source Where the data came from (\code{format}, \code{path}), used to
#'   say how to reload it when the handle is gone.
#' @slot background Per-gene value of the entries that are not stored (empty:
#'   zero). Zero-centred scaling gives every gene its own background, so the
#'   scaled matrix stays sparse on the devices while reading as dense.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' seed <- DelayedArray::seed(counts(sce))
#' class(seed)
#' dim(seed)
#' # what Bioconductor's block processing calls: a dense block on the host
#' top <- head(order(rowSums(counts(sce)), decreasing = TRUE), 5)
#' DelayedArray::extract_array(seed, list(top, 1:3))
#' DelayedArray::is_sparse(seed)
#' @name CellshardSeed-class
#' @aliases CellshardSeed
#' @exportClass CellshardSeed
setClass("CellshardSeed",
    slots = c(handle = "externalptr", dim = "integer", dimnames = "list",
              transposed = "logical", source = "list", background = "numeric"))

setValidity("CellshardSeed", function(object) {
    if (length(object@dim) != 2L) return("dim must have length 2")
    if (length(object@dimnames) != 2L) return("dimnames must be a list of length 2")
    TRUE
})

# A seed over a new handle: genes x cells view of a cells x genes matrix.
.newSeed <- function(handle, genes = NULL, cells = NULL, source = list()) {
    lay <- cs_matrix_layout(handle)
    if (lay$n_genes > .Machine$integer.max || lay$n_cells > .Machine$integer.max)
        stop("more than 2^31 - 1 genes or cells cannot be represented in R", call. = FALSE)
    new("CellshardSeed", handle = handle,
        dim = as.integer(c(lay$n_genes, lay$n_cells)),
        dimnames = list(.asNames(genes), .cellNames(cells)),
        transposed = FALSE, source = as.list(source))
}

.asNames <- function(x) if (is.null(x)) NULL else as.character(x)

# Cell names whose subsets copy no strings (src/r_names.cpp): the filter
# subsets them twice, in colData and in the assay.
.cellNames <- function(x) if (is.null(x)) NULL else cs_lazy_names(as.character(x))

# The (gene, cell) index pair in the C++ orientation for an R-side (row, col) pair.
.cellsGenes <- function(seed, i, j) {
    if (seed@transposed) list(cells = i, genes = j) else list(cells = j, genes = i)
}

.seedCall <- function(seed, f, ...) .deviceCall(f(seed@handle, ...), source = seed@source)

#' @importFrom BiocGenerics t colSums rowSums colMeans rowMeans
NULL

#' @rdname CellshardSeed-class
#' @return \code{dim}, \code{dimnames}: those of the R view.
#' @export
setMethod("dim", "CellshardSeed", function(x) x@dim)

#' @rdname CellshardSeed-class
#' @export
setMethod("dimnames", "CellshardSeed", function(x) {
    if (all(vapply(x@dimnames, is.null, logical(1)))) NULL else x@dimnames
})

#' @rdname CellshardSeed-class
#' @param x A \code{CellshardSeed}.
#' @param index A list of two integer vectors (or \code{NULL}s) as DelayedArray
#'   passes them.
#' @return \code{extract_array}: an ordinary numeric matrix.
#' @export
setMethod("extract_array", "CellshardSeed", function(x, index) {
    if (length(x@background)) return(.extractWithBackground(x, index))
    ij <- .cellsGenes(x, index[[1L]], index[[2L]])
    out <- .seedCall(x, cs_extract_dense, .indexOrNull(ij$cells), .indexOrNull(ij$genes))
    if (x@transposed) t(out) else out
})

#' @rdname CellshardSeed-class
#' @return \code{is_sparse}: \code{TRUE} unless the seed has a background.
#' @export
setMethod("is_sparse", "CellshardSeed", function(x) length(x@background) == 0L)

# Dense block of a seed whose unstored entries hold a per-gene background.
.extractWithBackground <- function(x, index) {
    ij <- .cellsGenes(x, index[[1L]], index[[2L]])
    genes <- if (is.null(ij$genes)) seq_along(x@background) else ij$genes
    n_cells <- if (is.null(ij$cells)) x@dim[if (x@transposed) 1L else 2L] else length(ij$cells)
    out <- matrix(x@background[genes], nrow = length(genes), ncol = n_cells)
    nz <- .seedCall(x, cs_extract_sparse, .indexOrNull(ij$cells), .indexOrNull(ij$genes))
    out[cbind(nz$gene, nz$cell)] <- nz$x
    if (x@transposed) t(out) else out
}

#' @rdname CellshardSeed-class
#' @return \code{extract_sparse_array}: a \code{SparseArraySeed} of the block.
#' @export
setMethod("extract_sparse_array", "CellshardSeed", function(x, index) {
    ij <- .cellsGenes(x, index[[1L]], index[[2L]])
    nz <- .seedCall(x, cs_extract_sparse, .indexOrNull(ij$cells), .indexOrNull(ij$genes))
    d <- vapply(seq_along(index), function(k)
        if (is.null(index[[k]])) x@dim[k] else length(index[[k]]), integer(1))
    coords <- if (x@transposed) cbind(nz$cell, nz$gene) else cbind(nz$gene, nz$cell)
    SparseArraySeed(d, nzindex = coords, nzdata = nz$x, check = FALSE)
})

# Indices for C++: integers as they are (no 8-byte copy of millions of cell
# indices), anything else as doubles.
.indexOrNull <- function(i) if (is.null(i) || is.integer(i)) i else as.numeric(i)

setMethod("show", "CellshardSeed", function(object) {
    cat(sprintf("<%d x %d> CellshardSeed%s\n", object@dim[1], object@dim[2],
                if (object@transposed) " (transposed view)" else ""))
})
