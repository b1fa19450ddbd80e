#' Send counts to the devices, or bring them back
#'
#' \code{toDevice} turns an in-memory matrix (a \code{dgCMatrix}, any other
#' \code{Matrix}, or a base numeric matrix; genes x cells) or every assay of a
#' \code{SingleCellExperiment} into device-backed
#' \code{\linkS4class{CellshardMatrix}} assays: the cells are cut into
#' contiguous shards spread over \code{devices}, each shard a CSR block with
#' 64-bit row pointers. \code{toHost} does the reverse, giving \code{dgCMatrix}
#' assays and ordinary matrices for the \code{reducedDims} (PCA scores) that
#' were on the devices.
#'
#' @param x A matrix, a \code{CellshardMatrix}, or a \code{SingleCellExperiment}.
#' @param devices \code{NULL} (every visible GPU, or the CPU backend when there is
#'   none), \code{"cpu"}, \code{"gpu"}, or 0-based GPU numbers such as \code{0:1}.
#' @param shards Number of shards (default one per device), balanced by
#'   non-zeros; or a vector giving the number of cells of each shard. Shards are
#'   placed on the devices in turn; a device may hold several.
#' @param assays For a \code{SingleCellExperiment}: names of the assays to move
#'   (default all).
#' @return \code{toDevice}: a \code{CellshardMatrix}, or the
#'   \code{SingleCellExperiment} with device-backed assays. \code{toHost}: a
#'   \code{dgCMatrix}, or the \code{SingleCellExperiment} with \code{dgCMatrix}
#'   assays.
#' @details Values are stored as 32-bit floats, as in scanpy and
#'   rapids-singlecell; counts below 2^24 are exact. NaN, NA and infinite values
#'   are refused with an error. In an MPI job (\code{\link{cellshardInit}})
#'   each rank sends what it holds, which should be its own cells only: the
#'   verbs treat the ranks' cells together as one matrix.
#' @examples
#' path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#' host <- toHost(read10xH5(path, devices = "cpu"))   # dgCMatrix counts in host memory
#' class(counts(host))
#' sce <- toDevice(host, devices = "cpu", shards = 3)  # back onto the devices
#' deviceLayout(counts(sce))
#' identical(as(counts(sce), "dgCMatrix"), counts(host))
#' @export
toDevice <- function(x, devices = NULL, shards = NULL, assays = NULL) {
    devs <- .resolveDevices(devices)
    if (is(x, "SummarizedExperiment")) {
        names <- if (is.null(assays)) assayNames(x) else assays
        sent <- list()  # assays already on the devices, to share their index
        for (a in names) {
            m <- assay(x, a, withDimnames = FALSE)
            twin <- Find(function(s) .samePattern(s$host, m), sent)
            dev <- if (is.null(twin)) toDevice(m, devs, shards) else .withValues(twin$device, m)
            if (is.null(twin) && is(m, "dgCMatrix")) sent[[length(sent) + 1L]] <- list(host = m, device = dev)
            assay(x, a, withDimnames = FALSE) <- dev
        }
        return(x)
    }
    if (.isDeviceMatrix(x)) return(rebalance(x, devices = devs, shards = shards))
    .matrixToDevice(x, devs, .resolveShards(shards, devs))
}

.matrixToDevice <- function(x, devs, sh) {
    dn <- dimnames(x)
    if (is(x, "DelayedArray")) x <- as(x, "dgCMatrix")
    if (is.matrix(x) && !is.numeric(x) && !is.logical(x))
        stop("counts must be numeric, not ", typeof(x), call. = FALSE)
    if (is.matrix(x)) {
        storage.mode(x) <- "double"
        handle <- .deviceCall(cs_from_dense(x, devs, sh$n, sh$cells))
    } else if (is(x, "Matrix")) {
        x <- as(as(as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
        handle <- .deviceCall(cs_from_csc(x@i, x@p, x@x, nrow(x), ncol(x), devs, sh$n, sh$cells))
    } else {
        stop("cannot send an object of class ", class(x)[1], " to the devices", call. = FALSE)
    }
    .wrapSeed(.newSeed(handle, dn[[1]], dn[[2]]))
}

# Assays with one sparsity pattern (counts and a transform of them) share the
# device index, so keeping both costs only the second one's values.
.samePattern <- function(a, b) {
    is(b, "dgCMatrix") && identical(dim(a), dim(b)) && identical(a@p, b@p) && identical(a@i, b@i)
}

.withValues <- function(like, m) {
    seed <- like@seed
    seed@handle <- .seedCall(seed, cs_with_values, m@x)
    seed@dimnames <- list(.asNames(rownames(m)), .asNames(colnames(m)))
    .wrapSeed(seed)
}

#' @rdname toDevice
#' @export
toHost <- function(x, assays = NULL) {
    if (is(x, "SummarizedExperiment")) {
        names <- if (is.null(assays)) assayNames(x) else assays
        for (a in names) {
            m <- assay(x, a, withDimnames = FALSE)
            if (is(m, "CellshardMatrix")) assay(x, a, withDimnames = FALSE) <- as(m, "dgCMatrix")
        }
        if (is(x, "SingleCellExperiment"))
            for (r in reducedDimNames(x))
                cs_scores_to_host(reducedDim(x, r, withDimnames = FALSE))
        return(x)
    }
    if (is(x, "CellshardMatrix")) return(as(x, "dgCMatrix"))
    x
}

#' Free device memory now
#'
#' Releases the device memory behind a \code{CellshardMatrix} or behind every
#' device-backed assay of a \code{SingleCellExperiment}, without waiting for R's
#' garbage collector (which does not see device memory). Every R copy of the
#' object refers to the same device data, so all of them become unusable: they
#' then raise an error that says how to reload the data. Assays that share an
#' index (for example \code{counts} and \code{logcounts}) keep it until the last
#' of them is released. PCA scores (\code{reducedDims} written by
#' \code{\link{computePCA}}) are first copied into R memory, so they stay
#' usable. GPU memory that cellshard freed and kept for reuse
#' (see \code{\link{deviceMemory}}) then goes back to the driver, for other
#' programs on the same GPUs.
#'
#' @param x A \code{CellshardMatrix} or a \code{SingleCellExperiment}.
#' @return \code{x}, invisibly.
#' @examples
#' path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#' sce <- read10xH5(path, devices = "cpu")
#' releaseDevice(sce)
#' try(colSums(counts(sce)))   # the data is gone; the error says how to reload it
#' @export
releaseDevice <- function(x) {
    if (is(x, "SummarizedExperiment")) {
        for (a in assayNames(x)) .freeDevice(assay(x, a, withDimnames = FALSE))
        if (is(x, "SingleCellExperiment"))
            for (r in reducedDimNames(x)) cs_scores_to_host(reducedDim(x, r, withDimnames = FALSE))
    } else {
        .freeDevice(x)
        cs_scores_to_host(x)
    }
    cs_release_unused_device_memory()  # once, after everything is freed
    invisible(x)
}

# Frees a device matrix's data; the memory stays in cellshard's pool for the
# next allocation (the verbs' own temporaries use this, not releaseDevice).
.freeDevice <- function(x) {
    if (.isDeviceMatrix(x)) cs_free(x@seed@handle)
}

#' Even out the shards across devices
#'
#' Moves cells so that each shard holds an equal share of cells, like the
#' rechunk step of the rapids-singlecell multi-GPU workflow after filtering.
#' Assays of a \code{SingleCellExperiment} that shared an index keep sharing it.
#' In an MPI job cells move only between the devices of their rank.
#'
#' @inheritParams toDevice
#' @return An object of the same class as \code{x}, with new device data.
#' @examples
#' path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#' sce <- read10xH5(path, devices = "cpu", shards = 3)
#' kept <- sce[, colSums(counts(sce)) >= 50]   # the filter leaves uneven shards
#' deviceLayout(counts(kept))
#' deviceLayout(counts(rebalance(kept, shards = 3)))   # equal shares again
#' @export
rebalance <- function(x, devices = NULL, shards = NULL) {
    if (is(x, "SummarizedExperiment")) {
        for (a in assayNames(x)) {
            m <- assay(x, a, withDimnames = FALSE)
            if (.isDeviceMatrix(m))
                assay(x, a, withDimnames = FALSE) <- rebalance(m, devices, shards)
        }
        return(x)
    }
    if (!.isDeviceMatrix(x)) stop("rebalance() needs a device-backed matrix; see toDevice()",
                                  call. = FALSE)
    seed <- x@seed
    devs <- if (is.null(devices)) unique(deviceLayout(x)$device) else .resolveDevices(devices)
    # no shards at all (an MPI rank left without cells): the default devices
    if (!length(devs)) devs <- .defaultDevices()
    sh <- .resolveShards(shards, devs)
    seed@handle <- .seedCall(seed, cs_rebalance, devs, sh$n, sh$cells)
    .wrapSeed(seed)
}

#' How a device-backed matrix is laid out
#'
#' @param x A \code{CellshardMatrix}.
#' @return A data frame with one row per shard: \code{shard}, \code{device}
#'   (-1 for the CPU backend), \code{first_cell}, \code{cells}, \code{nnz},
#'   and \code{home}: where the shard is between steps, \code{"device"},
#'   \code{"pinned"} (host memory, streamed through the device at each step),
#'   \code{"file"} (read again from its file at each step) or
#'   \code{"computed"} (kept nowhere: a normalisation, log or scaling of a
#'   streamed shard, or a subset of one, computed on the device from the
#'   layer it came from each time a step reads it; see \link{out-of-core}).
#' @examples
#' path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#' deviceLayout(counts(read10xH5(path, devices = "cpu", shards = 2)))
#' @export
deviceLayout <- function(x) {
    if (!.isDeviceMatrix(x)) stop("not a device-backed matrix", call. = FALSE)
    lay <- .seedCall(x@seed, cs_matrix_layout)
    n <- length(lay$shard_cells)
    data.frame(shard = seq_len(n), device = lay$shard_device,
               first_cell = cumsum(c(1, lay$shard_cells))[seq_len(n)],
               cells = lay$shard_cells, nnz = lay$shard_nnz, home = lay$shard_home)
}
