#' Generate a synthetic single-cell atlas straight onto the devices
#'
#' Draws the synthetic count matrix used for cellshard's benchmarks (the
#' package's \code{SYNTHETIC.md}): cells of \code{n.types} types with
#' log-normal library sizes, multinomial counts over genes with log-normal
#' abundances, 13 mitochondrial genes, a damaged 2\% of cells and a tenth of
#' the genes nearly never detected. The counts are drawn where they are stored:
#' on the GPUs by a kernel, so that an atlas share of 1.4 million cells (2.9e9
#' non-zeros) never passes through host memory; or on the host by the CPU
#' backend (100,000 cells take about 12 s on 2 cores). The matrix is the same, bit for bit, for a given
#' seed on either backend and for any devices and sharding.
#'
#' @section The model:
#' All random numbers come from one counter-based generator (Philox4x32-10)
#' keyed by \code{seed}.
#' \itemize{
#'   \item Genes: base log-abundance \eqn{a_g = \sigma z_g} with \eqn{z_g} standard
#'     normal. Each type perturbs a random 5\% of the genes by Normal(0, 1.5) on the
#'     log scale; its probabilities are the softmax over the genes.
#'   \item Mitochondrial genes (13, named \code{MT-ND1} ... \code{MT-CYB}, at fixed
#'     positions spread over the genes) hold 3\% of each type's UMIs together, and
#'     17.5\% in damaged cells (2\% of the cells, chosen at random).
#'   \item Silent genes: a random 10\% of the genes get a probability of 1e-10
#'     each, so that a million-cell atlas detects each of them in about one cell:
#'     the share of genes a \code{min.cells = 10} filter removes.
#'   \item Cells: type uniform over the types; library size
#'     \eqn{L_c} = round(LogNormal(log(5000), 0.6)) clipped to [300, 60000]; counts
#'     Multinomial(\eqn{L_c}, \eqn{p_{type(c)}}), drawn as \eqn{L_c} categorical
#'     draws from Walker alias tables.
#'   \item \eqn{\sigma} is found by bisection so that the expected number of
#'     detected genes per cell, \eqn{\sum_g 1 - (1 - p_g)^L} averaged over the
#'     types and a fixed 16-point quadrature of library sizes, is 2,000 for
#'     45,854 genes. With fewer genes the target shrinks in proportion
#'     (\code{2000 * n.genes / 45854}); with more it stays at 2,000 (a cell cannot
#'     detect more genes than it has UMIs). \eqn{\sigma} stays within [0, 4]: with
#'     very few genes the target cannot be reached and the most spread is used.
#'     The tuning takes a second or two for 45,854 genes; the last model is kept
#'     for the next call with the same \code{n.genes}, \code{n.types} and \code{seed}.
#' }
#'
#' @param n.cells Number of cells.
#' @param n.genes Number of genes, at least 14 (13 are mitochondrial). On a GPU
#'   the genes must fit in shared memory: about 108,000 on an H100 (an error
#'   says so otherwise; the CPU backend has no such limit).
#' @param seed Random seed (a whole number); the same seed gives the same matrix.
#' @param n.types Number of cell types (1 to 1000).
#' @inheritParams toDevice
#' @param shards Number of shards (default one per device), of near-equal
#'   numbers of cells; or a vector giving the number of cells of each shard.
#' @param verbose Print one line with the achieved statistics and the time.
#' @param device.memory The memory budget per device (bytes, or a size such as
#'   \code{"8GB"}; \code{NULL}: what the device has, less headroom). Shards
#'   over it are drawn on the device and moved to pinned host memory, and
#'   stream through the devices at each step (\link{out-of-core}); a message
#'   says so.
#' @details In an MPI job (\code{\link{cellshardInit}}) \code{n.cells} is
#'   the size of the whole atlas and each rank draws only its own contiguous
#'   share of the cells (equal numbers, in rank order), the same bits as the
#'   same cells of a single-process atlas; \code{shards} then counts the
#'   rank's shards. The statistics in the metadata are of the whole atlas.
#' @return A \code{SingleCellExperiment} (genes x cells) with
#'   \itemize{
#'     \item assay \code{counts}: a device-backed
#'       \code{\linkS4class{CellshardMatrix}} of whole-number counts;
#'     \item \code{colData}: \code{cell_type} (factor), \code{damaged} (logical),
#'       \code{library_size} (the drawn \eqn{L_c}, which each cell's counts add up to);
#'     \item row names \code{GENE00001}, ... with the 13 mitochondrial genes among
#'       them, column names \code{CELL0000001}, ...;
#'     \item \code{metadata(sce)$synthetic}: the parameters (\code{seed},
#'       \code{n.types}, \code{sigma} and the model's other constants, the
#'       detection target and its analytic expectation) and the achieved
#'       statistics (\code{cells}, \code{genes}, \code{nnz},
#'       \code{mean.detected}: mean detected genes per cell).
#'   }
#' @examples
#' sce <- simulateAtlas(2000, seed = 1, devices = "cpu")
#' sce
#' metadata(sce)$synthetic$mean.detected
#' table(sce$damaged)
#' @export
simulateAtlas <- function(n.cells, n.genes = 45854L, seed = 1L, n.types = 24L, devices = NULL,
                          shards = NULL, verbose = getOption("cellshard.verbose", interactive()),
                          device.memory = getOption("cellshard.device.memory")) {
    .withBudget(device.memory, .simulateAtlas(n.cells, n.genes, seed, n.types, devices, shards,
                                              verbose))
}

.simulateAtlas <- function(n.cells, n.genes, seed, n.types, devices, shards, verbose) {
    n.cells <- .wholeNumber(n.cells, "n.cells", 1, .Machine$integer.max)
    n.genes <- .wholeNumber(n.genes, "n.genes", 14, .Machine$integer.max,
                            why = " (13 of them are mitochondrial)")
    seed <- .wholeNumber(seed, "seed", -2^53, 2^53)
    n.types <- .wholeNumber(n.types, "n.types", 1, 1000)
    devs <- .resolveDevices(devices)
    sh <- .resolveShards(shards, devs)
    cl <- cs_cluster_state()
    share <- .evenShare(n.cells, cl$rank, cl$size)  # all cells without MPI
    if (share$count < 1)
        stop(sprintf("simulateAtlas(): %s cells cannot give each of the %d MPI ranks one",
                     .plain(n.cells), cl$size), call. = FALSE)
    if (cl$size > 1 && length(sh$cells))
        stop("simulateAtlas(): in an MPI job, shards must be a number of shards per rank",
             call. = FALSE)
    started <- proc.time()[["elapsed"]]
    res <- .deviceCall(cs_simulate_atlas(share$count, n.genes, seed, as.integer(n.types), devs, sh$n,
                                         sh$cells, share$first,
                                         .progressReporter("simulateAtlas", verbose)))
    seconds <- proc.time()[["elapsed"]] - started
    res$nnz <- .clusterSum(res$nnz, "counting the atlas's non-zeros")

    genes <- .numberedNames("GENE", n.genes, 5L)
    genes[res$mt_genes] <- .mitochondrialGenes
    cells <- .numberedNames("CELL", n.cells, 7L)
    if (share$count < n.cells) cells <- cells[share$first + seq_len(share$count)]
    cells <- .cellNames(cells)  # one object for colData and the assay
    type_names <- .numberedNames("type", n.types, 2L)
    call <- sprintf("simulateAtlas(%s, n.genes = %s, seed = %s, n.types = %s)",
                    .plain(n.cells), .plain(n.genes), .plain(seed), .plain(n.types))
    .streamMessage(list(res$handle), "simulateAtlas")
    counts <- .wrapSeed(.newSeed(res$handle, genes, cells, list(format = "synthetic", call = call)))
    # factor(type_names[res$type], levels = type_names), without its 1.43M strings
    colData <- S4Vectors::DataFrame(cell_type = structure(res$type, levels = type_names, class = "factor"),
                                    damaged = res$damaged, library_size = res$library,
                                    row.names = cells)
    sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = counts),
                                                      colData = colData)
    model <- res$model
    stats <- list(cells = n.cells, genes = n.genes, nnz = res$nnz, mean.detected = res$nnz / n.cells)
    metadata(sce)$synthetic <- c(
        list(seed = seed, n.types = n.types, sigma = model$sigma,
             target.detected = model$target_detected, expected.detected = model$expected_detected,
             perturbed.fraction = model$perturbed_fraction, perturbation.sd = model$perturbation_sd,
             silent.fraction = model$silent_fraction, silent.probability = model$silent_probability,
             mt.fraction = model$mt_fraction, damaged.mt.fraction = model$damaged_mt_fraction,
             damaged.fraction = model$damaged_fraction, mt.sd = model$mt_sd,
             library.median = model$library_median, library.sdlog = model$library_sdlog,
             library.range = model$library_range, mt.genes = .mitochondrialGenes),
        stats)
    if (isTRUE(verbose))
        message(sprintf("simulateAtlas: %s cells x %s genes, %s non-zeros, %.1f detected genes per cell (sigma %.4f, seed %s), %.1f s",
                        .withCommas(n.cells), .withCommas(n.genes), .withCommas(res$nnz),
                        stats$mean.detected, model$sigma, .plain(seed), seconds))
    sce
}

# The 13 mitochondrial protein-coding genes, in their order on chrM.
.mitochondrialGenes <- c("MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3",
                         "MT-ND3", "MT-ND4L", "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB")

# prefix00001, ...: numbers zero-padded to at least `width` digits.
.numberedNames <- function(prefix, n, width) {
    sprintf("%s%0*d", prefix, max(width, nchar(.plain(n))), seq_len(n))
}

.plain <- function(x) format(x, scientific = FALSE, trim = TRUE)
.withCommas <- function(x) format(x, big.mark = ",", scientific = FALSE, trim = TRUE)

# A single whole number in [min, max], as a double (counts beyond 2^31 fit).
.wholeNumber <- function(x, name, min, max, why = "") {
    if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x != round(x))
        stop(sprintf("%s must be a single whole number, not %s", name,
                     if (length(x) == 1L && !is.list(x)) format(x) else paste("an object of length", length(x))),
             call. = FALSE)
    if (x < min || x > max)
        stop(sprintf("%s must lie in %s..%s%s; got %s", name, .plain(min), .plain(max), why,
                     .plain(x)),
             call. = FALSE)
    as.numeric(x)
}
