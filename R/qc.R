#' Quality-control metrics per cell and per gene
#'
#' Computes, on the devices, the metrics of scanpy's \code{calculate_qc_metrics}
#' and stores them where Bioconductor users look: per-cell columns in
#' \code{colData}, per-gene columns in \code{rowData}. Filtering is then ordinary
#' subsetting, which stays on the devices:
#' \code{sce[, sce$n_genes_by_counts >= 200]}.
#'
#' @param sce A \code{SingleCellExperiment} with a device-backed assay.
#' @param subsets A named list of gene sets (logical vectors, positions, or gene
#'   names), e.g. \code{list(mt = grepl("^MT-", rownames(sce)))}. At most 32.
#' @param percent.top Sizes of top-gene sets for
#'   \code{pct_counts_in_top_N_genes}, e.g. \code{c(50, 100, 200, 500)}.
#' @param assay.type The assay to use.
#' @return \code{sce} with these columns added:
#'   \describe{
#'     \item{colData}{\code{n_genes_by_counts} (values > 0; stored zeros do not
#'       count), \code{total_counts}, \code{log1p_n_genes_by_counts},
#'       \code{log1p_total_counts}; per subset S: \code{total_counts_S},
#'       \code{pct_counts_S}, \code{log1p_total_counts_S}; per N of
#'       \code{percent.top}: \code{pct_counts_in_top_N_genes}.}
#'     \item{rowData}{\code{n_cells_by_counts}, \code{total_counts},
#'       \code{mean_counts}, \code{pct_dropout_by_counts},
#'       \code{log1p_total_counts}, \code{log1p_mean_counts}.}
#'   }
#' @details Negative values are refused with an error. A subset that selects
#'   no gene gives zero counts and a warning.
#'   Cells with no counts get \code{NaN} percentages, as in scanpy.
#'   The per-cell columns are ordinary R vectors whose values are kept in
#'   cellshard's own memory rather than R's heap (ALTREP), so that millions of
#'   cells do not set off R's garbage collector; subsets and copies of them
#'   stay there too, and \code{saveRDS} writes their values.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' sce <- qcMetrics(sce, percent.top = 50)
#' summary(sce$total_counts)
#' @export
qcMetrics <- function(sce, subsets = NULL, percent.top = integer(0), assay.type = "counts") {
    m <- .deviceAssay(sce, assay.type, "qcMetrics")
    bits <- numeric(nrow(sce))
    if (length(subsets)) {
        if (is.null(names(subsets)) || any(!nzchar(names(subsets))))
            stop("qcMetrics(): subsets must be a named list", call. = FALSE)
        if (length(subsets) > 32L) stop("qcMetrics(): at most 32 gene subsets", call. = FALSE)
        for (k in seq_along(subsets)) {
            sel <- .geneSelection(subsets[[k]], sce, paste0("qcMetrics(): subset ", names(subsets)[k]))
            if (!any(sel)) warning(sprintf("qcMetrics(): subset \"%s\" selects no gene", names(subsets)[k]),
                                   call. = FALSE)
            bits <- bits + sel * 2^(k - 1)
        }
    }
    # every per-cell column comes from C++ memory, outside R's heap; the
    # per-gene totals come from the same pass over the values
    cells <- .seedCall(m@seed, cs_cell_qc, bits, length(subsets), TRUE)
    .refuseNegative(m, "qcMetrics", assay.type, cells$n_positive)
    genes <- cells$genes
    cd <- colData(sce)
    names(cells$columns) <- c("n_genes_by_counts", "total_counts", "log1p_n_genes_by_counts",
                              "log1p_total_counts",
                              unlist(lapply(names(subsets), function(s)
                                  paste0(c("total_counts_", "pct_counts_", "log1p_total_counts_"), s))))
    columns <- cells$columns
    total <- columns$total_counts
    if (length(percent.top)) {
        ns <- sort(as.integer(percent.top))
        if (anyNA(ns) || any(ns < 1)) stop("qcMetrics(): percent.top must be positive", call. = FALSE)
        top <- .seedCall(m@seed, cs_top_sums, ns)
        for (j in seq_along(ns)) columns[[sprintf("pct_counts_in_top_%d_genes", ns[j])]] <- 100 * top[, j] / total
    }
    colData(sce) <- .withColumns(cd, columns)

    n_cells <- .nCells(sce)  # every rank's cells in an MPI job
    rowData(sce) <- .withColumns(rowData(sce), list(
        n_cells_by_counts = as.integer(genes$n_positive),
        total_counts = genes$sum,
        mean_counts = genes$sum / n_cells,
        pct_dropout_by_counts = 100 * (1 - genes$n_positive / n_cells),
        log1p_total_counts = log1p(genes$sum),
        log1p_mean_counts = log1p(genes$sum / n_cells)))
    sce
}
