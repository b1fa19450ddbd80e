#' Read count matrices straight onto the devices
#'
#' Each reader streams the matrix from its file into cell-sharded CSR blocks on
#' the devices: chunks of cells are read, checked and uploaded in turn (the next
#' chunk is read while the previous one is being copied), so host memory stays
#' bounded by a few chunks. A progress bar shows for files of many chunks, and a
#' read can be interrupted. Corrupt, truncated or inconsistent files give an
#' error that names the file and the problem; nothing is left on the devices.
#'
#' A matrix larger than the devices' memory budget (\code{device.memory})
#' is read all the same: the shards over the budget stay in pinned host
#' memory, or, when host memory is short too (or on the CPU backend, for CSR
#' h5ad matrices and 10x HDF5 files), in the file, and every step streams
#' them through the devices (\link{out-of-core}).
#'
#' In an MPI job (\code{\link{cellshardInit}}) each rank reads only its own
#' contiguous share of the cells, in rank order: shares of about equal
#' non-zeros for CSR matrices (h5ad \code{csr_matrix}, 10x HDF5), of equal
#' numbers of cells otherwise. CSC and dense h5ad matrices and MatrixMarket
#' files cannot be cut by cells without reading them, so every rank reads them
#' whole and keeps its share. \code{obs}, barcodes and feature names are read
#' by every rank (they are small next to the matrix).
#'
#' \describe{
#'   \item{\code{readH5AD}}{An AnnData file (anndata 0.8 layout and later): \code{X}
#'     stored as CSR, CSC or dense, of any integer or float type; \code{obs} and
#'     \code{var} data frames (numbers, logicals, strings, categoricals, nullable
#'     integers and booleans) become \code{colData} and \code{rowData}; named
#'     \code{layers} become further assays; the dense arrays of \code{obsm}
#'     become \code{reducedDims} (\code{X_pca} as \code{PCA}, \code{X_umap} as
#'     \code{UMAP}: the name without \code{X_}, in upper case). CSC matrices are
#'     transposed in host memory (whole); CSR and dense ones are streamed.}
#'   \item{\code{read10xH5}}{A Cell Ranger HDF5 file (v3 \code{matrix/} layout, or
#'     the v2 per-genome layout). Feature ids, names and types go to \code{rowData}.}
#'   \item{\code{read10xMtx}}{A Cell Ranger MatrixMarket folder, v2
#'     (\code{genes.tsv}) or v3 (\code{features.tsv}), gzipped or not.}
#' }
#'
#' @param path The file (or, for \code{read10xMtx}, the folder or the
#'   \code{matrix.mtx[.gz]} file).
#' @inheritParams toDevice
#' @param assay Name of the assay that receives the matrix (\code{X} for h5ad).
#' @param layers For \code{readH5AD}: names of h5ad layers to read as further assays.
#' @param reducedDims For \code{readH5AD}: which arrays of \code{obsm} to read
#'   as \code{reducedDims}: \code{TRUE} (default) every dense one (sparse or
#'   data-frame entries are left out with a message), \code{FALSE} none, or
#'   their names in the file (\code{"X_pca"}).
#' @param progress Show a progress bar: \code{NULL} (default) shows one when
#'   the file has more than one chunk and \code{getOption("cellshard.verbose")}
#'   is \code{TRUE} (by default: in interactive sessions).
#' @param device.memory The memory budget per device for this read (bytes, or
#'   a size such as \code{"8GB"}; \code{NULL}: what the device has, less
#'   headroom). Shards over it stay in pinned host memory or in the file and
#'   stream through the devices at each step; a message says how much and
#'   what a pass costs. See \link{out-of-core}.
#' @return A \code{SingleCellExperiment} (genes x cells) whose assays are
#'   \code{\linkS4class{CellshardMatrix}} objects.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce
#' @export
readH5AD <- function(path, devices = NULL, shards = NULL, assay = "counts", layers = NULL,
                     progress = NULL, device.memory = getOption("cellshard.device.memory"),
                     reducedDims = TRUE) {
    .withBudget(device.memory, .readH5AD(path, devices, shards, assay, layers, progress,
                                         reducedDims))
}

.readH5AD <- function(path, devices, shards, assay, layers, progress, reducedDims = TRUE) {
    path <- .checkPath(path)
    devs <- .resolveDevices(devices)
    sh <- .shardCount(shards, devs)
    info <- .deviceCall(cs_h5ad_info(path))
    if (assay %in% layers)
        stop(sprintf("readH5AD: the layer \"%s\" would replace the assay of X; choose another assay name (assay = \"X\")",
                     assay), call. = FALSE)
    missing_layers <- setdiff(layers, info$layers)
    if (length(missing_layers))
        stop(sprintf("readH5AD: %s has no layer %s (it has: %s)", path, missing_layers[1],
                     if (length(info$layers)) paste(info$layers, collapse = ", ") else "none"),
             call. = FALSE)
    obsm <- .obsmToRead(path, reducedDims)
    obs <- .frameToDataFrame(.deviceCall(cs_h5ad_read_frame(path, "obs")))
    var <- .frameToDataFrame(.deviceCall(cs_h5ad_read_frame(path, "var")))
    source <- list(format = "h5ad", path = path)
    elements <- c(stats::setNames("X", assay), stats::setNames(layers, layers))
    cl <- cs_cluster_state()
    share <- NULL  # the cells of X's share; the layers take the same
    mats <- lapply(elements, function(el) {
        r <- if (is.null(share))
            .deviceCall(cs_h5ad_open(path, devs, sh, el, part = cl$rank, parts = cl$size)) else
            .deviceCall(cs_h5ad_open(path, devs, sh, el, first = share$first, count = share$count))
        share <<- list(first = r$first_obs, count = r$n_obs)
        .runReader(r, progress, sprintf("reading %s of %s", el, basename(path)))
    })
    cells <- .shareRows(share, nrow(obs))
    .streamMessage(mats, "readH5AD")
    sce <- .assembleSce(mats, genes = rownames(var), cells = rownames(obs)[cells], rowData = var,
                        colData = obs[cells, , drop = FALSE], source = source)
    for (k in seq_along(obsm))
        reducedDim(sce, names(obsm)[k]) <- .deviceCall(cs_h5ad_read_obsm(
            path, obsm[[k]], nrow(obs), share$first, share$count))
    sce
}

# The obsm arrays to read, named by their reducedDim names ("X_pca" -> "PCA").
.obsmToRead <- function(path, reducedDims) {
    if (isFALSE(reducedDims) || (is.character(reducedDims) && !length(reducedDims)))
        return(character())
    listing <- .deviceCall(cs_h5ad_obsm_list(path))
    if (isTRUE(reducedDims)) {
        keys <- listing$dense
        if (length(listing$skipped))
            message("readH5AD: obsm entries not read as reducedDims (not dense arrays): ",
                    paste(listing$skipped, collapse = ", "))
    } else {
        if (!is.character(reducedDims) || anyNA(reducedDims) || anyDuplicated(reducedDims))
            stop("readH5AD: reducedDims must be TRUE, FALSE or distinct names of obsm entries",
                 call. = FALSE)
        bad <- setdiff(reducedDims, listing$dense)
        if (length(bad))
            stop(sprintf("readH5AD: %s has no dense obsm array %s (it has: %s)", path, bad[1],
                         if (length(listing$dense)) paste(listing$dense, collapse = ", ")
                         else "none"), call. = FALSE)
        keys <- reducedDims
    }
    dims <- ifelse(startsWith(keys, "X_") & nchar(keys) > 2, toupper(substring(keys, 3)), keys)
    clash <- dims %in% dims[duplicated(dims)]
    dims[clash] <- keys[clash]  # X_pca and X_PCA keep their own names
    stats::setNames(keys, dims)
}

#' @rdname readH5AD
#' @export
read10xH5 <- function(path, devices = NULL, shards = NULL, assay = "counts", progress = NULL,
                      device.memory = getOption("cellshard.device.memory")) {
    .withBudget(device.memory, {
        path <- .checkPath(path)
        devs <- .resolveDevices(devices)
        cl <- cs_cluster_state()
        r <- .deviceCall(cs_10x_h5_open(path, devs, .shardCount(shards, devs), part = cl$rank,
                                        parts = cl$size))
        .read10x(r, assay, progress, list(format = "tenx_h5", path = path), basename(path),
                 "read10xH5")
    })
}

#' @rdname readH5AD
#' @export
read10xMtx <- function(path, devices = NULL, shards = NULL, assay = "counts", progress = NULL,
                       device.memory = getOption("cellshard.device.memory")) {
    .withBudget(device.memory, {
        path <- .checkPath(path)
        devs <- .resolveDevices(devices)
        cl <- cs_cluster_state()
        r <- .deviceCall(cs_mtx_open(path, devs, .shardCount(shards, devs), part = cl$rank,
                                     parts = cl$size))
        .read10x(r, assay, progress, list(format = "tenx_mtx", path = path), basename(path),
                 "read10xMtx")
    })
}

.read10x <- function(r, assay, progress, source, label, who) {
    features <- S4Vectors::DataFrame(r$features, check.names = FALSE)
    handle <- .runReader(r, progress, paste("reading", label))
    .streamMessage(list(handle), who)
    barcodes <- if (length(r$barcodes))
        r$barcodes[.shareRows(list(first = r$first_obs, count = r$n_obs), length(r$barcodes))]
    .assembleSce(stats::setNames(list(handle), assay), genes = features[[1]],
                 cells = barcodes, rowData = features,
                 colData = S4Vectors::DataFrame(row.names = barcodes), source = source)
}

# Positions (1-based) of a reader's share among the file's n cells.
.shareRows <- function(share, n) {
    if (share$first == 0 && share$count == n) seq_len(n) else share$first + seq_len(share$count)
}

.checkPath <- function(path) {
    if (!is.character(path) || length(path) != 1L || is.na(path))
        stop("path must be a single file name", call. = FALSE)
    if (!file.exists(path)) stop("file not found: ", path, call. = FALSE)
    normalizePath(path)
}

# The readers place shards themselves: only the count matters here.
.shardCount <- function(shards, devs) {
    sh <- .resolveShards(shards, devs)
    if (length(sh$cells)) stop("readers take a number of shards, not shard sizes", call. = FALSE)
    sh$n
}

# Steps a C++ reader to the end, with a progress bar; frees what was read if
# the user interrupts or an error occurs.
.runReader <- function(r, progress, label) {
    reader <- r$reader
    on.exit(cs_reader_close(reader))
    if (is.null(progress)) progress <- .verbose() && r$chunks > 1
    # cli shows the bar once the read has taken 2 s, and closes it on exit.
    if (isTRUE(progress))
        cli::cli_progress_bar(name = label, total = max(1, r$chunks), clear = FALSE,
                              format_done = "{cli::pb_name}done in {cli::pb_elapsed}")
    done <- 0
    while (done < r$chunks) {
        done <- .deviceCall(cs_reader_step(reader, 1L))
        if (isTRUE(progress)) cli::cli_progress_update(set = done)
    }
    .deviceCall(cs_reader_finish(reader))
}

.frameToDataFrame <- function(frame) {
    cols <- frame$columns
    df <- if (length(cols)) S4Vectors::DataFrame(cols, check.names = FALSE) else
        S4Vectors::DataFrame(matrix(nrow = length(frame$index), ncol = 0))
    rownames(df) <- frame$index
    if (length(frame$skipped))
        warning("columns not read (unsupported encodings): ", paste(frame$skipped, collapse = ", "),
                call. = FALSE)
    df
}

.assembleSce <- function(handles, genes, cells, rowData, colData, source) {
    if (!is.null(cells)) {
        cells <- .cellNames(cells)  # the same values: one object for colData and the assays
        rownames(colData) <- cells
    }
    assays <- lapply(handles, function(h) .wrapSeed(.newSeed(h, genes, cells, source)))
    SingleCellExperiment::SingleCellExperiment(assays = assays, rowData = rowData,
                                               colData = colData)
}

#' Write a SingleCellExperiment as an h5ad file
#'
#' Writes one assay as \code{X} (CSR, float32) and others as \code{layers},
#' \code{colData} as \code{obs}, \code{rowData} as \code{var} and the
#' \code{reducedDims} as \code{obsm}, in the layout anndata 0.8 and later
#' read, so that scanpy can take over where cellshard stopped (for instance
#' \code{sc.pp.neighbors} and \code{sc.tl.umap} on the PCA). Device-backed
#' assays come to the host one shard at a time; host assays are accepted too.
#'
#' @param sce A \code{SingleCellExperiment} (or \code{SummarizedExperiment}).
#' @param path The file to write.
#' @param assay The assay written as \code{X}.
#' @param layers Names of further assays to write under \code{layers/}.
#' @param overwrite Replace an existing file.
#' @param compression gzip level for the matrix arrays (0, the default, for none).
#'   The chunks are compressed on all host threads (\code{CELLSHARD_THREADS}
#'   sets how many), as HDF5's own filter would compress them.
#' @param reducedDims Names of the \code{reducedDims} to write (by default all;
#'   \code{character()} for none). Each is written as \code{obsm/X_<name in
#'   lower case>} (\code{PCA} as \code{X_pca}, \code{UMAP} as \code{X_umap}),
#'   the names scanpy uses.
#' @return \code{path}, invisibly.
#' @details Columns of \code{colData} and \code{rowData} that are numeric,
#'   integer, logical, character or factor are written; any other column is
#'   left out with a warning. In an MPI job each rank writes the cells it
#'   holds: give each rank its own \code{path}, or write on one rank what
#'   \code{\link{gatherCells}} brought there.
#'
#'   A reduced dimension is written as a dense cells x components float64
#'   array (anndata's \code{"array"} encoding); it must be numeric, without
#'   \code{NA} or \code{NaN}, with one row per cell. The one written as
#'   \code{X_pca} comes with what scanpy's \code{sc.tl.pca} stores beside it:
#'   \code{varm/PCs} (genes x components) from its \code{"rotation"}
#'   attribute (\code{\link{computePCA}} and scater's \code{runPCA} set it),
#'   and \code{uns/pca/variance} and \code{uns/pca/variance_ratio} from
#'   \code{metadata(sce)$PCA} (set by \code{\link{computePCA}}). The rotation's
#'   rows are matched to the genes by name; genes the PCA did not use (a
#'   rotation over a subset of the genes, such as the highly variable ones)
#'   get rows of zeros, as scanpy fills them when its PCA uses a subset. A
#'   rotation whose row names are not all among \code{rownames(sce)}, or
#'   whose columns are not the components, is not written (with a warning).
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' f <- tempfile(fileext = ".h5ad")
#' writeH5AD(sce, f)
#' dim(readH5AD(f, devices = "cpu"))
#'
#' # After the pipeline: the PCA goes to obsm/X_pca, varm/PCs and uns/pca
#' out <- runSeedPipeline(sce, min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 10)
#' writeH5AD(out, f, overwrite = TRUE)
#' # in Python: anndata.read_h5ad(f).obsm["X_pca"]; here, back as reducedDim "PCA":
#' reducedDimNames(readH5AD(f, devices = "cpu"))
#' @export
writeH5AD <- function(sce, path, assay = "counts", layers = character(), overwrite = FALSE,
                      compression = 0L, reducedDims = reducedDimNames(sce)) {
    if (!is(sce, "SummarizedExperiment")) stop("sce must be a SingleCellExperiment", call. = FALSE)
    if (missing(reducedDims) && !is(sce, "SingleCellExperiment")) reducedDims <- character()
    if (file.exists(path) && !overwrite)
        stop("writeH5AD: ", path, " exists; use overwrite = TRUE to replace it", call. = FALSE)
    arrays <- .reducedDimArrays(sce, reducedDims)
    handleOf <- function(a) {
        m <- assay(sce, a, withDimnames = FALSE)
        # a scaled matrix with a background is written as the dense values it reads as
        if (.isDeviceMatrix(m) && length(m@seed@background)) m <- as.matrix(m)
        if (!.isDeviceMatrix(m)) m <- toDevice(m, devices = "cpu")
        if (m@seed@transposed) m <- toDevice(as(m, "dgCMatrix"), devices = "cpu")
        m@seed@handle
    }
    obs <- .dataFrameToFrame(colData(sce), colnames(sce), ncol(sce), "colData")
    var <- .dataFrameToFrame(rowData(sce), rownames(sce), nrow(sce), "rowData")
    layer_handles <- stats::setNames(lapply(layers, handleOf), layers)
    .deviceCall(cs_write_h5ad(path.expand(path), handleOf(assay), obs, var, layer_handles,
                              as.integer(compression), arrays$obsm, arrays$varm, arrays$uns))
    invisible(path)
}

# The reducedDims as anndata arrays: list(obsm, varm, uns) of named double
# arrays (uns named by path, "pca/variance"); see writeH5AD's details.
.reducedDimArrays <- function(sce, reducedDims) {
    out <- list(obsm = list(), varm = list(), uns = list())
    if (!length(reducedDims)) return(out)
    if (!is(sce, "SingleCellExperiment"))
        stop("writeH5AD: reducedDims need a SingleCellExperiment", call. = FALSE)
    if (!is.character(reducedDims) || anyNA(reducedDims) || anyDuplicated(reducedDims))
        stop("writeH5AD: reducedDims must be distinct names of reducedDims", call. = FALSE)
    missing_dims <- setdiff(reducedDims, reducedDimNames(sce))
    if (length(missing_dims))
        stop(sprintf("writeH5AD: sce has no reducedDim \"%s\" (it has: %s)", missing_dims[1],
                     if (length(reducedDimNames(sce))) paste(reducedDimNames(sce), collapse = ", ")
                     else "none"), call. = FALSE)
    keys <- paste0("X_", tolower(reducedDims))
    if (anyDuplicated(keys)) {
        dup <- reducedDims[keys == keys[anyDuplicated(keys)]]
        stop(sprintf("writeH5AD: reducedDims %s would all be written as obsm/%s",
                     paste0("\"", dup, "\"", collapse = " and "), keys[anyDuplicated(keys)]),
             call. = FALSE)
    }
    if (any(grepl("/", reducedDims, fixed = TRUE)))
        stop("writeH5AD: reducedDim names must not contain '/' (\"",
             grep("/", reducedDims, fixed = TRUE, value = TRUE)[1], "\")", call. = FALSE)
    for (k in seq_along(reducedDims)) {
        name <- reducedDims[k]
        m <- .numericMatrix(reducedDim(sce, name, withDimnames = FALSE),
                            sprintf("reducedDim \"%s\"", name))
        if (nrow(m) != ncol(sce))
            stop(sprintf("writeH5AD: reducedDim \"%s\" has %d rows but sce has %d cells", name,
                         nrow(m), ncol(sce)), call. = FALSE)
        out$obsm[[keys[k]]] <- m
        if (keys[k] == "X_pca") {
            pcs <- .pcaLoadings(sce, attr(m, "rotation"), ncol(m), name)
            if (!is.null(pcs)) out$varm$PCs <- pcs
            md <- S4Vectors::metadata(sce)[[name]]
            for (what in c("variance", "variance_ratio")) {
                v <- if (is.list(md)) md[[what]]
                if (is.numeric(v) && is.null(dim(v)) && length(v) == ncol(m) && !anyNA(v))
                    out$uns[[paste0("pca/", what)]] <- as.double(v)
            }
        }
    }
    out
}

# A numeric matrix of doubles without NA (reading an ALTREP matrix of device
# scores into memory here, where a failure is an R error), or a clear error.
.numericMatrix <- function(m, what) {
    if (!is.matrix(m) && length(dim(m)) == 2L)
        m <- tryCatch(as.matrix(m), error = function(e) NULL)
    if (!is.matrix(m) || !is.numeric(m))
        stop(sprintf("writeH5AD: %s must be a numeric matrix (it is %s)", what,
                     paste(class(m), collapse = "/")), call. = FALSE)
    if (anyNA(m)) stop(sprintf("writeH5AD: %s contains NA or NaN", what), call. = FALSE)
    if (!is.double(m)) storage.mode(m) <- "double"
    m
}

# varm/PCs: genes (rownames(sce)) x components from a PCA's rotation, zero
# for the genes it did not use; NULL with a warning when it does not fit.
.pcaLoadings <- function(sce, rotation, k, name) {
    if (is.null(rotation)) return(NULL)
    skip <- function(why) {
        warning(sprintf("writeH5AD: varm/PCs not written: the rotation of reducedDim \"%s\" %s",
                        name, why), call. = FALSE)
        NULL
    }
    rotation <- .numericMatrix(rotation, sprintf("the rotation of reducedDim \"%s\"", name))
    if (ncol(rotation) != k) return(skip(sprintf("has %d columns for %d components",
                                                 ncol(rotation), k)))
    genes <- rownames(sce)
    if (is.null(rownames(rotation)) || is.null(genes) || anyDuplicated(genes))
        return(skip("and the genes need distinct names to be matched"))
    at <- match(rownames(rotation), genes)
    if (anyNA(at) || anyDuplicated(at))
        return(skip(sprintf("has genes that are not (once) in sce (\"%s\")",
                            rownames(rotation)[which(is.na(at) | duplicated(at))[1]])))
    pcs <- matrix(0, length(genes), k)
    pcs[at, ] <- rotation
    pcs
}

.dataFrameToFrame <- function(df, names, n, what) {
    index <- if (is.null(names)) as.character(seq_len(n) - 1L) else as.character(names)
    keep <- vapply(as.list(df), function(col)
        is.null(dim(col)) && (is.atomic(col) || is.factor(col)) && !is.complex(col), logical(1))
    if (any(!keep))
        warning(what, " columns not written (not a plain vector or factor): ",
                paste(names(df)[!keep], collapse = ", "), call. = FALSE)
    list(index = index, columns = as.list(df)[keep])
}
