# Helpers shared by the pipeline verbs: finding the device-backed assay, and
# adding a new layer that shares the assay's index.

# The device matrix behind an assay, in the genes x cells orientation.
.deviceAssay <- function(sce, assay.type, verb) {
    if (!is(sce, "SummarizedExperiment"))
        stop(verb, "() needs a SingleCellExperiment", call. = FALSE)
    if (!assay.type %in% assayNames(sce))
        stop(sprintf("%s(): no assay named \"%s\" (assays: %s)", verb, assay.type,
                     paste(assayNames(sce), collapse = ", ")), call. = FALSE)
    m <- assay(sce, assay.type, withDimnames = FALSE)
    if (!.isDeviceMatrix(m))
        stop(sprintf("%s(): assay \"%s\" is not on the devices; use toDevice(sce) first", verb,
                     assay.type), call. = FALSE)
    if (m@seed@transposed)
        stop(sprintf("%s(): assay \"%s\" is a transposed view (cells x genes); store the genes x cells matrix",
                     verb, assay.type), call. = FALSE)
    # In an MPI job a rank may hold no cells; the job as a whole must.
    n_cells <- .nCells(m)
    if (n_cells == 0 || nrow(m) == 0L)
        stop(sprintf("%s(): the object has %d genes and %s cells", verb, nrow(m), .plain(n_cells)),
             call. = FALSE)
    m
}

# A new device layer from a C++ handle, with the names of `like`.
.layerLike <- function(like, handle) {
    seed <- like@seed
    seed@handle <- handle
    .wrapSeed(seed)
}

# `df` with `columns` (a named list) added, or replacing those of the same
# name, as `df[[name]] <- value` would one at a time; but each of those
# rebuilds the DataFrame and walks its row names (millions of cell names)
# again. Only the list of columns changes here: lengths are checked, and a
# DataFrame with column metadata (mcols, which would grow) takes the slow way.
.withColumns <- function(df, columns) {
    if (!is.null(S4Vectors::mcols(df)) || any(lengths(columns) != nrow(df))) {
        for (name in names(columns)) df[[name]] <- columns[[name]]
        return(df)
    }
    data <- as.list(df)
    data[names(columns)] <- columns
    methods::slot(df, "listData", check = FALSE) <- data
    df
}

# Gene selections (logical, positions or names) as a logical vector.
.geneSelection <- function(sel, sce, what) {
    n <- nrow(sce)
    if (is.logical(sel)) {
        if (length(sel) != n) stop(sprintf("%s: a logical selection needs %d values", what, n),
                                   call. = FALSE)
        return(!is.na(sel) & sel)
    }
    if (is.character(sel)) {
        pos <- match(sel, rownames(sce))
        if (anyNA(pos) && "symbol" %in% names(rowData(sce)))
            pos[is.na(pos)] <- match(sel[is.na(pos)], rowData(sce)$symbol)
        if (anyNA(pos)) stop(sprintf("%s: gene not found: %s", what, sel[is.na(pos)][1]),
                             call. = FALSE)
        sel <- pos
    }
    if (!is.numeric(sel) || anyNA(sel) || any(sel < 1 | sel > n))
        stop(sprintf("%s: gene positions must lie in 1..%d", what, n), call. = FALSE)
    out <- logical(n)
    out[sel] <- TRUE
    out
}

# Stops when an assay meant to hold counts has negative values: the sum of
# min(x, 0) over each gene is negative exactly then (one pass on the devices).
# `n_positive`, the positive values of each cell when the caller has them,
# spares the pass over the values in the usual case: when they add up to the
# stored entries, every stored value is positive (no negatives, NaN or
# explicit zeros) and nothing is left to check.
.refuseNegative <- function(m, verb, assay.type, n_positive = NULL) {
    # Decided over the whole MPI job: the check below is a collective.
    if (!is.null(n_positive) && !any(m@seed@background != 0) &&
        .clusterSum(sum(deviceLayout(m)$nnz) - sum(n_positive), "checking for negative counts") == 0)
        return(invisible())
    neg <- .seedCall(m@seed, cs_column_moments, FALSE, numeric(nrow(m)))$sum < 0
    if (any(neg))
        stop(sprintf("%s(): assay \"%s\" has negative values (in %d genes, first %s); counts cannot be negative",
                     verb, assay.type, sum(neg), rownames(m)[which(neg)[1]] %||% which(neg)[1]),
             call. = FALSE)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# Whether to print progress and hints: options(cellshard.verbose), by default
# only in interactive sessions.
.verbose <- function() isTRUE(getOption("cellshard.verbose", interactive()))
