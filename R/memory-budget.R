#' Out of core: atlases larger than the devices' memory
#'
#' Each device has a memory budget. Data over it is not refused: the shards
#' that do not fit stay off the device, in page-locked (pinned) host memory,
#' or, when host memory is short too (and always on the CPU backend), in the
#' source h5ad or 10x HDF5 file, and every step passes them through the
#' device shard by shard. The verbs and their results do not change; only the
#' time does, bound by the host-to-device link (or the file).
#'
#' \itemize{
#'   \item The budget: \code{options(cellshard.device.memory = "8GB")} (per
#'     device), or the readers' and \code{simulateAtlas}'s argument
#'     \code{device.memory}. Sizes are numbers of bytes or strings such as
#'     \code{"8GB"}, \code{"500 MB"} (powers of 1000) or \code{"8GiB"}
#'     (powers of 1024). By default (\code{NULL}): what each GPU has, less a
#'     tenth (at least 1 GiB); on the CPU backend, the machine's memory less
#'     a tenth.
#'   \item When data is read or drawn, shards stay on their device while a
#'     quarter of the budget is left for staging; the others go to pinned
#'     host memory (or stay in their file). Data that must stream is cut into
#'     shards of about a sixteenth of the budget, whatever \code{shards} says.
#'     New data the verbs make (a filtered copy, \code{logcounts}, ...) goes
#'     where its input was, and off the device once the budget is used up.
#'     \code{computePCA}'s Gram matrix takes its working buffers (up to
#'     2 GiB) from what the budget leaves, in smaller pieces when little is
#'     left.
#'   \item Each pass over a streamed shard copies it in on a stream of its own
#'     while the previous shard is computed, through two staging buffers per
#'     device, so the link and the kernels work at the same time. New data
#'     that goes back to host memory is copied out on a third stream, beside
#'     both. Several GPUs each stream their own shards; in an MPI job each
#'     rank streams its own share.
#'   \item Steps make as few passes as they can: \code{qcMetrics} makes one
#'     (cells and genes together); per-cell totals copy in only row pointers
#'     and values; and a normalisation, log or scaling of streamed shards
#'     with stored values (\code{normalizeTotal}, \code{log1pTransform},
#'     \code{scaleGenes}) makes none: those shards' new values are
#'     \code{"computed"} (see
#'     \code{\link{deviceLayout}}), on the device, each time a later step
#'     reads them, from the values they came from (which they keep alive,
#'     even once their own assay is dropped), so they take no host memory
#'     and no copies of their own. An assay whose shards are all computed
#'     stays computed through a subset or \code{rebalance} of the whole
#'     object (from the same subset of the assay it came from).
#'   \item Likewise a subset (\code{sce[genes, cells]}) of streamed shards,
#'     or one whose result has no room left on the device, is not copied:
#'     its shards are \code{"computed"} too, keeping only their row pointers
#'     (one number per cell, counted by one pass over the source, or none
#'     when every gene stays), and each later step gathers them on the device
#'     from the shards they came from (which they keep alive) as it reads
#'     them. A filter of cells and genes also counts its cells' totals in
#'     that pass, so the \code{normalizeTotal} that follows it makes none. A \code{rebalance} of such
#'     an assay, as of the ones above, is made in one pass that stages the
#'     shards it comes from and copies them on the device straight into the
#'     new shards (on the device while the budget has room, else in pinned
#'     host memory).
#'   \item The readers say, with a message, how much of the data will stream
#'     and roughly what each pass over it costs. \code{\link{deviceLayout}}
#'     shows where each shard is (\code{home}), \code{\link{plotDeviceLayout}}
#'     draws it, and \code{\link{deviceMemory}} gives the budget and what
#'     cellshard holds.
#' }
#' Results are the same numbers as with everything on the devices.
#'
#' @name out-of-core
#' @aliases cellshard.device.memory
#' @examples
#' path <- system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")
#' # a tiny budget: most shards stay in the file and stream through each step
#' sce <- read10xH5(path, devices = "cpu", device.memory = "40KB")
#' table(deviceLayout(counts(sce))$home)
#' out <- runSeedPipeline(sce, min.genes = 5, max.genes = 50, min.cells = 3, n.top = 100,
#'                        ncomponents = 10)
#' ref <- runSeedPipeline(read10xH5(path, devices = "cpu"), min.genes = 5, max.genes = 50,
#'                        min.cells = 3, n.top = 100, ncomponents = 10)
#' all.equal(reducedDim(out, "PCA"), reducedDim(ref, "PCA"))
NULL

# A size in bytes from NULL (0: the default budget), a number, or a string
# such as "8GB" or "8 GiB".
.parseBytes <- function(x, what = "device.memory") {
    if (is.null(x)) return(0)
    bad <- function() stop(sprintf(paste0("%s must be NULL, a number of bytes or a size such as ",
                                          "\"8GB\" or \"512 MiB\"; got %s"), what,
                                   paste(format(x), collapse = " ")), call. = FALSE)
    if (length(x) != 1L || is.na(x)) bad()
    if (is.numeric(x)) {
        if (!is.finite(x) || x <= 0) bad()
        return(as.numeric(x))
    }
    if (!is.character(x)) bad()
    m <- regmatches(x, regexec("^\\s*([0-9]*\\.?[0-9]+([eE][0-9]+)?)\\s*([KMGT]?i?B?)\\s*$", x,
                               ignore.case = TRUE))[[1]]
    if (!length(m)) bad()
    unit <- toupper(m[4])
    power <- match(substr(unit, 1, 1), c("K", "M", "G", "T"))
    base <- if (grepl("I", unit)) 1024 else 1000
    value <- as.numeric(m[2]) * if (is.na(power)) 1 else base^power
    if (!is.finite(value) || value <= 0) bad()
    value
}

# Hands the budget of options(cellshard.device.memory) to C++ (every device
# call does, so a change of the option applies to the next step).
.applyBudget <- function() {
    cs_set_memory_budget(.parseBytes(getOption("cellshard.device.memory"),
                                     "options(cellshard.device.memory)"))
}

# Runs `expr` with the given budget (a reader's or simulateAtlas's argument).
.withBudget <- function(device.memory, expr) {
    .parseBytes(device.memory)  # checked before anything is read
    # Shards of objects R no longer references count against the budget until
    # R collects them: collect first, so that only live data decides what
    # stays on the devices (a CPU test placed nothing there after others ran).
    if (!is.null(device.memory)) invisible(gc(verbose = FALSE))
    old <- options(cellshard.device.memory = device.memory)
    on.exit(options(old))
    expr
}

# The message a reader prints when part of what it read will stream: how much
# is off the devices, where, and what a pass over it roughly costs.
.streamMessage <- function(handles, who) {
    lays <- lapply(handles, function(h) cs_matrix_layout(h))
    pinned <- sum(vapply(lays, `[[`, numeric(1), "bytes_pinned"))
    file <- sum(vapply(lays, `[[`, numeric(1), "bytes_file"))
    device <- sum(vapply(lays, `[[`, numeric(1), "bytes_device"))
    if (pinned + file == 0) return(invisible())
    devs <- unique(unlist(lapply(lays, `[[`, "shard_device")))
    info <- cs_budget_info(devs)
    where <- if (all(devs == .CPU)) "host memory (CPU backend)" else
        sprintf("GPU%s %s", if (length(devs) > 1) "s" else "", paste(devs, collapse = ", "))
    parts <- c(if (pinned > 0) sprintf("%s in pinned host memory", .bytesText(pinned)),
               if (file > 0) sprintf("%s in the file", .bytesText(file)))
    n_streamed <- sum(vapply(lays, function(l) sum(l$shard_home != "device"), numeric(1)))
    cost <- ""
    gpus <- devs[devs != .CPU]
    if (pinned > 0 && length(gpus)) {
        bw <- sum(vapply(gpus, function(d) .deviceCall(cs_upload_bandwidth(d)), numeric(1)))
        if (bw > 0)
            cost <- sprintf("; a pass over it copies it to the GPU%s in about %.2g s (%.1f GB/s measured)",
                            if (length(gpus) > 1) "s" else "", pinned / bw, bw / 1e9)
    }
    if (file > 0) cost <- paste0(cost, "; a pass reads its share of the file again")
    message(sprintf(paste0("%s: %s is over the memory budget (%s per device, %s): %s stays on ",
                           "the device%s, %s; each step streams %d shard%s through the device%s"),
                    who, .bytesText(device + pinned + file), .bytesText(info$budget[1]), where,
                    .bytesText(device), if (length(devs) > 1) "s" else "",
                    paste(parts, collapse = " and "), n_streamed, if (n_streamed == 1) "" else "s",
                    cost))
}

.bytesText <- function(b) {
    units <- c("bytes", "kB", "MB", "GB", "TB")
    k <- if (b < 1000) 1 else min(5, floor(log(b, 1000)) + 1)
    if (k == 1) sprintf("%.0f bytes", b) else sprintf("%.1f %s", b / 1000^(k - 1), units[k])
}
