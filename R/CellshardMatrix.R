#' @include CellshardSeed.R
NULL

#' Device-backed matrices for SingleCellExperiment assays
#'
#' A \code{CellshardMatrix} is a \code{DelayedMatrix} whose seed is a
#' \code{\linkS4class{CellshardSeed}}: a genes x cells view of a cells x genes
#' matrix cut into shards of cells on one or more GPUs. Any code that accepts a
#' \code{DelayedMatrix} accepts it (blocks of it come to the host on demand).
#' These methods stay on the devices and return device-backed results:
#' \code{[} (logical, integer, negative or character indices), \code{t},
#' \code{dimnames<-}, \code{colSums}, \code{rowSums}, \code{colMeans},
#' \code{rowMeans}. \code{as(x, "dgCMatrix")} and \code{as.matrix(x)} bring the
#' whole matrix to the host.
#'
#' Copies of a \code{CellshardMatrix} made in R share one device copy of the
#' data; \code{\link{releaseDevice}} frees it for all of them.
#'
#' @param x A \code{CellshardMatrix}.
#' @param i,j Row and column indices (logical, numeric or character).
#' @param ... Ignored.
#' @param drop Whether to drop dimensions of extent 1 (as for base matrices).
#' @param na.rm Ignored: device matrices hold no missing values.
#' @param dims Must be 1.
#' @param value New dimnames.
#' @return \code{[}, \code{t} and \code{dimnames<-}: a \code{CellshardMatrix}.
#'   The sums and means: numeric vectors, named after the dimension.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' x <- counts(sce)
#' x
#' x[1:10, ]
#' summary(colSums(x))
#' t(x)   # cells x genes, a view
#' @name CellshardMatrix-class
#' @aliases CellshardMatrix CellshardArray-class
#' @exportClass CellshardMatrix CellshardArray
setClass("CellshardArray", contains = "DelayedArray",
         representation(seed = "CellshardSeed"))
setClass("CellshardMatrix", contains = c("CellshardArray", "DelayedMatrix"))

setMethod("DelayedArray", "CellshardSeed",
          function(seed) new_DelayedArray(seed, Class = "CellshardArray"))
setMethod("matrixClass", "CellshardArray", function(x) "CellshardMatrix")

# Delayed operations on a CellshardMatrix give plain DelayedMatrix objects whose
# seed is an operation tree; only a bare seed is ours to handle on the devices.
.isDeviceMatrix <- function(x) is(x, "CellshardMatrix") && is(x@seed, "CellshardSeed")

.wrapSeed <- function(seed) new_DelayedArray(seed, Class = "CellshardArray")

# Positions (1-based) selected by an R subscript along a dimension of length n.
.normIndex <- function(i, n, names, what) {
    if (is.null(i)) return(NULL)
    if (is.logical(i)) {
        if (length(i) > n) stop(sprintf("logical %s subscript longer than the %d %ss", what, n, what),
                                call. = FALSE)
        if (anyNA(i)) stop(sprintf("NA in the %s subscript", what), call. = FALSE)
        return(which(if (length(i) == n) i else rep_len(i, n)))
    }
    if (is.character(i) || is.factor(i)) {
        i <- as.character(i)
        if (is.null(names)) stop(sprintf("character %s subscript, but the %ss have no names", what, what),
                                 call. = FALSE)
        pos <- match(i, names)
        if (anyNA(pos)) stop(sprintf("%s name not found: %s", what, i[is.na(pos)][1]), call. = FALSE)
        return(pos)
    }
    if (is.numeric(i)) {
        if (anyNA(i)) stop(sprintf("NA in the %s subscript", what), call. = FALSE)
        if (any(i > n)) stop(sprintf("%s index %d is out of range: there are %d %ss", what,
                                     as.integer(max(i)), n, what), call. = FALSE)
        if (all(i <= 0)) return(seq_len(n)[i])
        if (any(i < 0)) stop("cannot mix positive and negative subscripts", call. = FALSE)
        return(as.integer(i[i != 0]))
    }
    stop(sprintf("invalid %s subscript of type %s", what, class(i)[1]), call. = FALSE)
}

.subsetSeed <- function(seed, i, j) {
    dn <- seed@dimnames
    ij <- .cellsGenes(seed, i, j)
    handle <- .seedCall(seed, cs_subset, .indexOrNull(ij$cells), .indexOrNull(ij$genes))
    out <- seed
    out@handle <- handle
    out@dim <- c(if (is.null(i)) seed@dim[1] else length(i),
                 if (is.null(j)) seed@dim[2] else length(j))
    out@dimnames <- list(if (is.null(i) || is.null(dn[[1]])) dn[[1]] else dn[[1]][i],
                         if (is.null(j) || is.null(dn[[2]])) dn[[2]] else dn[[2]][j])
    if (length(seed@background) && !is.null(ij$genes)) out@background <- seed@background[ij$genes]
    out
}

#' @rdname CellshardMatrix-class
#' @export
setMethod("[", "CellshardMatrix", function(x, i, j, ..., drop = TRUE) {
    if (!.isDeviceMatrix(x)) return(callNextMethod())
    seed <- x@seed
    ii <- if (missing(i)) NULL else .normIndex(i, seed@dim[1], seed@dimnames[[1]], "row")
    jj <- if (missing(j)) NULL else .normIndex(j, seed@dim[2], seed@dimnames[[2]], "column")
    if (is.null(ii) && is.null(jj)) return(x)
    ans <- .wrapSeed(.subsetSeed(seed, ii, jj))
    if (drop && any(dim(ans) == 1L)) return(drop(as.matrix(ans)))
    ans
})

#' @rdname CellshardMatrix-class
#' @export
setMethod("t", "CellshardMatrix", function(x) {
    if (!.isDeviceMatrix(x)) return(callNextMethod())
    seed <- x@seed
    seed@transposed <- !seed@transposed
    seed@dim <- rev(seed@dim)
    seed@dimnames <- rev(seed@dimnames)
    .wrapSeed(seed)
})

#' @rdname CellshardMatrix-class
#' @export
setReplaceMethod("dimnames", "CellshardMatrix", function(x, value) {
    if (!.isDeviceMatrix(x)) return(callNextMethod())
    seed <- x@seed
    if (is.null(value)) value <- list(NULL, NULL)
    if (!is.list(value) || length(value) != 2L)
        stop("dimnames must be NULL or a list of two", call. = FALSE)
    for (k in 1:2) {
        if (!is.null(value[[k]]) && length(value[[k]]) != seed@dim[k])
            stop(sprintf("dimnames[[%d]] has length %d, but the matrix has %d", k,
                         length(value[[k]]), seed@dim[k]), call. = FALSE)
        seed@dimnames[k] <- list(.asNames(value[[k]]))
    }
    .wrapSeed(seed)
})

# Device sums cover stored values only: a matrix with a background is summed
# block by block through DelayedArray instead.
.sumsOnDevice <- function(x) .isDeviceMatrix(x) && length(x@seed@background) == 0L

# Per-cell or per-gene sums; "margin" is the R dimension kept (1 rows, 2 cols).
.marginStats <- function(x, margin) {
    seed <- x@seed
    cells_kept <- (margin == 2L) != seed@transposed
    st <- .seedCall(seed, if (cells_kept) cs_cell_stats else cs_gene_stats)
    stats::setNames(st$sum, seed@dimnames[[margin]])
}

# The length of the R dimension `dim` for a mean over it: the cells of every
# rank in an MPI job (per-gene sums are over all of them), else the extent.
.marginLength <- function(x, dim) {
    cells <- (dim == 2L) != x@seed@transposed
    if (cells) .nCells(x) else dim(x)[dim]
}

.checkDims <- function(dims) {
    if (!identical(as.integer(dims), 1L)) stop("only dims = 1 is supported", call. = FALSE)
}

#' @rdname CellshardMatrix-class
#' @export
setMethod("colSums", "CellshardMatrix", function(x, na.rm = FALSE, dims = 1) {
    if (!.sumsOnDevice(x)) return(callNextMethod())
    .checkDims(dims)
    .marginStats(x, 2L)
})

#' @rdname CellshardMatrix-class
#' @export
setMethod("rowSums", "CellshardMatrix", function(x, na.rm = FALSE, dims = 1) {
    if (!.sumsOnDevice(x)) return(callNextMethod())
    .checkDims(dims)
    .marginStats(x, 1L)
})

#' @rdname CellshardMatrix-class
#' @export
setMethod("colMeans", "CellshardMatrix", function(x, na.rm = FALSE, dims = 1) {
    if (!.sumsOnDevice(x)) return(callNextMethod())
    .checkDims(dims)
    .marginStats(x, 2L) / .marginLength(x, 1L)
})

#' @rdname CellshardMatrix-class
#' @export
setMethod("rowMeans", "CellshardMatrix", function(x, na.rm = FALSE, dims = 1) {
    if (!.sumsOnDevice(x)) return(callNextMethod())
    .checkDims(dims)
    .marginStats(x, 1L) / .marginLength(x, 2L)
})

# Whole matrix to the host as a dgCMatrix (genes x cells, or transposed).
.toDgC <- function(from) {
    seed <- from@seed
    parts <- .seedCall(seed, cs_to_csc)
    m <- new("dgCMatrix", i = parts$i, p = parts$p, x = parts$x,
             Dim = as.integer(c(parts$n_genes, parts$n_cells)))
    # Assigned after new(), which would turn character(0) names into NULL
    # where Matrix's own subsetting keeps them.
    m@Dimnames <- list(seed@dimnames[[if (seed@transposed) 2L else 1L]],
                       seed@dimnames[[if (seed@transposed) 1L else 2L]])
    if (seed@transposed) Matrix::t(m) else m
}

setAs("CellshardMatrix", "dgCMatrix", function(from) {
    if (!.sumsOnDevice(from)) return(as(as.matrix(from), "dgCMatrix"))
    .toDgC(from)
})
setAs("CellshardMatrix", "CsparseMatrix", function(from) as(from, "dgCMatrix"))
setAs("CellshardMatrix", "sparseMatrix", function(from) as(from, "dgCMatrix"))

setMethod("show", "CellshardMatrix", function(object) {
    if (!.isDeviceMatrix(object)) return(callNextMethod())
    seed <- object@seed
    if (!cs_handle_valid(seed@handle)) {
        cat(sprintf("<%d x %d> CellshardMatrix whose device data is gone (released or reloaded). %s\n",
                    nrow(object), ncol(object), .reloadHint(seed@source)))
        return(invisible(object))
    }
    lay <- cs_matrix_layout(seed@handle)
    cat(sprintf("<%d x %d> CellshardMatrix: %s non-zeros in %d shard%s on %s\n",
                nrow(object), ncol(object), format(lay$nnz, big.mark = ","),
                length(lay$shard_cells), if (length(lay$shard_cells) == 1L) "" else "s",
                .describeDevices(lay$shard_device)))
    invisible(callNextMethod())
})

.describeDevices <- function(devs) {
    devs <- unique(devs)
    if (identical(devs, .CPU)) return("the CPU")
    paste0("GPU", if (length(devs) > 1L) "s " else " ", paste(devs, collapse = ","))
}
